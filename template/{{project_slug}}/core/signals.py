"""Celery signal handlers: stamp outgoing task messages, restore the request id inside tasks."""

import time
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun

from .queue_stats import ENQUEUED_AT_HEADER
from .request_id import request_id_var

REQUEST_ID_MESSAGE_HEADER = "request_id"


@before_task_publish.connect
def stamp_message(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Carry the caller's request id, and the send time the queue health check reads."""
    if headers is None:
        return
    headers.setdefault(REQUEST_ID_MESSAGE_HEADER, request_id_var.get())
    headers[ENQUEUED_AT_HEADER] = time.time()


@task_prerun.connect
def restore_request_id(task: Any = None, **_: Any) -> None:
    """Inside a task, log lines and the tasks it sends carry the originating request's id."""
    request_id = getattr(task.request, REQUEST_ID_MESSAGE_HEADER, None) if task else None
    request_id_var.set(request_id)


@task_postrun.connect
def clear_request_id(**_: Any) -> None:
    request_id_var.set(None)
