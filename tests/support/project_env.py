"""Virtual environments for rendered projects, built with uv from the rendered pyproject.toml.

The template's pins are the only source of versions. The static checks of the render matrix use
one environment per (Python, Django) pair holding the union of every combination's dependencies
(all pinned by the same template, so they never conflict); each project's own list is checked to
be inside it, and to declare every distribution its code imports (test_render_matrix.py).
Environments are built once, shared across test workers and runs, and reused from uv's cache.
"""

import hashlib
import os
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path

import pytest
from filelock import FileLock

REPO = Path(__file__).resolve().parents[2]
VENVS = Path(os.environ.get("CDC_VENV_DIR", REPO / ".cache" / "venvs"))


def project_requirements(project: Path) -> list[str]:
    """Runtime and dev dependencies of a rendered project, as its pyproject.toml pins them."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    groups = pyproject.get("dependency-groups", {})
    return sorted(pyproject["project"]["dependencies"] + groups.get("dev", []))


@cache
def find_python(version: str) -> str:
    """An interpreter for `version` on this machine, found by uv (it never downloads one here)."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed: `python3 -m pip install uv` (bash .ci/run does it)")
    found = subprocess.run(
        [uv, "python", "find", "--no-project", version],
        capture_output=True,
        text=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    if found.returncode != 0:
        pytest.fail(
            f"Python {version} not found: install it and put it on PATH (pyenv install {version}, "
            f"or your distribution's python{version}); bash .ci/run adds pyenv's versions to PATH."
        )
    return found.stdout.strip()


def venv_with(requirements: list[str], python_version: str) -> Path:
    """The environment (built on first use) with exactly `requirements` on `python_version`."""
    key = hashlib.sha256("\n".join([python_version, *requirements]).encode()).hexdigest()[:16]
    venv = VENVS / f"py{python_version}-{key}"
    VENVS.mkdir(parents=True, exist_ok=True)
    with FileLock(str(venv) + ".lock"):
        if (venv / ".complete").exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        interpreter = find_python(python_version)
        subprocess.run(
            ["uv", "venv", "-q", "--python", interpreter, str(venv)], check=True, env=env
        )
        python = str(venv / "bin" / "python")
        install = ["uv", "pip", "install", "-q", "--python", python]
        subprocess.run([*install, *requirements], check=True, env=env)
        # No compileall: each process writes the bytecode of what it imports (the suite leaves
        # bytecode writing on, see noxfile.py), so an environment's first boot compiles what runs
        # (2 to 3.5 CPU-seconds), where compiling every module cost 4 s and, with the SQS emulator's
        # dependencies (sympy, moto, networkx: never imported by a boot), 14 s.
        (venv / ".complete").write_text("\n".join(requirements) + "\n")
    return venv


def offline_env() -> dict[str, str]:
    """This process's environment plus what a project's settings require to import, pointing at
    no running service: real-length secrets, a database and a result backend never connected
    to, Celery's in-memory broker."""
    secrets = {
        name: hashlib.sha256(name.encode()).hexdigest()
        for name in ("DJANGO_SECRET_KEY", "PAYMENTS_WEBHOOK_SECRET")
    }
    return {
        **os.environ,
        **secrets,
        "DATABASE_URL": "postgres://127.0.0.1/x",
        "CELERY_BROKER_URL": "memory://",
        "CELERY_RESULT_BACKEND": "redis://127.0.0.1:6379/14",
    }
