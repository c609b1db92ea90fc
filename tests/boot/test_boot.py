"""Boot every runtime-distinct combination and drive real work through its real processes.

Each combination is rendered, installed into the environment of its own dependency set, given
its own database, Redis database, RabbitMQ vhost or SQS queue prefix, migrated with the
Procfile's release command, and started with the Procfile's command lines. Never eager mode.
"""

import base64
import hashlib
import hmac
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from matrix import TOPOLOGY_QUEUES, Combination, pairwise, runtime_combinations
from project_env import project_requirements, venv_with

from .conftest import boot_mode
from .processes import ProcessGroup, procfile
from .services import free_port, postgres_database, rabbitmq_vhost, wait_for_port

pytestmark = pytest.mark.boot

DRIVER = Path(__file__).with_name("driver.py")
COMBINATIONS = runtime_combinations()
BOOTED = pairwise(COMBINATIONS) if boot_mode() == "quick" else COMBINATIONS
WEBHOOK_SECRET = "boot-webhook-secret"
FLOWER_AUTH = "boot:flower-password"


def wait_until(condition, what: str, group: ProcessGroup, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s\n{group.log_report()}")
        time.sleep(0.2)


def http(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def sql(database_url: str, query: str) -> str:
    result = subprocess.run(
        ["psql", database_url, "-tAq", "-c", query], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def environment(combo: Combination, index: int, services: dict, boot_dir: Path) -> dict:
    answers = combo.answers()
    name = f"cdc_boot_{index}"
    redis = services["redis"].url
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": hashlib.sha256(name.encode()).hexdigest(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Plain HTTP on loopback: the TLS redirect belongs to a real deployment's proxy.
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": postgres_database(name),
        "PAYMENTS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "EMAIL_URL": "consolemail://",
        "RECONCILE_LEDGER_EVERY_SECONDS": "2",
        "CELERY_BEAT_SCHEDULE_FILENAME": str(boot_dir / "celerybeat-schedule"),
        "PORT": str(free_port()),
        "FLOWER_PORT": str(free_port()),
        "FLOWER_ADDRESS": "127.0.0.1",
        "FLOWER_BASIC_AUTH": FLOWER_AUTH,
    }
    env["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{env['PORT']} --workers 2"
    if combo.broker == "redis":
        env["CELERY_BROKER_URL"] = f"{redis}/{index}"
    elif combo.broker == "rabbitmq":
        env["CELERY_BROKER_URL"] = rabbitmq_vhost(name)
    else:
        env["CELERY_BROKER_URL"] = f"sqs://test:test@{services['sqs']}"
        env |= {"CELERY_SQS_IS_SECURE": "false", "CELERY_SQS_QUEUE_PREFIX": f"{name}-"}
        env |= {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    if combo.result_backend == "redis":
        # Results in the database after the broker's, still this combination's own.
        env["CELERY_RESULT_BACKEND"] = f"{redis}/{index + 128}"
    if answers["beat_scheduler"] == "redbeat" and combo.broker != "redis":
        env["CELERY_REDBEAT_REDIS_URL"] = env["CELERY_RESULT_BACKEND"]
    return env


def signed_webhook(base: str, payload: dict) -> tuple[int, str]:
    body = json.dumps(payload).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Webhook-Signature": signature}
    return http(f"{base}/payments/webhook/", body, headers)


@pytest.mark.parametrize("combo", [pytest.param(c, id=c.runtime_id) for c in BOOTED])
def test_combination_boots_and_runs_real_work(combo, render, boot_services, boot_dir) -> None:
    index = COMBINATIONS.index(combo)
    answers = combo.answers()
    project = render(answers, boot_dir / "project")
    venv = venv_with(project_requirements(project), answers["python_version"])
    env = environment(combo, index, boot_services, boot_dir)
    group = ProcessGroup(project=project, venv=venv, env=env, logs=boot_dir / "logs")
    table = procfile(project)
    queues = TOPOLOGY_QUEUES[combo.queue_topology]
    try:
        group.run("release", table["release"])
        for name, command in table.items():
            if name != "release":
                group.start(name, command)
        web = f"http://127.0.0.1:{env['PORT']}"
        wait_for_port(int(env["PORT"]), "gunicorn", group.processes["web"].popen)
        for queue in queues:
            log = group.processes[f"worker-{queue}"].log
            wait_until(lambda log=log: " ready." in log.read_text(), f"worker-{queue} ready", group)

        # Each queue's task runs on that queue's worker, and on no other.
        sent = json.loads(group.run("ping", f"python {DRIVER} ping {' '.join(queues)}"))
        for queue, task_id in sent.items():
            own = group.processes[f"worker-{queue}"].log
            done = re.compile(
                rf'"task_id": "{task_id}".*"task succeeded"|task succeeded.*{task_id}'
            )
            wait_until(
                lambda own=own, done=done: done.search(own.read_text()), f"ping on {queue}", group
            )
            others = [
                p.log
                for n, p in group.processes.items()
                if n.startswith("worker-") and p.log != own
            ]
            assert not any(task_id in other.read_text() for other in others)

        # The web process answers, and the queue health endpoint sees every queue.
        status, body = http(f"{web}/health/live/")
        assert status == 200, body
        status, body = http(f"{web}/health/queues/")
        assert status == 200 and set(json.loads(body)["queues"]) == set(queues), body

        # A signed webhook runs the whole chain: ledger entry, receipt, email, across queues.
        payload = {
            "id": "evt_boot",
            "amount_cents": 990,
            "currency": "EUR",
            "customer_email": "a@b.example",
        }
        status, body = signed_webhook(web, payload)
        assert status == 202, body
        receipts = "SELECT count(*) FROM payments_receipt WHERE emailed_at IS NOT NULL"
        wait_until(lambda: sql(env["DATABASE_URL"], receipts) == "1", "payment pipeline", group)

        if "flower" in table:
            flower = f"http://127.0.0.1:{env['FLOWER_PORT']}"
            wait_for_port(int(env["FLOWER_PORT"]), "flower", group.processes["flower"].popen)
            assert http(f"{flower}/api/workers")[0] == 401
            token = base64.b64encode(FLOWER_AUTH.encode()).decode()
            status, _ = http(f"{flower}/api/workers", headers={"Authorization": f"Basic {token}"})
            assert status == 200

        if "beat" in table:
            runs = "SELECT count(*) FROM payments_reconciliationrun"
            wait_until(lambda: int(sql(env["DATABASE_URL"], runs)) >= 2, "beat schedule", group)
    except BaseException:
        print(group.log_report())
        raise
    finally:
        group.stop_all()
