"""Copying a project at a release and updating it with Copier, as a user does."""

from pathlib import Path

import copier

from .releases import git


def copy_at(repo: Path, version: str, answers: dict, dest: Path) -> Path:
    """`copier copy --trust` at `version`: with its tasks, as a user copies (uv.lock included)."""
    copier.run_copy(
        str(repo),
        str(dest),
        data=answers,
        vcs_ref=version,
        defaults=True,
        quiet=True,
        unsafe=True,
    )
    return dest


def commit_all(project: Path, message: str) -> None:
    if not (project / ".git").exists():
        git("init", "--quiet", "--initial-branch", "main", cwd=project)
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--no-verify", "-m", message, cwd=project)


def update(project: Path, **options) -> None:
    copier.run_update(
        str(project),
        defaults=True,
        overwrite=True,
        quiet=True,
        unsafe=True,  # the same as --trust: migrations run commands
        conflict="inline",
        **options,
    )
