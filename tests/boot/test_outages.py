"""Outages, measured: the broker, the database or the result backend goes away for a while with
tasks in flight, comes back, and nothing was lost.

Each test starts the server it breaks itself (a Redis, a RabbitMQ node or a PostgreSQL server of
its own, never the machine's shared ones), renders a one-queue project, starts its worker with
the Procfile's line, sends N core.tasks.record tasks (each works for a moment, then records its key
once in the database), stops the server for OUTAGE_SECONDS mid-run, starts it again and waits
until every key is recorded. Figures (sent / completed / lost / duplicated) are printed as
`delivery: {...}` lines, as the delivery tests print theirs.
"""

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.boot.checks import sql, wait_until
from support.boot.delivery import (
    TASKS,
    logs,
    recorded,
    report,
    report_at_most_the_handed_over_lost,
    start_project,
    start_worker,
)
from support.boot.environment import RUN
from support.boot.processes import DRIVER, ProcessGroup
from support.boot.services import (
    PostgresServer,
    RabbitMQNode,
    RedisServer,
    drop_all,
    free_port,
    redis_server,
)

pytestmark = pytest.mark.boot

# Long enough that every task still queued meets the outage, and (below) that the retries of a
# task run out while the database is down, and the Redis result backend's own 20 one-second
# tries run out before the result backend comes back.
OUTAGE_SECONDS = 15
RESULT_BACKEND_OUTAGE_SECONDS = 25
# A production retry policy, shortened so that it runs out within the outage: 1 s then 2 s of
# backoff (with jitter), two retries, and a task sent back to the broker comes again after 4 s.
SHORT_RETRIES = {
    "TASK_RETRY_BACKOFF_SECONDS": "1",
    "TASK_RETRY_BACKOFF_MAX_SECONDS": "4",
    "TASK_MAX_RETRIES": "2",
}
# The session Redis's databases for the brokers of these tests (above the boot combinations').
REDIS_DATABASE_OUTAGE_DB = 501
REDIS_RESULT_OUTAGE_DB = 502


@pytest.fixture
def own_broker(request, tmp_path: Path):
    """A broker of this test's own, to stop: Redis with its append-only file, or a RabbitMQ node
    with durable queues on disk."""
    broker = request.param
    if broker == "redis":
        service = RedisServer(port=free_port(), data_dir=tmp_path / "redis")
        service.data_dir.mkdir()
        url = f"{service.url}/0"
    else:
        # Not under pytest's temporary folder: the rabbitmq user cannot enter that one.
        data_dir = Path(tempfile.mkdtemp(prefix="cdc-rabbitmq-"))
        name = "cdc-restart@localhost"
        service = RabbitMQNode(data_dir=data_dir, port=free_port(), name=name)
        url = service.url
    service.start()
    yield broker, service, url
    service.stop()
    if broker == "rabbitmq":
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.parametrize("own_broker", ["redis", "rabbitmq"], indirect=True)
def test_broker_outage_loses_no_task(own_broker, render, boot_dir) -> None:
    broker, server, url = own_broker
    name = f"cdc_restart_{broker}_{RUN}"
    group, database = start_project(broker, url, render, boot_dir, name)
    with group.running(cleanup=lambda: drop_all(name)):
        output = group.run("send", f"python {DRIVER} records default {TASKS} 0.3")
        sent = json.loads(output.strip().splitlines()[-1])
        wait_until(lambda: recorded(database) >= 8, "tasks under way", group)
        server.stop()
        time.sleep(OUTAGE_SECONDS)
        server.start()
        restart_if_it_exited(group, "worker-default")
        # Redis may stop between handing a message to the worker and kombu recording it as
        # unacknowledged. Seen in one CI run: record-32, in neither the list nor the unacked hash.
        what = f"broker down {OUTAGE_SECONDS} s"
        report_at_most_the_handed_over_lost(group, database, broker, url, what, sent)


