"""The generated project's scheduled template update, run as its CI file declares it.

Each project is copied at the release under test in a tagged clone of this repository of its
own, with a bare repository as its `origin`. The clone then gets a newer release, 99.0.0, that
changes a line the team edited too. The job's lines run as written, with the suite's copier
(COPIER) and, for GitHub, a `gh` on PATH that records the pull request it is asked to open;
GitLab's merge request comes from push options, which the bare repository's post-receive hook
records as GitLab would read them.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from support.ci_files import template_update_job
from support.matrix import Combination
from support.readme_blocks import tested_block
from support.releases import current_version, git, tagged_clone
from support.updating import commit_all, copy_at

pytestmark = pytest.mark.matrix

NEWER = "99.0.0"
BRANCH = f"template-update/{NEWER}"
TITLE = f"Update to copier-django-celery {NEWER}"
# Records each push's options, one per line, as a GitLab server receives them.
POST_RECEIVE = """#!/bin/sh
i=0
while [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do
  eval "echo \\"\\$GIT_PUSH_OPTION_$i\\"" >> "$(dirname "$0")/../push-options"
  i=$((i + 1))
done
"""
# Records its arguments, one per line, then END_OF_CALL; prints a pull request's URL.
END_OF_CALL = "-- end of call --"
GH = f"""#!/bin/sh
for argument in "$@"; do printf '%s\\n' "$argument"; done >> "$GH_CALLS"
echo "{END_OF_CALL}" >> "$GH_CALLS"
echo https://github.example/pull/1
"""


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def release_a_conflicting_change(template_repo: Path) -> None:
    """A newer release whose README's first line differs from the one the team edited."""
    readme = template_repo / "template" / "README.md.jinja"
    lines = readme.read_text().splitlines(keepends=True)
    lines[0] = lines[0].rstrip("\n") + " (a newer release)\n"
    readme.write_text("".join(lines))
    git("commit", "--quiet", "--all", "-m", "a newer release", cwd=template_repo)
    git("tag", NEWER, cwd=template_repo)


def edit_readme_first_line(project: Path) -> None:
    readme = project / "README.md"
    lines = readme.read_text().splitlines(keepends=True)
    lines[0] = lines[0].rstrip("\n") + ": the billing team's service\n"
    readme.write_text("".join(lines))
    commit_all(project, "the team's edit")


def remote_branches(origin: Path) -> list[str]:
    heads = git("for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=origin)
    return heads.split()


@dataclass
class Setup:
    project: Path
    template_repo: Path
    origin: Path


@pytest.fixture
def setup(request, template_src: Path, tmp_path: Path) -> Setup:
    """A project of the release under test, committed, with a bare `origin` that holds main."""
    template_repo = tagged_clone(tmp_path / "repo", template_src)
    combo = Combination("redis", "redis", "django-db", "priority", extra={"ci": request.param})
    project = copy_at(template_repo, current_version(), combo.answers(), tmp_path / "p")
    commit_all(project, "generated")
    origin = tmp_path / "origin.git"
    git("init", "--quiet", "--bare", str(origin), cwd=tmp_path)
    git("config", "receive.advertisePushOptions", "true", cwd=origin)
    executable(origin / "hooks" / "post-receive", POST_RECEIVE)
    git("remote", "add", "origin", str(origin), cwd=project)
    git("push", "--quiet", "origin", "main", cwd=project)
    return Setup(project, template_repo, origin)


def job_environment(tmp_path: Path) -> dict[str, str]:
    """The machine's environment with the suite's copier and a recording `gh` on PATH."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    executable(stubs / "gh", GH)
    return {
        **os.environ,
        "PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}",
        "COPIER": str(Path(sys.executable).with_name("copier")),
        "GH_CALLS": str(tmp_path / "gh-calls"),
    }


def run_job(project: Path, env: dict[str, str]) -> str:
    lines, _ = template_update_job(project)
    output = ""
    for line in lines:
        result = subprocess.run(
            ["bash", "-c", line], cwd=project, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
        output += result.stdout
    return output


@pytest.mark.parametrize("setup", ["github", "gitlab"], indirect=True)
def test_scheduled_update_pushes_a_branch_and_opens_one_request(setup, tmp_path) -> None:
    project, origin = setup.project, setup.origin
    ci = yaml.safe_load((project / ".copier-answers.yml").read_text())["ci"]
    env = job_environment(tmp_path)
    _, job_env = template_update_job(project)
    # Its commits have an author on a CI machine, which has no git identity of its own.
    assert {"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME"} <= job_env.keys()

    # On the newest release: nothing pushed, nothing opened.
    assert "nothing to do" in run_job(project, env)
    assert remote_branches(origin) == ["main"]
    assert not (tmp_path / "gh-calls").exists() and not (origin / "push-options").exists()

    release_a_conflicting_change(setup.template_repo)
    edit_readme_first_line(project)
    run_job(project, env)

    assert remote_branches(origin) == ["main", BRANCH]
    message = git("log", "-1", "--format=%B", BRANCH, cwd=origin)
    assert message.startswith(TITLE) and "- `README.md`" in message, message
    answers = yaml.safe_load(git("show", f"{BRANCH}:.copier-answers.yml", cwd=origin))
    assert answers["_commit"] == NEWER
    readme = git("show", f"{BRANCH}:README.md", cwd=origin)
    assert "<<<<<<< before updating" in readme and ">>>>>>> after updating" in readme
    assert "the billing team's service" in readme, "the team's edit must stay in the conflict"
    if ci == "github":
        [call] = (tmp_path / "gh-calls").read_text().split(f"{END_OF_CALL}\n")[:-1]
        arguments = call.split("\n")
        assert arguments[:4] == ["pr", "create", "--head", BRANCH], arguments
        assert arguments[arguments.index("--title") + 1] == TITLE
        assert "- `README.md`" in call
    else:
        options = (origin / "push-options").read_text()
        assert "merge_request.create\n" in options
        assert "merge_request.target=main\n" in options
        assert f"merge_request.title={TITLE}\n" in options
        assert "- `README.md`" in options

    # Next week, from main again: the branch is on the remote, so no second request.
    git("switch", "--quiet", "main", cwd=project)
    assert "already on the remote" in run_job(project, env)
    if ci == "github":
        assert (tmp_path / "gh-calls").read_text().count(END_OF_CALL) == 1
    else:
        assert (origin / "push-options").read_text().count("merge_request.create") == 1


@pytest.mark.parametrize("setup", ["github"], indirect=True)
def test_readme_dry_run_prepares_the_branch_without_pushing(setup, tmp_path) -> None:
    """The project README's look at the update the job would propose, run as written."""
    project = setup.project
    release_a_conflicting_change(setup.template_repo)
    env = job_environment(tmp_path)
    (command,) = tested_block(project / "README.md", "template-update-dry-run")
    result = subprocess.run(
        ["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert git("branch", "--show-current", cwd=project) == BRANCH
    assert git("log", "-1", "--format=%s", cwd=project) == TITLE
    assert git("status", "--porcelain", cwd=project) == ""
    assert remote_branches(setup.origin) == ["main"]


@pytest.mark.parametrize("setup", ["gitlab"], indirect=True)
def test_readme_update_command_takes_the_newer_release(setup) -> None:
    """The project README's own update command, as written (uvx fetches the pinned copier)."""
    project = setup.project
    release_a_conflicting_change(setup.template_repo)
    (command,) = tested_block(project / "README.md", "template-update")
    result = subprocess.run(["bash", "-c", command], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == NEWER
