"""Render-tier checks of a project's monitoring/ files: the alerts and the Grafana dashboard.

promtool (Debian's `prometheus` package) checks the rule file, parses every dashboard query (as
recording rules) and runs unit tests of the alerts against series made for the project's own
queues and thresholds: an alert must fire when its condition holds, and only then.
"""

import ast
import itertools
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .matrix import TOPOLOGY_QUEUES, Combination

ROOT = Path(__file__).resolve().parents[2]
QUEUE_TABLE = ROOT / "template" / "_partials" / "queue_table.yml"
# A metric name in a query: what the project serves starts so (django-prometheus's too).
METRIC = re.compile(r"\b(?:celery|django)_[a-z_]+\b")
# What Prometheus adds to a served name: a counter's _total, a histogram's series.
SUFFIXES = ("_total", "_bucket", "_sum", "_count")


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found: install Debian's `prometheus` package "
            "(`apt-get install prometheus`, as .ci/run does)"
        )
    return path


def run_promtool(*args: str, cwd: Path) -> None:
    result = subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


def thresholds(combo: Combination) -> dict[str, tuple[int, int]]:
    """Each queue's (alert_pending, alert_age), from the template's queue table."""
    table = yaml.safe_load(QUEUE_TABLE.read_text())
    if combo.queue_topology == "custom":
        row = table["custom"][0]
        return dict.fromkeys(TOPOLOGY_QUEUES["custom"], (row["alert_pending"], row["alert_age"]))
    rows = table[combo.queue_topology]
    return {
        r["name"]: (r["alert_pending"], r["alert_age"])
        for r in rows
        if combo.broker in r.get("brokers", [combo.broker])
    }


def served_metrics(project: Path) -> set[str]:
    """The metric names the project's code creates (prometheus-client objects and families)."""
    names = set()
    sources = [*(project / "config").glob("*.py"), *project.glob("*/core/metrics.py")]
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and node.args:
                function = getattr(node.func, "id", getattr(node.func, "attr", ""))
                first = node.args[0]
                if function in {"Counter", "Gauge", "Histogram", "GaugeMetricFamily"} and (
                    isinstance(first, ast.Constant)
                ):
                    names.add(first.value)
    return names


def assert_queries_use_served_metrics(queries: list[str], served: set[str]) -> None:
    for query in queries:
        for name in METRIC.findall(query):
            if name.startswith("django_http_"):
                continue  # django-prometheus's own
            base = next((name.removesuffix(s) for s in SUFFIXES if name.endswith(s)), name)
            assert base in served, f"{name} in {query!r} is not a metric the project serves"


