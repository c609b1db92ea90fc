"""Health endpoints: liveness for the orchestrator, queue health for alerting.

They answer anyone: a failure names the component that failed, never its error (which can hold
host, database and user names); the error goes to the log.
"""

import logging

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse

from .queue_stats import queue_stats

logger = logging.getLogger(__name__)


def unavailable(component: str) -> JsonResponse:
    """503 naming the component that failed; the exception being handled is logged, not shown."""
    logger.exception("health check: %s unavailable", component)
    return JsonResponse({"status": "unavailable", "component": component}, status=503)


# Health checks open no transaction (ATOMIC_REQUESTS): liveness must not depend on the database.
@transaction.non_atomic_requests
def live(request: HttpRequest) -> JsonResponse:
    """The process answers: nothing else is checked (a liveness probe must not fail on a broker)."""
    return JsonResponse({"status": "ok"})


@transaction.non_atomic_requests
def ready(request: HttpRequest) -> JsonResponse:
    """The database answers: the web process can serve requests."""
    try:
        connection.ensure_connection()
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return unavailable("database")
    return JsonResponse({"status": "ok"})


@transaction.non_atomic_requests
def queues(request: HttpRequest) -> JsonResponse:
    """Pending count and oldest-message age per queue; 503 once any queue crosses a threshold."""
    max_pending = settings.QUEUE_HEALTH_MAX_PENDING
    max_age = settings.QUEUE_HEALTH_MAX_AGE_SECONDS
    names = [queue.name for queue in settings.CELERY_TASK_QUEUES]
    try:
        stats = queue_stats(current_app, names)
    except Exception:  # noqa: BLE001 - an unreachable broker is itself unhealthy
        return unavailable("broker")
    report = {}
    overloaded = False
    for stat in stats:
        too_old = stat.oldest_age_seconds is not None and stat.oldest_age_seconds > max_age
        queue_overloaded = stat.pending > max_pending or too_old
        overloaded = overloaded or queue_overloaded
        report[stat.name] = {
            "pending": stat.pending,
            "oldest_age_seconds": stat.oldest_age_seconds,
            "overloaded": queue_overloaded,
        }
    return JsonResponse(
        {
            "status": "overloaded" if overloaded else "ok",
            "thresholds": {"max_pending": max_pending, "max_age_seconds": max_age},
            "queues": report,
        },
        status=503 if overloaded else 200,
    )
