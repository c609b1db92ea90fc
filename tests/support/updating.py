"""Copying a project at a release and updating it with Copier, as a user does."""

import dataclasses
from pathlib import Path

import copier
import yaml

from .matrix import Combination, flower_refusal
from .releases import REPO, git, releases


def earlier_releases() -> list[str]:
    """Every release before the one under work, newest first: each must update to it."""
    return [r.version for r in releases() if r.commit]


def release_answers(repo: Path, version: str, combo: Combination) -> dict:
    """The combination's answers as `version` asked them: before 0.2.0, `deploy` was one value
    (compose, kubernetes, both or none) instead of the `deploy_targets` list."""
    answers = combo.answers()
    if "deploy_targets" not in _questions(repo, version):
        del answers["deploy_targets"]
        answers["deploy"] = combo.deploy
    return answers


def after_update(repo: Path, version: str, combo: Combination) -> Combination:
    """The combination a project generated at `version` with `combo`'s answers has once updated.

    A question the release did not ask takes its default (an update asks nothing with
    --defaults), but for what the migrations decide: `user_model` stays `django` for projects
    from before 0.3.0 (hooks/migrate_0_3_0.py), and Flower goes where the broker refuses it.
    """
    then = _questions(repo, version)
    new = {
        name: spec["default"]
        for name, spec in _questions(REPO, None).items()
        if spec.get("when") is not False and name not in then
    }
    new.pop("deploy_targets", None)  # the 0.2.0 migration moves the old `deploy` answer over
    if "user_model" not in then:
        new["user_model"] = "django"
    if flower_refusal(combo.broker):
        new["use_flower"] = False
    return dataclasses.replace(combo, extra={**combo.extra, **new})


def _questions(repo: Path, version: str | None) -> dict:
    text = (
        (repo / "copier.yml").read_text()
        if version is None
        else git("show", f"{version}:copier.yml", cwd=repo)
    )
    config = yaml.safe_load(text)
    return {k: v for k, v in config.items() if not k.startswith("_") and isinstance(v, dict)}


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
