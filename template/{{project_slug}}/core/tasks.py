"""Tasks of the task infrastructure itself."""

import socket

from celery import shared_task


@shared_task(bind=True)
def ping(self) -> dict[str, str]:
    """Answer which worker and queue ran this task: a probe for deployments and tests."""
    delivery_info = self.request.delivery_info or {}
    return {
        "hostname": self.request.hostname or socket.gethostname(),
        "queue": delivery_info.get("routing_key") or "",
    }
