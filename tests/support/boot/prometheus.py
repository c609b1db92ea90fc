"""A real Prometheus (Debian's `prometheus` package) scraping a booted project's processes and
evaluating its monitoring/alerts.yml, for the boot checks that time what an outage looks like
from the outside."""

import contextlib
import json
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .services import free_port, serving

# Scrape and evaluate every second: the checks time detection in scrape intervals.
INTERVAL_SECONDS = 1


@contextlib.contextmanager
def prometheus(targets: dict[str, int], rules: Path, workdir: Path) -> Iterator[str]:
    """Prometheus on a free loopback port, scraping 127.0.0.1:<port> of each named process and
    evaluating the rule file; yields its base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: install Debian's `prometheus` package (.ci/run does)")
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(rules, workdir / "alerts.yml")
    config = {
        "global": {
            "scrape_interval": f"{INTERVAL_SECONDS}s",
            "evaluation_interval": f"{INTERVAL_SECONDS}s",
        },
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {
                "job_name": name,
                "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
            }
            for name, port in targets.items()
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    command = [
        binary,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with serving(command, port, "prometheus", workdir / "prometheus.log"):
        yield f"http://127.0.0.1:{port}"


def query(base: str, expression: str) -> list[dict]:
    """The instant vector Prometheus answers for the expression, now."""
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=10) as response:
        answer = json.load(response)
    assert answer["status"] == "success", answer
    return answer["data"]["result"]
