"""uv.lock: every generated project gets one at copy time, from the hook Copier runs.

The render matrix renders without tasks (tests/conftest.py); here every distinct dependency set
it renders is locked once by the real hook script, and a real `copier copy` is run with its task,
with and without a reachable package index.
"""

import os
import stat
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import copier
import yaml

from support.locking import UV_ENV, assert_locked, dependency_key, locked_versions, run_lock_hook
from support.matrix import Combination, runtime_combinations
from support.releases import REPO, current_version
from support.updating import commit_all, copy_at, update

# pyproject.toml and the versions it imports: neither reads the deployment answer, so the four
# deploy_targets of a runtime combination render the same dependencies.
PYPROJECT_SOURCES = ["template/pyproject.toml.jinja", "template/_partials/versions.jinja"]


def render_pyproject(template_src: str, answers: dict, dest: str) -> tuple:
    """Render only pyproject.toml for `answers`; return its dependency key."""
    copier.run_copy(
        template_src,
        dest,
        data=answers,
        defaults=True,
        quiet=True,
        skip_tasks=True,
        exclude=["*", "!pyproject.toml"],
    )
    return dependency_key(Path(dest))


def test_every_dependency_set_of_the_matrix_locks(template_src: Path, tmp_path: Path) -> None:
    for source in PYPROJECT_SOURCES:
        assert "deploy_targets" not in (REPO / source).read_text(), source
    combinations = runtime_combinations()
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        keys = list(
            pool.map(
                render_pyproject,
                [str(template_src)] * len(combinations),
                [c.answers() for c in combinations],
                [str(tmp_path / "render" / c.runtime_id) for c in combinations],
            )
        )
    rendered = time.monotonic() - started
    # One project per distinct set: the first combination that renders it.
    projects = {}
    for combo, key in zip(combinations, keys, strict=True):
        projects.setdefault(key, tmp_path / "render" / combo.runtime_id)

    def lock(project: Path) -> None:
        hook = run_lock_hook(project)
        # Success is silent: any line printed is the hook saying it could not lock.
        assert (hook.returncode, hook.stderr, hook.stdout) == (0, "", ""), hook.stderr
        assert_locked(project)

    started = time.monotonic()
    # A lock mostly waits for the index to revalidate its cached pages (about 1 s, 0.2 s of
    # CPU): eight at a time overlap those waits.
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lock, projects.values()))
    print(
        f"{len(projects)} dependency sets in {len(combinations)} runtime combinations:"
        f" rendered in {rendered:.1f} s, locked in {time.monotonic() - started:.1f} s"
    )
    # Python x Django x the optional dependencies: far more than one set, far fewer than 140.
    assert 8 < len(projects) < len(combinations)


def test_copy_with_trust_writes_the_lock(template_src: Path, tmp_path: Path) -> None:
    """`copier copy --trust`: the tasks run, the project is locked and its .env is owner-only."""
    project = tmp_path / "p"
    combo = Combination("rabbitmq", "rpc", "static", "single")
    umask = os.umask(0o022)  # the common default, which leaves new files world-readable
    try:
        copier.run_copy(
            str(template_src),
            str(project),
            data=combo.answers(),
            defaults=True,
            quiet=True,
            unsafe=True,
        )
    finally:
        os.umask(umask)
    assert_locked(project)
    # .env holds this copy's secrets (hooks/protect_env.py); .env.example holds none.
    assert stat.S_IMODE((project / ".env").stat().st_mode) == 0o600
    assert stat.S_IMODE((project / ".env.example").stat().st_mode) == 0o644


def test_copy_without_an_index_succeeds_and_says_what_to_run(
    template_src: Path, tmp_path: Path
) -> None:
    """No package index (uv offline, nothing cached): the copy succeeds, with one line to act on."""
    project = tmp_path / "p"
    env = {**os.environ, "UV_OFFLINE": "1", "UV_CACHE_DIR": str(tmp_path / "empty-cache")}
    copier_bin = str(Path(sys.executable).with_name("copier"))
    command = [copier_bin, "copy", "--defaults", "--trust", "--quiet", str(template_src), project]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (project / "pyproject.toml").is_file() and not (project / "uv.lock").exists()
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("uv.lock not created: `uv lock` failed (no package index"), line
    assert line.endswith(f"run `uv lock` in {project} and commit uv.lock."), line
    assert result.stdout == ""


