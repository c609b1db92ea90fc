"""The template's releases, read from CHANGELOG.md, and a clone of this repository tagged with them.

CHANGELOG.md is where a release is recorded: `## 0.1.0 (2026-11-22, commit <sha>)` for a
released version, `## 0.2.0 (unreleased)` for the one under work, whose number pyproject.toml
carries too. The tests tag a temporary clone from these headings rather than relying on the
repository's own tags, which a clone of main may not have fetched.
"""

import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
HEADING = re.compile(
    r"^## (?P<version>\S+) \((?:(?P<unreleased>unreleased)|"
    r"(?P<date>\d{4}-\d{2}-\d{2}), commit (?P<commit>[0-9a-f]{40}))\)$",
    re.MULTILINE,
)
# Who commits in the temporary clones and projects, where the machine has no git identity
# (conftest.py puts it in the environment, for Copier's own commits too).
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "copier-django-celery tests",
    "GIT_AUTHOR_EMAIL": "tests@copier-django-celery.invalid",
    "GIT_COMMITTER_NAME": "copier-django-celery tests",
    "GIT_COMMITTER_EMAIL": "tests@copier-django-celery.invalid",
}


@dataclass(frozen=True)
class Release:
    version: str
    commit: str | None  # None: the release under work, which the working tree stands for


def releases() -> list[Release]:
    """Every release in CHANGELOG.md, newest first."""
    text = (REPO / "CHANGELOG.md").read_text()
    return [Release(m["version"], m["commit"]) for m in HEADING.finditer(text)]


def current_version() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def working_tree_copy(dest: Path) -> Path:
    """The working tree as it would be released (tracked and new files, without .git) in `dest`.

    Rendering from a plain folder tests uncommitted work too, and spares Copier a clone per render.
    """
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}:\n{result.stderr}")
    return result.stdout.strip()


def tagged_clone(dest: Path, working_tree: Path) -> Path:
    """Clone this repository into `dest`, tag every release, and commit `working_tree` on top,
    tagged as the version under work: the release under test."""
    git("clone", "--quiet", "--no-hardlinks", str(REPO), str(dest), cwd=REPO)
    for release in releases():
        if release.commit is None:
            continue
        if git("cat-file", "-t", release.commit, cwd=dest) != "commit":
            raise RuntimeError(
                f"release {release.version}'s commit {release.commit} is not in this clone:"
                " fetch the whole history (git fetch --unshallow) and run again"
            )
        git("tag", "--force", release.version, release.commit, cwd=dest)
    for child in dest.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    shutil.copytree(working_tree, dest, dirs_exist_ok=True)
    git("add", "--all", cwd=dest)
    git("commit", "--quiet", "--allow-empty", "--no-verify", "-m", "release under test", cwd=dest)
    git("tag", "--force", current_version(), cwd=dest)
    return dest


def assert_changelog_is_consistent() -> None:
    """Newest first, strictly decreasing PEP 440 versions; only the newest may be unreleased,
    and it is the version pyproject.toml carries."""
    found = releases()
    assert found, "CHANGELOG.md has no release headings"
    versions = [Version(r.version) for r in found]
    assert versions == sorted(versions, reverse=True) and len(set(versions)) == len(versions)
    assert all(r.commit for r in found[1:]), "only the newest release may be unreleased"
    assert found[0].version == current_version(), (found[0].version, current_version())
