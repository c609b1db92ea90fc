"""The checks a booted combination must pass, each driving real work through real processes."""

import base64
import contextlib
import hashlib
import hmac
import json
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from matrix import PROJECT_NAMES

from .processes import ProcessGroup
from .services import wait_for_port

DRIVER = Path(__file__).with_name("driver.py")
WEBHOOK_SECRET = "boot-webhook-secret"
FLOWER_AUTH = "boot:flower-password"
# The generated settings' wait_time_seconds for SQS long polling.
SQS_LONG_POLL_SECONDS = 10


def wait_until(condition, what: str, group: ProcessGroup, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            what = what() if callable(what) else what
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


def task_events(log: Path, task_id: str) -> list[dict]:
    """The JSON log lines that a task logged, in order."""
    events = []
    for line in log.read_text(errors="replace").splitlines():
        if task_id in line and line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                event = json.loads(line)
                if event.get("task_id") == task_id:
                    events.append(event)
    return events


def succeeded(log: Path, task_id: str) -> bool:
    return any(e["message"] == "task succeeded" for e in task_events(log, task_id))


def seconds_between(events: list[dict], message: str) -> list[float]:
    times = [datetime.fromisoformat(e["time"]) for e in events if e["message"] == message]
    return [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]


def signed_webhook(base: str, payload: dict) -> tuple[int, str]:
    body = json.dumps(payload).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Webhook-Signature": signature}
    return http(f"{base}/payments/webhook/", body, headers)


def worker_logs(group: ProcessGroup) -> dict[str, Path]:
    return {n: p.log for n, p in group.processes.items() if n.startswith("worker-")}


def check_each_queue_runs_on_its_own_worker(group: ProcessGroup, queues: list[str]) -> None:
    sent = json.loads(group.run("ping", f"python {DRIVER} ping {' '.join(queues)}"))
    logs = worker_logs(group)
    for queue, task_id in sent:
        own = logs[f"worker-{queue}"]
        wait_until(lambda own=own, t=task_id: succeeded(own, t), f"ping on {queue}", group)
        others = [log for log in logs.values() if log != own]
        assert not any(task_id in log.read_text() for log in others), f"{queue} ran elsewhere"


def check_health_and_payment_pipeline(group, web: str, queues: list[str], database: str) -> None:
    status, body = http(f"{web}/health/live/")
    assert status == 200, body
    status, body = http(f"{web}/health/queues/")
    assert status == 200 and set(json.loads(body)["queues"]) == set(queues), body
    # A signed webhook runs the whole chain (ledger entry, receipt, email) across queues, and
    # each step finds the row the previous one committed.
    payload = {"id": "evt_boot", "amount_cents": 990, "currency": "EUR"}
    status, body = signed_webhook(web, payload | {"customer_email": "a@b.example"})
    assert status == 202, body
    receipts = "SELECT count(*) FROM payments_receipt WHERE emailed_at IS NOT NULL"
    wait_until(lambda: sql(database, receipts) == "1", "payment pipeline", group)


def check_scenarios(group: ProcessGroup, queue: str, database: str, project_name: str) -> None:
    sent = json.loads(group.run("scenarios", f"python {DRIVER} scenarios {queue}"))
    log = group.processes[f"worker-{queue}"].log

    # Two transient failures, retried after growing waits (1 s, then 2 s), then success.
    wait_until(lambda: succeeded(log, sent["retry"]), "retried task succeeds", group)
    gaps = seconds_between(task_events(log, sent["retry"]), "task started")
    assert len(gaps) == 2 and 0.9 <= gaps[0] < gaps[1] and gaps[1] >= 1.9, gaps

    # A permanent failure ends as exactly one dead letter with its traceback; replay re-runs it.
    letters = f"SELECT count(*) FROM core_deadletter WHERE task_id = '{sent['dead']}'"
    wait_until(lambda: sql(database, letters) == "1", "dead letter", group)
    traceback = sql(
        database, f"SELECT traceback FROM core_deadletter WHERE task_id = '{sent['dead']}'"
    )
    assert "RuntimeError: boot failure" in traceback
    slug = PROJECT_NAMES[project_name]
    group.run("replay", f"python manage.py replay_dead_letters --task {slug}.core.tasks.fail")
    replays = "SELECT count(*) FROM core_deadletter WHERE exception = 'RuntimeError: boot failure'"
    wait_until(lambda: sql(database, replays) == "2", "replayed task fails again", group)
    replayed = f"SELECT replay_task_id FROM core_deadletter WHERE task_id = '{sent['dead']}'"
    assert sql(database, replayed)

    # On-commit dispatch: the committed task ran once; the rolled-back one was never sent.
    keys = "SELECT key FROM core_idempotencykey WHERE key IN ('committed', 'rolled-back')"
    wait_until(lambda: sql(database, keys) == "committed", "committed task", group)


def check_canvas(group: ProcessGroup, queue: str, database: str, chords: bool) -> None:
    results = json.loads(group.run("canvas", f"python {DRIVER} canvas {queue}"))
    assert results["chain"] == 6
    assert results["group"] == [0, 2, 4, 6]
    if not chords:
        # Celery's rpc backend refuses chords outright (documented in docs/questions.md).
        assert results["chord"] == "unsupported: NotImplementedError"
        return
    assert results["chord"] == 12
    # A failing chord member is reported to the caller and kept as a dead letter.
    assert results["failing_chord"] and "chord member failed" in results["failing_chord"]
    member = (
        "SELECT count(*) FROM core_deadletter WHERE exception = 'RuntimeError: chord member failed'"
    )
    wait_until(lambda: sql(database, member) == "1", "failing chord member dead-lettered", group)


def check_flower(group: ProcessGroup, env: dict, queues: list[str], broker: str) -> None:
    """Flower refuses strangers, lists every worker, and (on Redis) reports queue lengths.

    On SQS Flower can list no worker: Celery's SQS transport has no events and no remote
    control, which is all Flower sees workers through (docs/questions.md says so).
    """
    flower = f"http://127.0.0.1:{env['FLOWER_PORT']}"
    wait_for_port(int(env["FLOWER_PORT"]), "flower", group.processes["flower"].popen)
    assert http(f"{flower}/api/workers")[0] == 401
    auth = {"Authorization": f"Basic {base64.b64encode(FLOWER_AUTH.encode()).decode()}"}
    status, _ = http(f"{flower}/api/workers", headers=auth)
    assert status == 200
    if broker == "sqs":
        return

    def workers_listed():
        status, body = http(f"{flower}/api/workers?refresh=1", headers=auth)
        names = {name.split("@")[0] for name in json.loads(body)} if status == 200 else set()
        return names >= {f"worker-{queue}" for queue in queues}

    wait_until(workers_listed, "Flower lists every worker", group)
    status, body = http(f"{flower}/api/queues/length", headers=auth)
    if broker == "redis":
        # RabbitMQ needs its management API (FLOWER_BROKER_API) for this, SQS has no such API.
        lengths = {queue["name"] for queue in json.loads(body)["active_queues"]}
        assert status == 200 and lengths >= set(queues), body


def check_beat_sends_once(group: ProcessGroup, database: str) -> None:
    """Beat sends on its 2-second schedule, and every send runs exactly once."""
    runs = "SELECT count(*) FROM payments_reconciliationrun"
    wait_until(lambda: int(sql(database, runs)) >= 2, "beat schedule", group)
    beat = group.processes["beat"]
    beat.stop()
    sends = beat.log.read_text().count("Sending due task reconcile-ledger")
    wait_until(lambda: int(sql(database, runs)) >= sends, "every send ran", group)
    time.sleep(1)
    assert int(sql(database, runs)) == sends


def check_unconsumed_queue_turns_health_503(
    group: ProcessGroup, web: str, queue: str, broker: str
) -> None:
    """With a queue's worker stopped, its messages wait, run nowhere else, and health says 503."""
    group.processes[f"worker-{queue}"].stop()
    if broker == "sqs":
        # The stopped worker's last long poll stays open on the server for up to 10 s
        # (wait_time_seconds) and would take a message sent now; it would come back only after
        # the visibility timeout. Let it expire first.
        time.sleep(SQS_LONG_POLL_SECONDS + 1)
    sent = json.loads(group.run("pile-up", f"python {DRIVER} ping {' '.join([queue] * 4)}"))

    seen = []

    def overloaded():
        status, body = http(f"{web}/health/queues/")
        seen[:] = [status, body]
        return status == 503 and json.loads(body)["queues"][queue]["pending"] >= 4

    wait_until(overloaded, lambda: f"health 503 with {queue} piling up (last: {seen})", group)
    logs = [log for name, log in worker_logs(group).items() if name != f"worker-{queue}"]
    assert not any(task_id in log.read_text() for _, task_id in sent for log in logs)
