"""The base class of every task (set as the app's task_cls in config/celery.py)."""

import logging
import sys
import time
from typing import Any

from celery import Task
from celery.contrib.django.task import DjangoTask
from celery.exceptions import Reject, SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError

from config.queues import QUEUES

logger = logging.getLogger(__name__)


class TransientError(Exception):
    """A failure worth retrying: a timeout, a 5xx answer, a lost connection."""


class BaseTask(DjangoTask):
    """Logs with the task id, retries transient errors with backoff, dead-letters the rest.

    A task that failed because the database was unreachable, or whose dead letter cannot be
    written, goes back to the broker: it waits for the database instead of ending as a letter.

    `delay_on_commit` / `apply_async_on_commit` (from DjangoTask) send a task only once the
    current transaction commits; see dispatch.enqueue_on_commit when the id is needed.
    """

    # Only transient errors are retried: a permanent error must fail at once, not loop. A database
    # that is unreachable (OperationalError) or dropped its connection (InterfaceError) is too.
    autoretry_for = (
        TransientError,
        ConnectionError,
        TimeoutError,
        OperationalError,
        InterfaceError,
    )
    # Exponential backoff, jitter, cap and retry count: see TASK_RETRY_* in settings.
    retry_backoff = settings.TASK_RETRY_BACKOFF_SECONDS
    retry_backoff_max = settings.TASK_RETRY_BACKOFF_MAX_SECONDS
    retry_jitter = settings.TASK_RETRY_JITTER
    max_retries = settings.TASK_MAX_RETRIES

    # Celery's gevent pool enforces the hard time limit only: in its workers the soft one is raised
    # here, as prefork does, so that the task can clean up and is dead-lettered, not killed. Defined
    # there only: elsewhere Celery keeps calling the task body directly, with no wrapper per task.
    if getattr(settings, "GEVENT_WORKER", False):

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            soft = soft_time_limit(self)
            if not soft:
                return super().__call__(*args, **kwargs)
            # Loaded (and a dependency) wherever GEVENT_WORKER is true.
            timeout = sys.modules["gevent"].Timeout
            with timeout(soft, SoftTimeLimitExceeded(f"soft time limit ({soft} s) exceeded")):
                return super().__call__(*args, **kwargs)

    def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
        # The request context is per delivery: the start time travels with it to on_success.
        setattr(self.request, "started_at", time.monotonic())  # noqa: B010
        logger.info("task started", extra={"attempt": self.request.retries + 1})
        self._count("started")

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        logger.info("task succeeded", extra={"duration_s": self._duration()})
        self._count("succeeded")

    def on_retry(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        logger.warning(
            "task will retry: %r",
            exc,
            extra={"attempt": self.request.retries + 1, "duration_s": self._duration()},
        )
        self._count("retried")

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        from .dead_letters import dead_letter_record

        if database_unreachable(exc):
            # An outage, not a fault of the task: it runs again once the database is back (checked
            # on the error, not by reconnecting here: the server may be back by now).
            self._count("retried")
            self._send_back_to_broker(exc, "the database is unreachable")
            return
        logger.error("task failed for good: %r", exc, extra={"duration_s": self._duration()})
        delivery_info = self.request.delivery_info or {}
        try:
            dead_letter_record(
                task_id=task_id,
                task_name=self.name,
                queue=delivery_info.get("routing_key") or "",
                args=list(args or ()),
                kwargs=dict(kwargs or {}),
                exception=f"{type(exc).__name__}: {exc}",
                traceback=str(einfo.traceback if einfo else ""),
                attempts=self.request.retries + 1,
            )
        except DatabaseError as error:
            self._count("retried")
            self._send_back_to_broker(error, "its dead letter cannot be written")
            return
        self._count("failed")
        self._count("dead_lettered")

    def _send_back_to_broker(self, error: BaseException, why: str) -> None:
        """Without its dead letter, a task must not vanish: send it again, due after the longest
        retry wait, with its id, arguments, queue and place in a chain."""
        # The same wait as the longest retry: a database outage is not hammered every second.
        countdown = settings.TASK_RETRY_BACKOFF_MAX_SECONDS
        request = self.request
        again = self.signature_from_request(request, countdown=countdown, retries=request.retries)
        try:
            again.apply_async()
        except Exception as publish_error:
            # The broker is unreachable too: leave the message unacknowledged for redelivery.
            raise Reject(publish_error, requeue=True) from error
        logger.error(
            "task sent back to the broker, due in %s s: %s (%r)",
            countdown,
            why,
            error,
        )

    def _count(self, event: str) -> None:
        """One event of this run in the task metrics (core/metrics.py), with its duration."""
        # Imported when a task first runs, not with this class: a worker imports this class before
        # it sets up the metrics directory, which must come first (config/metrics.py).
        from .metrics import count_task_event

        count_task_event(self, event, self._duration())

    def _duration(self) -> float | None:
        started_at = getattr(self.request, "started_at", None)
        return None if started_at is None else round(time.monotonic() - started_at, 3)


def soft_time_limit(task: Task) -> float | None:
    """The soft time limit of the running task, as a prefork worker applies it: the message's
    (apply_async's soft_time_limit, or the task's own), else its queue's (config/queues.py)."""
    _, soft = task.request.timelimit or (None, None)
    if soft:
        return soft
    queue = (task.request.delivery_info or {}).get("routing_key") or ""
    return QUEUES.get(queue, {}).get("soft_time_limit")


# SQLSTATEs of a server that cannot take the connection: class 08 (connection exceptions) and
# these; a statement timeout (57014) or a deadlock (40P01) is the task's own failure instead.
UNREACHABLE_SQLSTATES = {
    "57P01",  # admin_shutdown: the server is stopping
    "57P02",  # crash_shutdown: another server process crashed
    "57P03",  # cannot_connect_now: the server is starting up
    "53300",  # too_many_connections
}


def database_unreachable(error: BaseException) -> bool:
    """Whether a failure means the database could not be reached, rather than that a query failed.

    Django wraps the driver's exception (psycopg's, as the cause); a connection Django had
    already closed raises InterfaceError. A driver error without a SQLSTATE never got an answer
    from the server (refused, reset, timed out).
    """
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError) or error.__cause__ is None:
        return False
    sqlstate = getattr(error.__cause__, "sqlstate", "")
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in UNREACHABLE_SQLSTATES
