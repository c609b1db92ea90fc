"""A rendered project's lock file: written by the template's own hook, checked against the pins.

`hooks/lock_dependencies.py` is what Copier runs after a copy and after an update; the tests run
that same script (with this Python, as Copier would with its own) rather than `uv lock` directly.
"""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .releases import REPO

HOOK = REPO / "hooks" / "lock_dependencies.py"
# As the hook runs uv: never a download, never the test runner's own virtualenv (nox activates
# one, on the suite's Python, which the projects' requires-python excludes).
UV_ENV = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {
    "UV_PYTHON_DOWNLOADS": "never"
}


def run_lock_hook(project: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """The copy task's command, in the project's folder, as Copier runs it."""
    return subprocess.run(
        [sys.executable, str(HOOK)],
        cwd=project,
        env=env or os.environ,
        capture_output=True,
        text=True,
    )


def dependency_key(project: Path) -> tuple:
    """What uv.lock is computed from: requires-python, the dependencies and the dev group."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    return (
        pyproject["project"]["requires-python"],
        tuple(pyproject["project"]["dependencies"]),
        tuple(pyproject.get("dependency-groups", {}).get("dev", [])),
    )


def locked_versions(project: Path) -> dict[str, str]:
    """Package name -> version, as uv.lock records them."""
    lock = tomllib.loads((project / "uv.lock").read_text())
    return {canonicalize_name(p["name"]): p["version"] for p in lock["package"] if "version" in p}


def assert_locked(project: Path) -> None:
    """uv.lock matches pyproject.toml (what `uv sync --locked` checks) and holds every `==` pin."""
    check = subprocess.run(
        ["uv", "lock", "--check"], cwd=project, env=UV_ENV, capture_output=True, text=True
    )
    assert check.returncode == 0, f"{project}: uv lock --check\n{check.stderr}"
    locked = locked_versions(project)
    _, dependencies, dev = dependency_key(project)
    pins = [Requirement(line) for line in dependencies + dev]
    assert pins and all(len(p.specifier) == 1 for p in pins), pins
    for pin in pins:
        (spec,) = pin.specifier
        assert spec.operator == "==", pin
        assert locked.get(canonicalize_name(pin.name)) == spec.version, (
            f"{project}: {pin} is locked at {locked.get(canonicalize_name(pin.name))}"
        )
