"""Every production process refuses to start with a weak secret and says which, in one line: the
Procfile's own command lines, run as a deployment runs them (production settings, no .env), with
one secret a placeholder, empty or short. The generated project's own tests cover the judging
itself (tests/test_weak_secrets.py there); the boot tier starts the same lines with real secrets.
"""

import hashlib
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from support.boot.processes import procfile
from support.boot.services import free_port
from support.matrix import Combination
from support.project_env import project_requirements, venv_with

# Every kind of process: the release step, web, a worker, Beat and Flower.
COMBO = Combination("redis", "redis", "django-db", "single", extra={"use_flower": True})
STRONG = {
    "DJANGO_SECRET_KEY": hashlib.sha256(b"weak-secrets-key").hexdigest(),
    "PAYMENTS_WEBHOOK_SECRET": hashlib.sha256(b"weak-secrets-webhook").hexdigest(),
    "FLOWER_BASIC_AUTH": "admin:" + hashlib.sha256(b"weak-secrets-flower").hexdigest(),
}
# The process, the secret made weak, and the start of the line saying so.
REFUSALS = [
    ("release", "PAYMENTS_WEBHOOK_SECRET", "change-me", "PAYMENTS_WEBHOOK_SECRET is a placeholder"),
    ("web", "DJANGO_SECRET_KEY", "", "DJANGO_SECRET_KEY is empty"),
    ("worker-default", "PAYMENTS_WEBHOOK_SECRET", "short", "PAYMENTS_WEBHOOK_SECRET is 5 char"),
    ("beat", "DJANGO_SECRET_KEY", "django-insecure-" + "k" * 50, "DJANGO_SECRET_KEY is a placeh"),
    ("flower", "FLOWER_BASIC_AUTH", "admin:", "FLOWER_BASIC_AUTH: the password of admin is empty"),
    ("flower", "FLOWER_BASIC_AUTH", ":", "FLOWER_BASIC_AUTH must be user:password"),
]
# A refusal comes within seconds; a process that started instead would run until this.
TIMEOUT_SECONDS = 60


@pytest.fixture(scope="module")
def deployed(render, tmp_path_factory) -> tuple[Path, Path]:
    """The project, without the .env a deployment never has, and its environment."""
    answers = COMBO.answers()
    project = render(answers, tmp_path_factory.mktemp("weak-secrets") / "project")
    (project / ".env").unlink()
    return project, venv_with(project_requirements(project), answers["python_version"])


@pytest.mark.parametrize(
    ("process", "name", "value", "says"), REFUSALS, ids=[f"{r[0]}-{r[1]}" for r in REFUSALS]
)
def test_process_refuses_to_start_with_a_weak_secret(deployed, process, name, value, says):
    project, venv = deployed
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": "postgres://127.0.0.1:5432/cdc_weak_secrets",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
        "CELERY_RESULT_BACKEND": "redis://127.0.0.1:6379/15",
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{free_port()} --workers 1",
        "FLOWER_PORT": str(free_port()),
        "FLOWER_ADDRESS": "127.0.0.1",
        **STRONG,
        name: value,
    }
    command = shlex.split(procfile(project)[process])
    try:
        result = subprocess.run(
            command, cwd=project, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"{process} started with {name}={value!r}:\n{expired.stderr}")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    # One line says what is wrong and how to fix it (a traceback may come before it).
    refusals = [line for line in output.splitlines() if "refusing to start: " in line]
    assert refusals, output
    line = refusals[-1].split("refusing to start: ", 1)[1]
    assert line.startswith(says) and "secrets.token_hex(32)" in line, line
