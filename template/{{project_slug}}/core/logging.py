"""JSON log lines that carry the request id and, inside a task, the task's id and name."""

import json
import logging
from datetime import UTC, datetime

from celery import current_task
from celery.app.trace import LOG_SUCCESS

from .request_id import request_id_var

# Extra fields that code passes with `extra={...}` and that belong in the JSON line.
_EXTRA_FIELDS = ("attempt", "duration_s", "queue")


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


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "task_id": getattr(record, "task_id", None),
            "task_name": getattr(record, "task_name", None),
        }
        line.update({key: getattr(record, key) for key in _EXTRA_FIELDS if hasattr(record, key)})
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)
