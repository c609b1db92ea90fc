"""Every worker command line carries its queue's settings from QUEUES (config/queues.py).

A worker reads its pool, concurrency, prefetch and time limits from its command line; QUEUES is
where a person reads and changes them. These tests hold every file that starts a worker to it.
"""

import json
import re
import shlex
from pathlib import Path

import pytest

from config.queues import QUEUES

PROJECT = Path(__file__).resolve().parent.parent
# The files that start workers: the Procfiles, and those of the deploy targets the project has.
DEPLOY_FILES = ["compose.yaml", "compose.production.yaml", "kubernetes/base/workers.yaml"]
SOURCES = ["Procfile", "Procfile.dev", *(f for f in DEPLOY_FILES if (PROJECT / f).exists())]
CELERY_WORKER = ["celery", "-A", "config", "worker"]
# A command of a compose service or a Kubernetes container: a JSON list on one line.
YAML_COMMAND = re.compile(r"^\s*command: (\[.*\])\s*$", re.M)
# The options that carry a queue's settings.
SETTINGS = (
    "--queues",
    "--pool",
    "--concurrency",
    "--prefetch-multiplier",
    "--soft-time-limit",
    "--time-limit",
)


def command_lines(source: str) -> list[list[str]]:
    text = (PROJECT / source).read_text()
    if source.startswith("Procfile"):
        lines = [line.partition(": ")[2] for line in text.splitlines() if line[:1].isalpha()]
        return [shlex.split(line) for line in lines]
    return [json.loads(command) for command in YAML_COMMAND.findall(text)]


def worker_settings(argv: list[str]) -> dict[str, str] | None:
    """The settings options of a worker's command line (watchfiles' inner one included)."""
    inner = [arg for arg in argv if arg.startswith(shlex.join(CELERY_WORKER))]
    if inner:
        argv = shlex.split(inner[0])
    if argv[: len(CELERY_WORKER)] != CELERY_WORKER:
        return None
    options = dict(zip(argv, argv[1:], strict=False))
    return {option: options[option] for option in SETTINGS if option in options}


def expected(queue: str) -> dict[str, str]:
    spec = QUEUES[queue]
    settings = {
        "--queues": queue,
        "--concurrency": str(spec["concurrency"]),
        "--prefetch-multiplier": str(spec["prefetch_multiplier"]),
        "--soft-time-limit": str(spec["soft_time_limit"]),
        "--time-limit": str(spec["time_limit"]),
    }
    # prefork is Celery's default pool: its workers name no pool.
    if spec["pool"] != "prefork":
        settings["--pool"] = spec["pool"]
    return settings


@pytest.mark.parametrize("source", SOURCES)
def test_each_worker_runs_with_its_queues_settings(source: str) -> None:
    workers = [s for s in map(worker_settings, command_lines(source)) if s is not None]
    by_queue = {settings["--queues"]: settings for settings in workers}
    assert len(by_queue) == len(workers), f"{source}: two workers consume one queue"
    assert set(by_queue) == set(QUEUES), f"{source}: one worker per queue of QUEUES"
    for queue, settings in by_queue.items():
        assert settings == expected(queue), f"{source}: the {queue} worker differs from QUEUES"
