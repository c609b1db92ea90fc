"""Per-queue depth and age of the oldest message, read from the broker."""

import json
import time
from dataclasses import dataclass
from typing import Any

from celery import Celery

# Header stamped on every task message at publish time (see signals.py).
ENQUEUED_AT_HEADER = "enqueued_at"


@dataclass(frozen=True)
class QueueStat:
    name: str
    pending: int
    # Seconds since the oldest waiting message was sent; None where the broker cannot peek.
    oldest_age_seconds: float | None


def queue_stats(app: Celery, queue_names: list[str]) -> list[QueueStat]:
    """Ask the broker how many messages wait in each queue, and how old the oldest one is."""
    stats = []
    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1)
        for name in queue_names:
            try:
                channel: Any  # a transport's channel: StdChannel declares no queue_declare
                with connection.channel() as channel:
                    pending = channel.queue_declare(queue=name, passive=True).message_count
            except connection.channel_errors:
                # The queue was never declared, or (Redis) it is empty and so has no key.
                pending = 0
            oldest = _oldest_age_redis(connection, name) if pending else None
            stats.append(QueueStat(name=name, pending=pending, oldest_age_seconds=oldest))
    return stats


def _oldest_age_redis(connection: Any, queue: str) -> float | None:
    """Peek at the oldest message of a Redis queue without taking it; None for other brokers."""
    if connection.transport.driver_type != "redis":
        return None
    channel = connection.default_channel
    oldest: float | None = None
    # kombu keeps one list per priority step; each list's oldest message sits at its tail.
    for priority in channel.priority_steps:
        raw = channel.client.lindex(channel._q_for_pri(queue, priority), -1)
        if raw is None:
            continue
        enqueued_at = json.loads(raw).get("headers", {}).get(ENQUEUED_AT_HEADER)
        if enqueued_at is not None:
            oldest = max(oldest or 0.0, time.time() - float(enqueued_at))
    return oldest
