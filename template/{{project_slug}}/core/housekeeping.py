"""Housekeeping: rows the task infrastructure keeps only for a while, deleted once expired.

Beat sends `tasks.purge_idempotency_keys` every HOUSEKEEPING_EVERY_SECONDS; a project without Beat
has its default queue's worker send it (config/celery.py). Each run deletes only what has
expired, so a second run, or two at once, deletes nothing more.
"""

import logging
from datetime import timedelta

from django.utils import timezone

from .models import IdempotencyKey

logger = logging.getLogger(__name__)


def idempotency_keys_purge(*, older_than: timedelta, batch_size: int = 10_000) -> int:
    """Delete the idempotency keys claimed more than `older_than` ago; return how many.

    In batches, each its own short statement, so a purge never holds a long lock on the table
    that every claim writes to.
    """
    cutoff = timezone.now() - older_than
    expired = IdempotencyKey.objects.filter(created_at__lt=cutoff)
    deleted = 0
    while batch := list(expired.values_list("pk", flat=True)[:batch_size]):
        deleted += IdempotencyKey.objects.filter(pk__in=batch).delete()[0]
    logger.info("idempotency keys purged", extra={"deleted": deleted, "cutoff": cutoff.isoformat()})
    return deleted
