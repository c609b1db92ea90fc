"""Boot checks of the Prometheus metrics each process serves (a project's config/metrics.py).

The samples are read by the boot's driver, with the project's own prometheus-client parser.
"""

import ast
import time
from pathlib import Path

from .checks import http, wait_until
from .processes import ProcessGroup
from .prometheus import INTERVAL_SECONDS, query
from .services import port_open

# The task counters of core/metrics.py, by the event of a run each counts.
TASK_COUNTERS = ("started", "succeeded", "retried", "failed", "dead_lettered")


def metrics_ports(project: Path, base: int) -> dict[str, int]:
    """Each process's metrics port as the project computes it: METRICS_BASE_PORT + its offset."""
    tree = ast.parse((project / "config" / "metrics.py").read_text())
    (offsets,) = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(getattr(t, "id", "") == "METRICS_PORT_OFFSETS" for t in node.targets)
    ]
    return {name: base + offset for name, offset in offsets.items()}


def worker(queue: str) -> str:
    """The process (and metrics port) name of a queue's worker, as the process table names it."""
    return f"worker-{queue.replace('_', '-')}"


def scrape(group: ProcessGroup, port: int) -> list[tuple[str, dict, float]]:
    return [(name, labels, value) for name, labels, value in group.driver("metrics", str(port))]


def value(samples: list[tuple[str, dict, float]], name: str, **labels: str) -> float:
    """The sum of the samples of that name whose labels include the given ones (0 if none)."""
    return sum(v for n, have, v in samples if n == name and labels.items() <= have.items())


def task_counts(samples: list, task: str, queue: str) -> dict[str, float]:
    counts = {
        e: value(samples, f"celery_task_{e}_total", task=task, queue=queue) for e in TASK_COUNTERS
    }
    counts["sent"] = value(samples, "celery_task_sent_total", task=task, queue=queue)
    counts["timed"] = value(samples, "celery_task_duration_seconds_count", task=task, queue=queue)
    return counts


def listening_addresses(port: int) -> set[str]:
    """The local addresses a socket listens on at that port, read from /proc/net/tcp{,6}."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                addresses.add(address)
    return addresses


# 127.0.0.1 as /proc/net/tcp writes it (little-endian hex).
LOOPBACK = "0100007F"


def check_metrics_are_private(group: ProcessGroup, web: str, ports: dict[str, int]) -> None:
    """No metrics on the public web port; each metrics port listens on loopback only (the
    default METRICS_ADDRESS), where a process of the table serves it."""
    status, _ = http(f"{web}/metrics")
    assert status == 404, status
    for name, port in ports.items():
        if name in group.processes:
            wait_until(lambda port=port: port_open(port), f"{name}'s metrics port", group)
            assert listening_addresses(port) == {LOOPBACK}, (name, listening_addresses(port))


def check_web_counts_what_it_sends(group: ProcessGroup, ports: dict[str, int], slug: str) -> None:
    """The pipeline's webhook, accepted once by web (gunicorn), sent its first task from there."""
    samples = scrape(group, ports["web"])
    task = f"{slug}.payments.tasks.record_payment"
    assert value(samples, "celery_task_sent_total", task=task) == 1, samples
    # django-prometheus's request counts, by status (202 accepted, 403 replayed, 400 malformed).
    for status in ("202", "403", "400"):
        assert value(samples, "django_http_responses_total_by_status_total", status=status) >= 1


def snapshot(group: ProcessGroup, ports: dict[str, int], queue: str, slug: str) -> dict:
    samples = scrape(group, ports[worker(queue)])
    names = ("fail_transiently", "fail")
    return {name: task_counts(samples, f"{slug}.core.tasks.{name}", queue) for name in names}