def restart_if_it_exited(group: ProcessGroup, name: str) -> None:
    """Start the worker again if the outage ended it, as compose's restart policy and Kubernetes
    do: what is measured is that no task is lost, with late acks, across the restart.

    Seen once in a clean-clone CI run on Redis: kombu, closing the dead connection, raised
    `'NoneType' object has no attribute 'hostname'` and the worker stopped (Unrecoverable error).
    """
    time.sleep(2)
    worker = group.processes[name]
    if not worker.running():
        print(f"{name} exited during the outage (code {worker.popen.returncode}): restarted")
        start_worker(group, worker.command, name)


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    # Not under pytest's temporary folder: the postgres user cannot enter that one.
    folder = Path(tempfile.mkdtemp(prefix="cdc-postgres-"))
    server = PostgresServer(data_dir=folder / "data", port=free_port())
    server.create()
    server.start()
    yield server
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
        server.stop("immediate")
    shutil.rmtree(folder, ignore_errors=True)


def test_database_outage_loses_no_task(own_postgres, render, boot_services, boot_dir) -> None:
    name = f"cdc_dbdown_{RUN}"
    url = f"{boot_services['redis'].url}/{REDIS_DATABASE_OUTAGE_DB}"
    group, database = start_project(
        "redis", url, render, boot_dir, name, postgres=own_postgres.url, **SHORT_RETRIES
    )
    with group.running():
        group.run("send", f"python {DRIVER} records default {TASKS} 0.3")
        wait_until(lambda: recorded(database) >= 8, "tasks under way", group)
        # A crash, not a clean shutdown: open connections break mid-query.
        own_postgres.stop("immediate")
        time.sleep(OUTAGE_SECONDS)
        own_postgres.start()
        figures = report(group, database, "redis", url, f"database down {OUTAGE_SECONDS} s")
        assert figures["lost"] == 0
        text = logs(group)
        # Both paths ran: tasks retried with backoff, and tasks whose retries ran out while the
        # dead letter could not be written went back to the broker (and ran once it was back).
        assert "task will retry" in text
        assert "task sent back to the broker" in text
        assert sql(database, "SELECT count(*) FROM core_deadletter") == "0"


@pytest.fixture
def own_results_redis(boot_dir: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own for the results, to stop (the broker is the session's)."""
    (boot_dir / "results").mkdir()
    with redis_server(boot_dir / "results") as server:
        yield server


def test_result_backend_outage_loses_no_result(
    own_results_redis, render, boot_services, boot_dir
) -> None:
    name = f"cdc_resultsdown_{RUN}"
    results = own_results_redis
    url = f"{boot_services['redis'].url}/{REDIS_RESULT_OUTAGE_DB}"
    backend = f"{results.url}/0"
    group, database = start_project(
        "redis", url, render, boot_dir, name, result_backend="redis", CELERY_RESULT_BACKEND=backend
    )

    def stored(task_ids: list[str]) -> int:
        keys = [f"celery-task-meta-{task_id}" for task_id in task_ids]
        command = ["redis-cli", "-u", backend, "EXISTS", *keys]
        return int(subprocess.run(command, capture_output=True, text=True).stdout.strip() or 0)

    with group.running(cleanup=lambda: drop_all(name)):
        output = group.run("send", f"python {DRIVER} records default {TASKS} 0.3")
        task_ids = json.loads(output.strip().splitlines()[-1])
        wait_until(lambda: recorded(database) >= 8, "tasks under way", group)
        results.stop()
        time.sleep(RESULT_BACKEND_OUTAGE_SECONDS)
        results.start()
        what = f"result backend down {RESULT_BACKEND_OUTAGE_SECONDS} s"
        figures = report(group, database, "redis", url, what)
        wait_until(
            lambda: stored(task_ids) == TASKS,
            lambda: f"results stored: {stored(task_ids)} of {TASKS}",
            group,
            120,
        )
        print(f"delivery: {json.dumps({'test': what, 'results stored': stored(task_ids)})}")
        assert figures["lost"] == 0
