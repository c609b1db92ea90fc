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
import subprocess
import time
from pathlib import Path

import pytest

from matrix import Combination
from project_env import project_requirements, venv_with

from .checks import sql, wait_until
from .processes import DRIVER, ProcessGroup, procfile
from .services import (
    POSTGRES_URL,
    REDIS_DB,
    drop_all,
    postgres_database,
    rabbitmq_vhost,
)
from .test_boot import RUN

pytestmark = pytest.mark.boot

TASKS = 60
GEVENT_SETTINGS = Path(__file__).with_name("gevent_settings.py")
# Unacknowledged Redis and SQS messages come back after the visibility timeout: short here, so
# that a killed worker's tasks return within the test (production keeps two hours).
VISIBILITY_TIMEOUT = 10
# How long every task may take to be recorded. On Redis a dead worker's unacknowledged messages
# are restored by another worker's sweep, which kombu runs on every 10th call of a 10 s timer
# (unacked_restore_interval x unacked_restore_throttle): up to about 100 s after the timeout.
# Measured on an idle machine, the last restored tasks ran 90 s after the kill.
DELIVERED_WITHIN = VISIBILITY_TIMEOUT + 10 * 10 + 120


def start_project(
    broker: str,
    broker_url: str,
    render,
    boot_dir: Path,
    name: str,
    *,
    result_backend: str = "none",
    postgres: str = POSTGRES_URL,
    topology: str = "single",
    worker: str = "worker-default",
    **extra_env: str,
):
    """Render a project, migrate, start the worker named; return the group and database URL.

    The database is created afresh on the machine's PostgreSQL, or on the `postgres` server named.
    """
    combo = Combination(broker, result_backend, "none", topology)
    answers = {**combo.answers(), "use_flower": False, "python_version": "3.13"}
    project = render(answers, boot_dir / "project")
    venv = venv_with(project_requirements(project), answers["python_version"])
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": f"delivery-test-secret-key-{name}-0123456789abcdefghijklmnop",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": postgres_database(name, server=postgres),
        "PAYMENTS_WEBHOOK_SECRET": f"delivery-webhook-key-{name}-0123456789abcdefghijklmnop",
        "CELERY_BROKER_URL": broker_url,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        **extra_env,
    }
    if broker == "sqs":
        env |= {"CELERY_SQS_IS_SECURE": "false", "CELERY_SQS_QUEUE_PREFIX": f"{name}-"}
        env |= {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    group = ProcessGroup(project=project, venv=venv, env=env, logs=boot_dir / "logs")
    table = procfile(project)
    group.run("release", table["release"])
    start_worker(group, table[worker], worker)
    return group, env["DATABASE_URL"]


def start_worker(group: ProcessGroup, command: str, name: str = "worker-default") -> None:
    worker = group.start(name, command)
    before = worker.log.read_text().count(" ready.")
    wait_until(lambda: worker.log.read_text().count(" ready.") > before, "worker ready", group)


def logs(group: ProcessGroup) -> str:
    """Every process's log, as one text."""
    return "".join(process.log.read_text() for process in group.processes.values())


def recorded(database: str) -> int:
    return int(sql(database, "SELECT count(*) FROM core_idempotencykey WHERE key LIKE 'record-%'"))


def unrecorded(database: str) -> list[int]:
    """N of every record-N key not in the database."""
    query = "SELECT string_agg(key, ' ') FROM core_idempotencykey WHERE key LIKE 'record-%'"
    done = {int(key.removeprefix("record-")) for key in (sql(database, query) or "").split()}
    return sorted(set(range(TASKS)) - done)


def missing(database: str, broker: str, broker_url: str) -> str:
    """What a failing wait reports: the keys never recorded, and where the broker holds messages."""
    state = json.dumps(broker_state(broker, broker_url))
    return f"never recorded: record-N for N in {unrecorded(database)}; {broker} holds: {state}"


def broker_state(broker: str, broker_url: str) -> dict | str:
    if broker == "redis":
        # kombu's Redis transport: the queue's list, unacknowledged messages (restored after the
        # visibility timeout by whichever worker holds the unacked mutex).
        cli = ["redis-cli", "-u", broker_url]
        queries = {
            "default queue": ["LLEN", "default"],
            "unacked": ["HLEN", "unacked"],
            "unacked mutex ttl": ["TTL", "unacked_mutex"],
        }
        return {
            what: subprocess.run([*cli, *query], capture_output=True, text=True).stdout.strip()
            for what, query in queries.items()
        }
    if broker == "rabbitmq":
        vhost = broker_url.rsplit("/", 1)[1]
        columns = ["name", "messages_ready", "messages_unacknowledged", "consumers"]
        command = ["rabbitmqctl", "-q", "list_queues", "-p", vhost, *columns]
        listing = subprocess.run(command, capture_output=True, text=True)
        return (listing.stdout + listing.stderr).strip()
    return "(SQS: not inspected)"


def redis_drained(broker_url: str) -> bool:
    state = broker_state("redis", broker_url)
    return state["default queue"] == "0" and state["unacked"] == "0"


def report(
    group: ProcessGroup, database: str, broker: str, broker_url: str, what: str, may_lose: int = 0
) -> dict:
    """Wait until every task is recorded (or, with `may_lose`, until that many at most are
    missing and the broker holds nothing more); return (and print) the delivery figures."""

    def delivered() -> bool:
        done = recorded(database)
        if done >= TASKS:
            return True
        return may_lose > 0 and done >= TASKS - may_lose and redis_drained(broker_url)

    wait_until(delivered, lambda: missing(database, broker, broker_url), group, DELIVERED_WITHIN)
    time.sleep(2)  # let a late duplicate land before counting
    figures = {
        "broker": broker,
        "test": what,
        "sent": TASKS,
        "completed": recorded(database),
        "lost": TASKS - recorded(database),
        "duplicated": logs(group).count("duplicate absorbed"),
    }
    print(f"delivery: {json.dumps(figures)}")
    return figures


def report_at_most_the_handed_over_lost(
    group: ProcessGroup, database: str, broker: str, broker_url: str, what: str, sent: list[str]
) -> dict:
    """report(), after a worker was killed or the broker stopped: nothing may be lost but, on
    Redis, the one message the broker was handing over.

    kombu's Redis transport takes a message off the list (BRPOP) before it records it as
    unacknowledged (a second command): a worker killed, or a Redis stopped, between the two loses
    that message. RabbitMQ and SQS keep a message until it is acknowledged. A lost task must be
    that one: never received by any worker (none received and dropped). `sent` holds the task
    ids of record-0 to record-N, in order.
    """
    may_lose = 1 if broker == "redis" else 0
    figures = report(group, database, broker, broker_url, what, may_lose)
    assert figures["lost"] <= may_lose
    lost = unrecorded(database)
    assert never_received(group, sent, lost) == lost, f"received, yet never recorded: {lost}"
    return figures


def never_received(group: ProcessGroup, sent: list[str], lost: list[int]) -> list[int]:
    """Which of the lost record-N tasks (task ids in `sent`) no worker ever logged as received."""
    text = logs(group)
    return [n for n in lost if sent[n] not in text]


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in out.split()]


def broker_url_for(broker: str, boot_services: dict, name: str) -> str:
    if broker == "redis":
        return f"{boot_services['redis'].url}/{REDIS_DB['delivery']}"
    if broker == "rabbitmq":
        return rabbitmq_vhost(name)
    return f"sqs://test:test@{boot_services['sqs']}"


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
