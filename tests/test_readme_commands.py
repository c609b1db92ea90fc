"""The template README's render and update commands, run as written from a user's clone.

The README marks them (`<!-- tested: NAME -->`). Each block runs as one bash script, from a
clone of a published copy of this repository (a bare clone of the tagged test repository), the
way a user runs them after `git clone`. Copier is the README's own pinned `uvx copier@...`.
"""

import re
import subprocess
import sys
from pathlib import Path

import copier
import pytest
import yaml
from packaging.version import Version

from support.readme_blocks import tested_block
from support.releases import REPO, current_version, git

README = REPO / "README.md"


def run_block(lines: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The README's lines as one bash script (a `cd` carries to the next line), stopping at the
    first failure."""
    script = "\n".join(["set -euo pipefail", *lines])
    result = subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, (
        f"{script}\nexit {result.returncode}\n{result.stdout}{result.stderr}"
    )
    return result


def answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


@pytest.fixture
def published(template_repo: Path, tmp_path: Path) -> Path:
    """A bare repository standing for the published template, tagged like the real one."""
    bare = tmp_path / "published.git"
    git("clone", "--quiet", "--bare", str(template_repo), str(bare), cwd=tmp_path)
    return bare


def user_clone(published: Path, dest: Path) -> Path:
    git("clone", "--quiet", str(published), str(dest), cwd=published.parent)
    return dest


def release_a_change(published: Path, work: Path, version: str | None) -> str:
    """Commit a change to a generated file in the published template (tagged as `version`, if
    given); return the line it adds to the projects' .gitignore."""
    clone = user_clone(published, work)
    line = f"# added by a template change {version or 'untagged'}"
    gitignore = clone / "template" / ".gitignore"
    gitignore.write_text(gitignore.read_text() + line + "\n")
    git("commit", "--quiet", "--all", "--no-verify", "-m", "a template change", cwd=clone)
    if version:
        git("tag", version, cwd=clone)
    git("push", "--quiet", "origin", "HEAD", "--tags", cwd=clone)
    return line


def next_patch(version: str) -> str:
    major, minor, patch = Version(version).release[:3]
    return f"{major}.{minor}.{patch + 1}"


def test_readme_render_then_update_from_a_checkout(published: Path, tmp_path: Path) -> None:
    checkout = user_clone(published, tmp_path / "copier-django-celery")
    run_block(tested_block(README, "render-checkout"), checkout)
    project = tmp_path / "my_project"
    # The checkout's absolute path, so that an update finds the template from the project.
    recorded = answers(project)
    assert recorded["_src_path"] == str(checkout), recorded
    assert recorded["_commit"] == current_version()
    assert (project / "manage.py").is_file()

    # The user pulls a new template commit into the checkout, then updates as the README says.
    line = release_a_change(published, tmp_path / "maintainer", version=None)
    git("pull", "--quiet", "--ff-only", cwd=checkout)
    result = run_block(tested_block(README, "update-checkout"), checkout)

    assert line in (project / ".gitignore").read_text(), result.stdout + result.stderr
    head = git("rev-parse", "--short", "HEAD", cwd=checkout)
    assert head in answers(project)["_commit"], answers(project)
    assert not git("status", "--porcelain", "--untracked-files=no", cwd=project).count(" U ")


def test_readme_published_copy_then_update_to_a_new_release(
    published: Path, tmp_path: Path
) -> None:
    checkout = user_clone(published, tmp_path / "copier-django-celery")
    block = tested_block(README, "published")
    run_block(block, checkout)
    project = tmp_path / "my_service"
    recorded = answers(project)
    # The URL the clone came from, and the newest release.
    assert recorded["_src_path"] == str(published), recorded
    assert recorded["_commit"] == current_version()

    newer = next_patch(current_version())
    line = release_a_change(published, tmp_path / "maintainer", version=newer)
    # The block's check-update and update lines again, now that a release is out.
    again = [command for command in block if command.startswith("uvx copier@")][-2:]
    assert [c.split()[2] for c in again] == ["check-update", "update"], again
    result = run_block(again, project)

    assert f"latest version is {newer}" in result.stdout + result.stderr, result.stdout
    assert answers(project)["_commit"] == newer
    assert line in (project / ".gitignore").read_text()


def test_readme_render_commands_use_the_suites_copier() -> None:
    """The README pins the Copier the suite tests with, so a user runs the tested one."""
    for name in ("render-checkout", "update-checkout", "published"):
        for command in tested_block(README, name):
            if command.startswith("uvx copier"):
                assert f"uvx copier@{copier.__version__} " in command, (name, command)


def test_readme_selection_by_test_id_selects_those_combinations() -> None:
    """The README's `nox -s tests -- -k "..."` passes its arguments to pytest as they are (the
    noxfile's tests session): those arguments select render and boot tests of that broker and
    scheduler only."""
    found = re.search(r'`nox -s tests -- -k "([^"]+)"`', README.read_text())
    assert found, "the README's example selection is gone"
    expression = found[1]
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [*command, "-k", expression, "tests"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ids = [line for line in result.stdout.splitlines() if "::" in line]
    wanted = [term for term in expression.split() if ":" in term]
    assert wanted and all(term in i for i in ids for term in wanted), ids
    assert any("tests/boot/" in i for i in ids) and any("test_render_matrix" in i for i in ids)