def check_task_counters(
    group: ProcessGroup, ports: dict[str, int], queue: str, slug: str, before: dict
) -> None:
    """The worker counted the scenarios' runs, from whichever of its children ran them: the
    transient failure's three runs (two retried, sent again by the worker, then a success), and
    the permanent failure's two (the first and its replay), each failed and dead-lettered."""
    expected = {
        "fail_transiently": {"started": 3, "retried": 2, "succeeded": 1, "sent": 2, "timed": 3},
        "fail": {"started": 2, "failed": 2, "dead_lettered": 2, "timed": 2},
    }
    seen: list[dict] = []

    def counted() -> bool:
        after = snapshot(group, ports, queue, slug)
        moved = {
            name: {
                k: after[name][k] - before[name][k]
                for k in after[name]
                if after[name][k] != before[name][k]
            }
            for name in after
        }
        seen[:] = [moved]
        return moved == expected

    wait_until(counted, lambda: f"task counters moved as expected (last: {seen})", group)


def check_queue_metrics_rise(
    group: ProcessGroup, ports: dict[str, int], queue: str, measures_age: bool
) -> None:
    """With the queue's worker stopped and tasks waiting, web's metrics show them waiting (and
    on Redis for longer at each scrape), and no served metric says a worker consumes the queue."""
    assert not group.processes[worker(queue)].running()
    assert not port_open(ports[worker(queue)]), "a stopped worker's metrics port still answers"
    first = scrape(group, ports["web"])
    assert value(first, "celery_broker_up") == 1
    assert value(first, "celery_queue_depth", queue=queue) >= 4, first
    consuming = [
        value(scrape(group, port), "celery_worker_consuming", queue=queue)
        for name, port in ports.items()
        if name in group.processes and group.processes[name].running()
    ]
    assert not any(consuming), consuming
    if not measures_age:
        return
    age = value(first, "celery_queue_oldest_message_age_seconds", queue=queue)
    time.sleep(1)
    later = value(
        scrape(group, ports["web"]), "celery_queue_oldest_message_age_seconds", queue=queue
    )
    assert 0 < age < later, (age, later)


def check_worker_says_what_it_consumes(
    group: ProcessGroup, ports: dict[str, int], queues: list[str]
) -> None:
    for queue in queues:
        samples = scrape(group, ports[worker(queue)])
        consumed = {
            labels["queue"] for n, labels, v in samples if n == "celery_worker_consuming" and v == 1
        }
        assert consumed == {queue}, (queue, consumed)


def check_beat_metrics(group: ProcessGroup, ports: dict[str, int], slug: str) -> None:
    """Beat says when it last went over its schedule, and counts the tasks it sent."""
    samples = scrape(group, ports["beat"])
    tick = value(samples, "celery_beat_last_tick_timestamp_seconds")
    assert 0 < time.time() - tick < 30, tick
    task = f"{slug}.payments.tasks.reconcile_ledger"
    assert value(samples, "celery_task_sent_total", task=task) >= 1, samples


def check_prometheus_scrapes_every_process(group: ProcessGroup, base: str, jobs: list[str]) -> None:
    """Every process's metrics port is up for Prometheus, and no queue alert is pending."""

    def all_up() -> bool:
        return {r["metric"]["job"]: r["value"][1] for r in query(base, "up")} == dict.fromkeys(
            jobs, "1"
        )

    wait_until(all_up, lambda: f"every target up (last: {query(base, 'up')})", group, timeout=15)
    assert not query(base, 'ALERTS{alertname="CeleryQueueNotConsumed"}')


def check_prometheus_sees_a_stopped_queue(group: ProcessGroup, base: str, queue: str) -> float:
    """With the queue's worker stopped and messages waiting, Prometheus (scraping every second)
    marks the worker's target down and puts CeleryQueueNotConsumed in its pending state within
    a few scrape intervals; returns how many seconds that took."""
    started = time.monotonic()
    pending = f'ALERTS{{alertname="CeleryQueueNotConsumed",queue="{queue}",alertstate="pending"}}'
    wait_until(lambda: query(base, pending), f"{queue}'s alert pending", group, timeout=15)
    seconds = time.monotonic() - started
    assert [r["value"][1] for r in query(base, f'up{{job="{worker(queue)}"}}')] == ["0"]
    assert seconds <= 3 * INTERVAL_SECONDS, seconds
    return seconds
