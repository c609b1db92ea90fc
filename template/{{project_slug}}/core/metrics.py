"""Task and queue metrics in Prometheus' format, served by each process (config/metrics.py).

Every task's life is counted per task name and queue: sent, started, then one of succeeded,
retried (a retry, or a task sent back while the database is unreachable) and failed (for good:
past its retries, or a permanent error); dead-lettered counts the failures recorded as dead letters.
The template's documentation (docs/metrics.md) says what each one means.
"""

import time
from collections.abc import Iterable, Iterator
from typing import Any

from celery import current_app
from celery.signals import before_task_publish
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from config.queues import DEFAULT_QUEUE, QUEUES, TASK_ROUTES

from .queue_stats import queue_stats

# Every metric here has labels, so none has a value before its first use: a worker's parent has
# set up its children's metrics directory by then (config/metrics.py).
LABELS = ("task", "queue")

TASKS_SENT = Counter("celery_task_sent", "Tasks published to the broker.", LABELS)
TASKS_STARTED = Counter("celery_task_started", "Task runs started by a worker.", LABELS)
TASKS_SUCCEEDED = Counter("celery_task_succeeded", "Task runs that returned.", LABELS)
TASKS_RETRIED = Counter("celery_task_retried", "Task runs that will run again.", LABELS)
TASKS_FAILED = Counter("celery_task_failed", "Task runs that failed for good.", LABELS)
TASKS_DEAD_LETTERED = Counter(
    "celery_task_dead_lettered", "Failed tasks recorded as dead letters.", LABELS
)
# Up to the longest hard time limit of the queue table (25 minutes): Prometheus' default buckets
# stop at 10 s, where a report task only starts.
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1500)
TASK_DURATION = Histogram(
    "celery_task_duration_seconds",
    "Seconds from a task run's start to its end, whatever the outcome.",
    LABELS,
    buckets=DURATION_BUCKETS,
)
# Set by a worker's parent process when it starts consuming; gone when it stops (its scrape fails).
WORKER_CONSUMING = Gauge(
    "celery_worker_consuming",
    "1 for each queue a running worker consumes.",
    ("queue",),
    multiprocess_mode="max",
)


@before_task_publish.connect
def count_sent(
    sender: str | None = None, routing_key: str = "", headers: Any = None, **_: Any
) -> None:
    """Counted where it is sent: web, a worker (chains, retries) or Beat."""
    name = (headers or {}).get("task") or sender or ""
    TASKS_SENT.labels(task=name, queue=routing_key).inc()


COUNTERS = {
    "started": TASKS_STARTED,
    "succeeded": TASKS_SUCCEEDED,
    "retried": TASKS_RETRIED,
    "failed": TASKS_FAILED,
    "dead_lettered": TASKS_DEAD_LETTERED,
}
# The events that end a run: its duration goes into the histogram.
ENDINGS = {"succeeded", "retried", "failed"}


def count_task_event(task: Any, event: str, duration: float | None) -> None:
    """Count one event of a task run (BaseTask calls this) under its task name and queue."""
    queue = (task.request.delivery_info or {}).get("routing_key") or ""
    COUNTERS[event].labels(task=task.name, queue=queue).inc()
    if event in ENDINGS and duration is not None:
        TASK_DURATION.labels(task=task.name, queue=queue).observe(duration)


def count_from_zero(app: Any, queues: Iterable[str]) -> None:
    """Give each task routed to these queues a 0 of every counter: a series that first appears at
    1 has no earlier sample, and rate() and increase() miss that first event (a dead letter)."""
    for name in app.tasks:
        queue = TASK_ROUTES.get(name, {}).get("queue", DEFAULT_QUEUE)
        if name.startswith("celery.") or queue not in queues:
            continue
        for counter in COUNTERS.values():
            counter.labels(task=name, queue=queue)
        TASK_DURATION.labels(task=name, queue=queue)


class QueueCollector:
    """Each queue's depth and the age of its oldest message, asked of the broker at each scrape.

    Served by the web process only: the queue of a stopped worker is still measured.
    """

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("celery_broker_up", "1 when the broker answered this scrape.")
        depth = GaugeMetricFamily(
            "celery_queue_depth", "Messages waiting in the queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "celery_queue_oldest_message_age_seconds",
            "Seconds since the oldest waiting message was sent (Redis only; 0 when empty).",
            labels=["queue"],
        )
        started = time.monotonic()
        try:
            stats = queue_stats(current_app, list(QUEUES))
        except Exception:  # noqa: BLE001 - an unreachable broker is reported, not raised
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for stat in stats:
            depth.add_metric([stat.name], stat.pending)
            if not stat.pending:
                age.add_metric([stat.name], 0)
            elif stat.oldest_age_seconds is not None:
                age.add_metric([stat.name], stat.oldest_age_seconds)
        yield from (up, depth, age)
        yield GaugeMetricFamily(
            "celery_queue_scrape_seconds",
            "Seconds the broker took to answer for every queue.",
            value=time.monotonic() - started,
        )

    def describe(self) -> list[Metric]:
        # No metrics are collected at registration (that would ask the broker).
        return []
