"""On-commit dispatch: a task leaves for the broker only once the row it needs is committed.

Prefer the task's own `delay_on_commit(...)` / `apply_async_on_commit(...)`; they return nothing.
Use `enqueue_on_commit` when the caller needs the task id (to store it or poll its result).
"""

from functools import partial
from typing import Any

from celery import Task
from celery.utils import uuid
from django.db import transaction


def enqueue_on_commit(
    task: Task, args: tuple = (), kwargs: dict | None = None, **options: Any
) -> str:
    """Send `task` after the current transaction commits (at once outside one); return its id.

    Nothing is sent if the transaction rolls back.
    """
    task_id = options.pop("task_id", None) or uuid()
    send = partial(task.apply_async, args=args, kwargs=kwargs or {}, task_id=task_id, **options)
    transaction.on_commit(send)
    return task_id
