"""Services for dead letters: record a final failure, replay it, purge old ones."""

from datetime import timedelta
from functools import partial

from celery import current_app
from celery.utils import uuid
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .models import DeadLetter


def dead_letter_record(
    *,
    task_id: str,
    task_name: str,
    queue: str,
    args: list,
    kwargs: dict,
    exception: str,
    traceback: str,
    attempts: int,
) -> DeadLetter:
    """Keep one row per task id, even if a redelivered copy fails again."""
    letter, _ = DeadLetter.objects.update_or_create(
        task_id=task_id,
        defaults={
            "task_name": task_name,
            "queue": queue,
            "args": args,
            "kwargs": kwargs,
            "exception": exception,
            "traceback": traceback,
            "attempts": attempts,
        },
    )
    return letter


def dead_letter_replay(*, letter: DeadLetter) -> str:
    """Send the task again with its original arguments and queue, once this is committed.

    Returns the id the replayed task will run under.
    """
    task_id = uuid()
    with transaction.atomic():
        letter.replayed_at = timezone.now()
        letter.replay_task_id = task_id
        letter.save(update_fields=["replayed_at", "replay_task_id"])
        transaction.on_commit(
            partial(
                current_app.send_task,
                letter.task_name,
                args=letter.args,
                kwargs=letter.kwargs,
                task_id=task_id,
                queue=letter.queue or None,
            )
        )
    return task_id


def dead_letters_purge(*, older_than: timedelta | None = None, replayed_only: bool = False) -> int:
    """Delete dead letters (older than the given age, or only replayed ones); return how many."""
    letters: QuerySet[DeadLetter] = DeadLetter.objects.all()
    if older_than is not None:
        letters = letters.filter(failed_at__lt=timezone.now() - older_than)
    if replayed_only:
        letters = letters.filter(replayed_at__isnull=False)
    deleted, _ = letters.delete()
    return deleted
