"""Diagnostic tasks: prove a deployment's Celery wiring end to end, from a shell or a test.

    from celery import chord
    ping.apply_async(queue="default").get(timeout=10)  # which worker and queue ran it
    chord(add.s(i, i) for i in range(10))(total.s()).get(timeout=30)  # 90: canvas and results
    fail_transiently.delay("probe", 2)  # retries twice with backoff, then succeeds
    fail.delay()  # ends as one dead letter, to replay from the admin

They live in this module because Celery's autodiscovery registers `<app>.tasks` with every
worker. Unrouted, they run on the default queue unless sent with queue=...

`purge_idempotency_keys` is housekeeping, not a diagnostic: Beat sends it (or, without Beat, the
default queue's worker does; housekeeping.py).
"""

import logging
import socket
import time
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from .base_task import TransientError
from .housekeeping import idempotency_keys_purge
from .idempotency import idempotency_key_claim

logger = logging.getLogger(__name__)


@shared_task
def add(x: int, y: int) -> int:
    return x + y


@shared_task
def total(values: list[int]) -> int:
    """A chord's callback: the sum of its members' results."""
    return sum(values)


@shared_task
def fail(message: str = "diagnostic failure") -> None:
    """Fail for good (a permanent error): ends as one dead letter."""
    raise RuntimeError(message)


@shared_task(bind=True)
def fail_transiently(self, key: str, failures: int) -> int:
    """Raise TransientError on the first `failures` runs, then succeed; return the run count."""
    if self.request.retries < failures:
        raise TransientError(f"{key}: transient failure {self.request.retries + 1}/{failures}")
    return self.request.retries + 1


@shared_task
def record(key: str, seconds: float = 0.0) -> bool:
    """Work for `seconds`, then record `key` once; a redelivered duplicate is absorbed and logged.

    Returns whether this run recorded the key.
    """
    time.sleep(seconds)
    recorded = idempotency_key_claim(key)
    if not recorded:
        logger.warning("duplicate absorbed: %s", key)
    return recorded


@shared_task(bind=True)
def ping(self) -> dict[str, str]:
    """Answer which worker and queue ran this task."""
    delivery_info = self.request.delivery_info or {}
    return {
        "hostname": self.request.hostname or socket.gethostname(),
        "queue": delivery_info.get("routing_key") or "",
    }


@shared_task
def purge_idempotency_keys() -> int:
    """Delete the idempotency keys older than IDEMPOTENCY_KEY_MAX_AGE_DAYS; return how many."""
    return idempotency_keys_purge(older_than=timedelta(days=settings.IDEMPOTENCY_KEY_MAX_AGE_DAYS))
