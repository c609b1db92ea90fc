"""Log filters: every line carries the request id and, inside a task, the task's id and name.

The JSON formatter is python-json-logger's (settings LOGGING): it writes these fields and every
field a call passes with `extra={...}`.
"""

import logging

from celery import current_task
from celery.app.trace import LOG_SUCCESS

from .request_id import request_id_var


class ContextFilter(logging.Filter):
    """Attach the current request id and task to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        # current_task is a proxy: falsy outside a task, and a task called directly has no id.
        in_task = bool(current_task) and current_task.request.id is not None
        record.task_id = current_task.request.id if in_task else None
        record.task_name = current_task.name if in_task else None
        return True


class DropCelerySuccessLine(logging.Filter):
    """Drop Celery's own "Task ... succeeded in ...s: <value>" line (logger celery.app.trace).

    BaseTask logs "task succeeded" with the task id and duration as fields; Celery's line repeats it
    with the task's return value, which may hold personal data. Its retry and failure lines stay.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg is not LOG_SUCCESS