def alert_rules(project: Path) -> list[dict]:
    document = yaml.safe_load((project / "monitoring" / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def assert_monitoring(project: Path, combo: Combination) -> None:
    monitoring = project / "monitoring"
    run_promtool("check", "rules", "alerts.yml", cwd=monitoring)
    rules = alert_rules(project)
    served = served_metrics(project)
    assert_queries_use_served_metrics([rule["expr"] for rule in rules], served)
    limits = thresholds(combo)
    names = {(rule["alert"], rule["labels"].get("queue")) for rule in rules}
    for queue in limits:
        assert ("CeleryQueueBacklog", queue) in names and ("CeleryQueueNotConsumed", queue) in names
        # The age of the oldest message is measured on Redis only.
        assert (("CeleryQueueStale", queue) in names) == (combo.broker == "redis"), queue
    assert {rule["labels"].get("queue") for rule in rules} - {None} == set(limits)
    assert (("CeleryBeatSilent", None) in names) == (combo.beat_scheduler != "none")
    assert_dashboard(project, limits, served)
    assert_alerts_fire(project, combo, limits)


def assert_dashboard(project: Path, limits: dict[str, tuple[int, int]], served: set[str]) -> None:
    dashboard = json.loads((project / "monitoring" / "dashboard.json").read_text())
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(set(ids)) == len(ids), ids
    # Every panel within Grafana's 24 columns, none over another.
    cells = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        taken = set(
            itertools.product(
                range(grid["x"], grid["x"] + grid["w"]), range(grid["y"], grid["y"] + grid["h"])
            )
        )
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        cells |= taken
    # One stat of waiting messages per queue, red from its alert threshold on.
    stats = {p["title"].split(":")[0]: p for p in panels if p["type"] == "stat"}
    assert set(stats) == set(limits)
    for queue, (pending, _) in limits.items():
        steps = stats[queue]["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps[-1] == {"color": "red", "value": pending}, queue
    queries = [t["expr"] for p in panels for t in p.get("targets", [])]
    assert_queries_use_served_metrics(queries, served)
    # Each query parses: promtool checks them as recording rules.
    records = [{"record": f"dashboard:panel_{i}", "expr": q} for i, q in enumerate(queries)]
    check = project / "monitoring" / ".dashboard-queries.yml"
    check.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    try:
        run_promtool("check", "rules", check.name, cwd=check.parent)
    finally:
        check.unlink()


def alert(name: str, **labels: str) -> dict:
    return {"alertname": name, "labels": labels}


def assert_alerts_fire(
    project: Path, combo: Combination, limits: dict[str, tuple[int, int]]
) -> None:
    """promtool's unit tests of the alerts, on series made for this project's queues."""
    rules = {(r["alert"], r["labels"].get("queue")): r for r in alert_rules(project)}
    tests = []
    for queue, (pending, age) in limits.items():
        severity = rules[("CeleryQueueBacklog", queue)]["labels"]["severity"]
        depth = f'celery_queue_depth{{queue="{queue}"}}'
        consumed = f'celery_worker_consuming{{queue="{queue}"}}'
        # Over the threshold for 6 minutes with a worker consuming: a backlog, not an outage.
        backlog = [
            {"series": depth, "values": f"{pending + 1}x10"},
            {"series": consumed, "values": "1x10"},
        ]
        cases = [
            ("CeleryQueueBacklog", "6m", [{"severity": severity, "queue": queue}], pending + 1),
            ("CeleryQueueNotConsumed", "6m", [], None),
        ]
        if combo.broker == "redis":
            oldest = f'celery_queue_oldest_message_age_seconds{{queue="{queue}"}}'
            backlog.append({"series": oldest, "values": f"{age + 1}x10"})
            cases.append(("CeleryQueueStale", "2m", [{"severity": severity, "queue": queue}], None))
        tests.append((backlog, cases))
        # Three messages and no worker: not a backlog, but nothing consumes them.
        stopped = [{"series": depth, "values": "3x10"}]
        cases = [
            ("CeleryQueueNotConsumed", "3m", [{"severity": "critical", "queue": queue}], None),
            ("CeleryQueueBacklog", "6m", [], None),
        ]
        tests.append((stopped, cases))
        # An empty queue whose worker is gone (scaled to zero) is no incident.
        tests.append(
            ([{"series": depth, "values": "0x10"}], [("CeleryQueueNotConsumed", "6m", [], None)])
        )
    task, queue = "project.tasks.example", next(iter(limits))
    counter = f'{{task="{task}",queue="{queue}"}}'
    tasks = [
        {"series": f"celery_task_dead_lettered_total{counter}", "values": "0 0 1x10"},
        {"series": f"celery_task_failed_total{counter}", "values": "0+1x40"},
        {"series": f"celery_task_started_total{counter}", "values": "0+2x40"},
        {"series": "celery_broker_up", "values": "0x10"},
    ]
    cases = [
        ("CeleryTaskDeadLettered", "3m", [{"severity": "warning", "task": task}], None),
        ("CeleryTaskDeadLettered", "1m", [], None),
        ("CeleryTaskFailureRatio", "35m", [{"severity": "warning", "task": task}], 0.5),
        ("CeleryBrokerUnreachable", "3m", [{"severity": "critical"}], None),
    ]
    if combo.beat_scheduler != "none":
        # A tick at time 0, then none: silent past 10 minutes, for 5 more.
        tasks.append({"series": "celery_beat_last_tick_timestamp_seconds", "values": "0x30"})
        cases += [
            ("CeleryBeatSilent", "8m", [], None),
            ("CeleryBeatSilent", "17m", [{"severity": "critical"}], None),
        ]
    tests.append((tasks, cases))
    document = {
        "rule_files": ["alerts.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {
                        "eval_time": at,
                        "alertname": name,
                        "exp_alerts": [
                            {
                                "exp_labels": labels,
                                "exp_annotations": annotations(rules, name, labels, value),
                            }
                            for labels in expected
                        ],
                    }
                    for name, at, expected, value in cases
                ],
            }
            for series, cases in tests
        ],
    }
    path = project / "monitoring" / ".alerts-test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    try:
        run_promtool("test", "rules", path.name, cwd=path.parent)
    finally:
        path.unlink()


def annotations(rules: dict, name: str, labels: dict, value: float | None) -> dict:
    """The alert's annotations as Prometheus fills them in: promtool compares them too."""
    rule = rules[(name, labels.get("queue"))]
    return {key: fill(text, labels, value) for key, text in rule["annotations"].items()}


def fill(text: str, labels: dict, value: float | None) -> str:
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
    if value is not None:
        text = text.replace("{{ $value | humanizePercentage }}", f"{value * 100:g}%")
        text = text.replace("{{ $value }}", f"{value:g}")
    return text