def test_lock_hook_without_uv_says_how_to_get_it(template_src: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    copier.run_copy(str(template_src), str(project), defaults=True, quiet=True, skip_tasks=True)
    env = {k: v for k, v in os.environ.items() if k != "UV"} | {"PATH": str(tmp_path / "none")}
    result = run_lock_hook(project, env=env)
    assert result.returncode == 0 and not (project / "uv.lock").exists()
    assert result.stderr == (
        "uv.lock not created: uv is not installed. Install it (https://docs.astral.sh/uv/),"
        f" then run `uv lock` in {project} and commit uv.lock.\n"
    )


def python_not_installed() -> str:
    """A Python series this machine lacks, newer than the template's (uv can download 3.14)."""
    for minor in range(14, 30):
        version = f"3.{minor}"
        found = subprocess.run(
            ["uv", "python", "find", "--no-project", version], env=UV_ENV, capture_output=True
        )
        if found.returncode != 0:
            return version
    raise AssertionError("every Python from 3.14 to 3.29 is installed")


def test_lock_hook_without_the_python_names_it_and_downloads_none(
    template_src: Path, tmp_path: Path
) -> None:
    """uv lock needs an interpreter within requires-python; the hook never lets uv fetch one."""
    project = tmp_path / "p"
    copier.run_copy(str(template_src), str(project), defaults=True, quiet=True, skip_tasks=True)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert 'requires-python = ">=3.13"' in text
    missing = python_not_installed()
    pyproject.write_text(text.replace(">=3.13", f">={missing}"))
    # Downloads allowed by the caller (uv would try to fetch one): the hook still forbids them.
    result = run_lock_hook(project, env={**os.environ, "UV_PYTHON_DOWNLOADS": "automatic"})
    assert result.returncode == 0 and not (project / "uv.lock").exists()
    assert result.stderr == (
        f"uv.lock not created: `uv lock` needs Python {missing} on this machine. Install it"
        f" (`uv python install {missing}`), then run `uv lock` in {project} and commit uv.lock.\n"
    )


def test_lock_runs_at_copy_and_after_every_update() -> None:
    """The task is copy-only (during an update Copier renders into temporary copies, and into
    the project before the team's diff is re-applied); the re-lock is an after-migration with
    no version, so it also runs when an update changes answers within one release."""
    config = yaml.safe_load((REPO / "copier.yml").read_text())
    command = ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/lock_dependencies.py"]
    tasks = [task for task in config["_tasks"] if task["command"] == command]
    assert tasks == [{"command": command, "when": "{{ _copier_operation == 'copy' }}"}]
    relocks = [m for m in config["_migrations"] if m["command"] == command]
    assert relocks == [{"command": command, "when": "{{ _stage == 'after' }}"}]


def test_update_relocks_the_merged_dependencies(template_repo: Path, tmp_path: Path) -> None:
    """An update that changes the template's dependencies, on a project whose team added one of
    its own: the lock is recomputed after the team's diff is applied, so it holds both."""
    combo = Combination("redis", "redis", "django-db", "priority", extra={"use_flower": True})
    project = copy_at(template_repo, current_version(), combo.answers(), tmp_path / "p")
    assert "flower" in locked_versions(project)
    commit_all(project, "generated")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert "dependencies = [\n" in text
    pyproject.write_text(
        text.replace("dependencies = [\n", 'dependencies = [\n    "six==1.17.0",\n')
    )
    run_lock_hook(project)  # the team locks after its change, as the README says
    commit_all(project, "the team's dependency")

    update(project, vcs_ref=current_version(), data={"use_flower": False})

    assert '"six==1.17.0"' in pyproject.read_text() and "flower" not in pyproject.read_text()
    assert_locked(project)
    locked = locked_versions(project)
    assert locked["six"] == "1.17.0" and "flower" not in locked
