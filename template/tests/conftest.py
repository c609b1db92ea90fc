import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from config.celery import app


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.1)


@pytest.fixture
def signed_post(client):
    """POST a JSON body the way the payment provider does: signed with the shared secret."""

    def post(path: str, payload: dict, secret: str | None = None):
        body = json.dumps(payload).encode()
        key = (secret or settings.PAYMENTS_WEBHOOK_SECRET).encode()
        signature = hmac.new(key, body, hashlib.sha256).hexdigest()
        return client.post(
            path, body, content_type="application/json", HTTP_X_WEBHOOK_SIGNATURE=signature
        )

    return post


@pytest.fixture(scope="session")
def purged_broker() -> None:
    """The broker from CELERY_BROKER_URL, reachable, with this project's queues emptied once.

    Once per session: SQS allows one purge of a queue per 60 seconds.
    """
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(
            f"no broker at {settings.CELERY_BROKER_URL} ({exc}); start it, or deselect "
            "these tests with -m 'not integration'"
        )
    app.control.purge()


@pytest.fixture
def running_worker(purged_broker, transactional_db) -> Iterator[None]:
    """A real Celery worker, in a thread of this process, consuming every queue on the broker."""
    queues = ",".join(queue.name for queue in settings.CELERY_TASK_QUEUES)
    with start_worker(app, pool="solo", perform_ping_check=False, queues=queues):
        yield
