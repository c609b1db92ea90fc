"""Delivery guarantees, measured per broker: nothing is lost when a worker is killed mid-run or
the broker restarts with tasks queued and in flight.

Each test renders a one-queue project for the broker (the gevent test: the workload topology, for
its gevent queue), starts its worker with the Procfile's line, sends N tasks that each work for a
moment and then record their key once in the database (core.tasks.record), breaks something
mid-run, and waits until every key is recorded. A redelivered duplicate is absorbed by the
idempotency key and logged; duplicates are counted and reported (at-least-once delivery allows
them), losses fail the test.
"""

import json
import os
import signal
import time

import pytest

from support.boot.checks import sql, wait_until
from support.boot.delivery import (
    GEVENT_SETTINGS,
    TASKS,
    broker_url_for,
    children,
    recorded,
    report_at_most_the_handed_over_lost,
    start_project,
    start_worker,
)
from support.boot.environment import RUN
from support.boot.processes import DRIVER
from support.boot.services import drop_all

pytestmark = pytest.mark.boot


@pytest.mark.parametrize("broker", ["redis", "rabbitmq", "sqs"])
def test_worker_killed_mid_run_loses_no_task(broker, render, boot_services, boot_dir) -> None:
    name = f"cdc_crash_{broker}_{RUN}"
    url = broker_url_for(broker, boot_services, name)
    group, database = start_project(broker, url, render, boot_dir, name)
    with group.running(cleanup=lambda: drop_all(name)):
        worker = group.processes["worker-default"]
        output = group.run("send", f"python {DRIVER} records default {TASKS} 0.5")
        sent = json.loads(output.strip().splitlines()[-1])
        wait_until(lambda: recorded(database) >= 8, "tasks under way", group)
        # kill -9 one pool child mid-task, then the worker and everything it started.
        os.kill(children(worker.popen.pid)[0], signal.SIGKILL)
        time.sleep(1)
        worker.signal(signal.SIGKILL)
        worker.popen.wait(timeout=10)
        start_worker(group, worker.command)
        report_at_most_the_handed_over_lost(group, database, broker, url, "worker killed", sent)


# The workload topology's I/O queue runs on gevent with a Redis broker only (copier.yml).
@pytest.mark.parametrize("broker", ["redis"])
def test_gevent_worker_killed_mid_run_loses_no_task(broker, render, boot_services, boot_dir):
    """The workload topology's I/O queue runs on the gevent pool: one process holds every task in
    flight (no child to requeue them), so kill -9 takes all of them at once."""
    name = f"cdc_green_{broker}_{RUN}"
    url = broker_url_for(broker, boot_services, name)
    worker_name, queue = "worker-communications", "communications"
    group, database = start_project(
        broker, url, render, boot_dir, name, topology="workload", worker=worker_name
    )
    with group.running(cleanup=lambda: drop_all(name)):
        worker = group.processes[worker_name]
        assert "--pool gevent" in worker.command, worker.command
        # What the gevent worker's settings change, and only there: each task's database
        # connection closed when it ends, one result backend, kombu's pool past the concurrency.
        settings = {
            kind: json.loads(group.run(kind, f"python {GEVENT_SETTINGS} {kind}").splitlines()[-1])
            for kind in ("patched", "plain")
        }
        concurrency = int(worker.command.split("--concurrency ")[1].split()[0])
        assert settings["patched"]["conn_max_age"] == 0, settings
        assert settings["patched"]["result_backend_thread_safe"] is True, settings
        assert settings["patched"]["max_connections"] > concurrency, settings
        assert settings["plain"] == {
            "conn_max_age": 60, "result_backend_thread_safe": False, "max_connections": None
        }, settings  # fmt: skip
        output = group.run("send", f"python {DRIVER} records {queue} {TASKS} 0.5")
        sent = json.loads(output.strip().splitlines()[-1])
        wait_until(lambda: recorded(database) >= 8, "tasks under way", group)
        assert not children(worker.popen.pid), "a gevent worker runs its tasks in one process"
        worker.signal(signal.SIGKILL)
        worker.popen.wait(timeout=10)
        start_worker(group, worker.command, worker_name)
        what = "gevent worker killed"
        report_at_most_the_handed_over_lost(group, database, broker, url, what, sent)

        # Celery's gevent pool enforces only the hard limit; BaseTask raises the soft one, so a
        # task past it is dead-lettered (as under prefork), not left running until the hard one.
        group.run("send", f"python {DRIVER} records {queue} 1 5 1 overdue")
        letter = "SELECT exception FROM core_deadletter WHERE args::text LIKE '%overdue-0%'"
        wait_until(lambda: sql(database, letter), "the overdue task's dead letter", group, 60)
        assert sql(database, letter).startswith("SoftTimeLimitExceeded"), sql(database, letter)
        key = "SELECT count(*) FROM core_idempotencykey WHERE key = 'overdue-0'"
        assert sql(database, key) == "0", "the overdue task ran on past its soft limit"
