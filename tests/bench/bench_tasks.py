"""The benchmark's tasks, one module for both apps: the generated project's worker imports it with
`--include bench_tasks` (its tasks then inherit the project's BaseTask), the bare app by name.

Copied beside the rendered project's manage.py and beside bare_app.py by tests/bench/run.py.
"""

import os
import time
from pathlib import Path

from celery import shared_task
from celery.signals import worker_ready


@worker_ready.connect
def announce_ready(**kwargs) -> None:
    """Tell the benchmark the worker consumes now, whatever its log level (BENCH_READY_FILE)."""
    if path := os.environ.get("BENCH_READY_FILE"):
        Path(path).write_text(str(time.time()))


@shared_task
def add(x: int, y: int) -> int:
    """A short task: the cost of Celery and the project around almost no work."""
    return x + y


@shared_task
def pause(seconds: float) -> None:
    """An I/O-bound task: waits as a call to a slow API or mail server does."""
    time.sleep(seconds)


@shared_task
def spin(rounds: int) -> int:
    """A CPU-bound task: pure Python arithmetic for `rounds` iterations."""
    total = 0
    for i in range(rounds):
        total += i * i % 7
    return total


@shared_task
def stamp() -> float:
    """When the task body started (the machine's clock): enqueue → start latency."""
    return time.time()
