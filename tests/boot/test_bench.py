"""The benchmark (`nox -s bench`, tests/bench/run.py) runs, and measures what the defaults promise.

One short repetition on Redis, as docs/performance.md's "try a change" command runs it: every
variant and workload is measured, and the generated worker's line and log show this stop's
profile (no task events, two log lines per task).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.releases import REPO

pytestmark = pytest.mark.boot

VARIANTS = {"generated", "bare-safety", "bare-defaults"}


def test_the_benchmark_measures_every_variant(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    command = ["tests/bench/run.py", "--quick", "--brokers", "redis", "--output", str(output)]
    done = subprocess.run(
        [sys.executable, *command], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    results = json.loads(output.read_text())
    # `copier copy` of the default answers was timed, as a fresh process, and wrote the project.
    render = results["render"]
    assert render["copier_seconds"] > 0 and render["copier_files"] > 50, render
    redis = results["brokers"]["redis"]
    for workload in ("noop", "io", "cpu", "latency"):
        assert set(redis[workload]) >= VARIANTS, workload
        for variant in VARIANTS:
            assert all(value > 0 for value in redis[workload][variant].values()), variant
    noop = redis["noop"]
    assert "--events" not in noop["generated_command"]
    # Celery's default format writes two short lines per task; the project's two JSON lines are
    # longer, but under 2.5 times that (four lines, as before, were 4 times).
    generated, bare = (noop[v]["log_bytes_per_task"] for v in ("generated", "bare-defaults"))
    assert generated < 2.5 * bare, (generated, bare)
