"""Copier task and migration: lock the project's dependencies into uv.lock with `uv lock`.

Runs with Copier's own Python in the project's folder (standard library only): as a task after
`copier copy`, and as a migration after `copier update` has applied its diff, so that the lock is
recomputed from the pyproject.toml the team keeps, never merged by hand (see copier.yml).

It never fails the copy or the update: without uv, without a reachable package index, or without
the project's Python on this machine, it prints one line saying what to run later, and exits 0.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Resolving the project's few dozen packages takes seconds from an index; an index that answers
# slower than this is as good as unreachable, and a copy must not hang on it.
TIMEOUT_SECONDS = 300
# Variables that point uv at the caller's own interpreter or environment, not the project's.
CALLERS_PYTHON = ("VIRTUAL_ENV", "UV_PYTHON", "UV_PROJECT_ENVIRONMENT")
# `uv lock` resolves for requires-python, and needs an interpreter within it.
NO_INTERPRETER = "No interpreter found"


def required_python(project: Path) -> str:
    """The lowest Python of pyproject.toml's `requires-python = ">=X.Y"`, for the message."""
    found = re.search(
        r'^requires-python = ">=([\d.]+)"', (project / "pyproject.toml").read_text(), re.M
    )
    return found.group(1) if found else "the project's Python"


def lock(project: Path) -> str | None:
    """Write `project`/uv.lock; None when done, otherwise the one line to print instead."""
    outcome = "uv.lock not updated" if (project / "uv.lock").exists() else "uv.lock not created"
    later = f"run `uv lock` in {project} and commit uv.lock."
    uv = os.environ.get("UV") or shutil.which("uv")  # uv sets UV for what `uvx` runs
    if uv is None:
        return (
            f"{outcome}: uv is not installed. Install it (https://docs.astral.sh/uv/), then {later}"
        )
    # Never an interpreter download as a side effect of copying a template. Not the caller's
    # Python either (an active virtualenv, Copier's own under pipx, or one a tool names to uv):
    # it need not satisfy the project's requires-python; uv finds one that does.
    env = {k: v for k, v in os.environ.items() if k not in CALLERS_PYTHON}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    try:
        result = subprocess.run(
            [uv, "lock", "--quiet"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return (
            f"{outcome}: `uv lock` took over {TIMEOUT_SECONDS} s (no package index reachable?)."
            f" When one is, {later}"
        )
    if result.returncode == 0:
        return None
    if NO_INTERPRETER in result.stderr:
        version = required_python(project)
        return (
            f"{outcome}: `uv lock` needs Python {version} on this machine. Install it"
            f" (`uv python install {version}`), then {later}"
        )
    return (
        f"{outcome}: `uv lock` failed (no package index reachable, or a conflict left in"
        f" pyproject.toml? uv says: {uv_error(result.stderr)}). Once that is fixed, {later}"
    )


def uv_error(stderr: str) -> str:
    """uv's own reason, on one line: its `error:` line and the causes it lists under it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
    if start is None:
        return lines[-1] if lines else "no message"
    return " ".join(lines[start:])


def main() -> None:
    problem = lock(Path.cwd())
    if problem:
        print(problem, file=sys.stderr)


if __name__ == "__main__":
    main()
