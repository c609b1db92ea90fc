"""`.env` holds the secrets generated at copy time: readable by its owner only (mode 0600), from
the copy on (a Copier task; tests/test_lock.py runs a real copy with its tasks and checks the mode)
and after every update (a migration tightens an older project's)."""

import stat
import subprocess
import sys
from pathlib import Path

import yaml

from support.releases import REPO

HOOK = REPO / "hooks" / "protect_env.py"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run_hook(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, HOOK, *args], cwd=project, capture_output=True, text=True, check=True
    )


def test_hook_tightens_an_open_env_and_says_so(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DJANGO_SECRET_KEY=x\n")
    env_file.chmod(0o644)
    result = run_hook(tmp_path, "--report")
    assert mode(env_file) == 0o600
    assert result.stderr == f"{env_file}: now readable by its owner only (chmod 600)\n"
    # Already owner-only, or no .env at all: nothing changes, nothing is said.
    assert run_hook(tmp_path, "--report").stderr == ""
    env_file.unlink()
    assert run_hook(tmp_path, "--report").stderr == "" and not env_file.exists()


def test_env_is_protected_at_copy_and_after_every_update() -> None:
    config = yaml.safe_load((REPO / "copier.yml").read_text())
    script = "{{ _copier_conf.src_path }}/hooks/protect_env.py"
    tasks = [task for task in config["_tasks"] if script in task["command"]]
    assert tasks == [
        {"command": ["{{ _copier_python }}", script], "when": "{{ _copier_operation == 'copy' }}"}
    ]
    migrations = [m for m in config["_migrations"] if script in m["command"]]
    assert migrations == [
        {"command": ["{{ _copier_python }}", script, "--report"], "when": "{{ _stage == 'after' }}"}
    ]
