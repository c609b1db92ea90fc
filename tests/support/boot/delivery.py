"""What the delivery and outage tests share: a one-queue project started on a broker, the
records its tasks write, and the report of what was delivered, duplicated and lost."""

import json
import subprocess
import time
from pathlib import Path

from ..brokers import BROKERS
from ..matrix import Combination
from ..project_env import project_requirements, venv_with
from .checks import sql, wait_until
from .processes import ProcessGroup, procfile
from .services import (
    POSTGRES_URL,
    REDIS_DB,
    postgres_database,
)

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
    env |= BROKERS[broker].boot_env(name)
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
    may_lose = BROKERS[broker].may_lose_handed_over
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
    return BROKERS[broker].boot_url(boot_services, name, REDIS_DB["delivery"])
