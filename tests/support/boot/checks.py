"""The checks a booted combination must pass, each driving real work through real processes."""

import base64
import contextlib
import hashlib
import hmac
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from ..brokers import BROKERS
from ..matrix import PROJECT_NAMES
from ..readme_blocks import tested_block
from .processes import ProcessGroup
from .services import wait_for_port

# Real-length secrets: the production settings and Flower refuse short or placeholder ones.
WEBHOOK_SECRET = hashlib.sha256(b"boot-webhook").hexdigest()
FLOWER_AUTH = "boot:" + hashlib.sha256(b"boot-flower").hexdigest()
# A task id, as `celery call` prints it and bash's trace shows it assigned.
TASK_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
# The Celery sub-command a README line runs: `call`, `result`, `inspect ping`, `status`...
CELERY_COMMAND = re.compile(r"celery -A config (inspect \w+|\w+)")
# SQS long polling as the boot sets it (CELERY_SQS_WAIT_TIME_SECONDS; production: 10 s).
SQS_LONG_POLL_SECONDS = 1


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
    """QUERY's answer through psql (the boot checks ask the project's driver instead)."""
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


def retry_countdowns(events: list[dict]) -> list[int]:
    """The waits Celery scheduled each retry after ("... retry: Retry in 2s: ...")."""
    waits = (re.search(r" retry: Retry in (\d+)s", e["message"]) for e in events)
    return [int(wait.group(1)) for wait in waits if wait]


def signed_webhook(
    base: str, payload: dict, age: int = 0, headers: dict | None = None
) -> tuple[int, str]:
    """POST `payload` signed as the provider signs it, `age` seconds ago: the header is
    `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (the project's payments/signatures.py).
    """
    body = json.dumps(payload).encode()
    timestamp = int(time.time()) - age
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(WEBHOOK_SECRET.encode(), signed, hashlib.sha256).hexdigest()
    signature = f"t={timestamp},v1={digest}"
    headers = {"Content-Type": "application/json", "X-Webhook-Signature": signature} | (
        headers or {}
    )
    return http(f"{base}/payments/webhook/", body, headers)


def worker_logs(group: ProcessGroup) -> dict[str, Path]:
    return {n: p.log for n, p in group.processes.items() if n.startswith("worker-")}


def check_each_queue_runs_on_its_own_worker(group: ProcessGroup, queues: list[str]) -> None:
    sent = group.driver("ping", *queues)
    logs = worker_logs(group)
    for queue, task_id in sent:
        own = logs[f"worker-{queue}"]
        wait_until(lambda own=own, t=task_id: succeeded(own, t), f"ping on {queue}", group)
        others = [log for log in logs.values() if log != own]
        assert not any(task_id in log.read_text() for log in others), f"{queue} ran elsewhere"


def check_health_and_payment_pipeline(group: ProcessGroup, web: str, queues: list[str]) -> None:
    status, body = http(f"{web}/health/live/")
    assert status == 200, body
    status, body = http(f"{web}/health/queues/")
    assert status == 200 and set(json.loads(body)["queues"]) == set(queues), body
    # A signed webhook runs the whole chain (ledger entry, receipt, email) across queues, and
    # each step finds the row the previous one committed.
    payload = {
        "id": "evt_boot",
        "amount_cents": 990,
        "currency": "EUR",
        "customer_email": "a@b.example",
    }
    status, body = signed_webhook(web, payload)
    assert status == 202, body
    # Through gunicorn too: a request replayed an hour later, or a header no signer writes
    # (non-ASCII, which was a 500), gets its 4xx.
    status, body = signed_webhook(web, payload | {"id": "evt_replayed"}, age=3600)
    assert status == 403, body
    headers = {"Content-Type": "application/json", "X-Webhook-Signature": "t=1,v1=\u00e9"}
    status, body = http(f"{web}/payments/webhook/", json.dumps(payload).encode(), headers)
    assert status == 400, body
    receipts = "SELECT count(*) FROM payments_receipt WHERE emailed_at IS NOT NULL"
    wait_until(lambda: group.driver.sql(receipts) == "1", "payment pipeline", group)


def check_scenarios(group: ProcessGroup, queue: str, project_name: str) -> None:
    sql = group.driver.sql
    sent = group.driver("scenarios", queue)
    log = group.processes[f"worker-{queue}"].log

    # Two transient failures, retried after growing waits (1 s, then 2 s: scheduled so, and no
    # attempt started before its wait was over), then success.
    wait_until(lambda: succeeded(log, sent["retry"]), "retried task succeeds", group)
    events = task_events(log, sent["retry"])
    countdowns = retry_countdowns(events)
    gaps = seconds_between(events, "task started")
    assert countdowns == [1, 2], countdowns
    assert len(gaps) == 2, gaps
    assert all(gap >= 0.9 * wait for gap, wait in zip(gaps, countdowns, strict=True)), gaps

    # A permanent failure ends as exactly one dead letter with its traceback; replay re-runs it.
    letters = f"SELECT count(*) FROM core_deadletter WHERE task_id = '{sent['dead']}'"
    wait_until(lambda: sql(letters) == "1", "dead letter", group)
    traceback = sql(f"SELECT traceback FROM core_deadletter WHERE task_id = '{sent['dead']}'")
    assert "RuntimeError: boot failure" in traceback
    slug = PROJECT_NAMES[project_name]
    group.driver("manage", "replay_dead_letters", "--task", f"{slug}.core.tasks.fail")
    replays = "SELECT count(*) FROM core_deadletter WHERE exception = 'RuntimeError: boot failure'"
    wait_until(lambda: sql(replays) == "2", "replayed task fails again", group)
    replayed = f"SELECT replay_task_id FROM core_deadletter WHERE task_id = '{sent['dead']}'"
    assert sql(replayed)

    # On-commit dispatch: the committed task ran once; the rolled-back one was never sent.
    keys = (
        "SELECT string_agg(key, ',' ORDER BY key) FROM core_idempotencykey"
        " WHERE key IN ('committed', 'rolled-back')"
    )
    wait_until(lambda: sql(keys) == "committed", "committed task", group)


def check_canvas(group: ProcessGroup, queue: str, chords: bool) -> None:
    results = group.driver("canvas", queue)
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
    wait_until(lambda: group.driver.sql(member) == "1", "failing chord member dead-lettered", group)


def check_flower(group: ProcessGroup, env: dict, queues: list[str], broker: str) -> None:
    """Flower refuses strangers, lists every worker and their tasks, and (on Redis) reports queue
    lengths.

    On SQS Flower can list no worker: Celery's SQS transport has no events and no remote
    control, which is all Flower sees workers through (docs/questions.md says so).
    """
    flower = f"http://127.0.0.1:{env['FLOWER_PORT']}"
    wait_for_port(int(env["FLOWER_PORT"]), "flower", group.processes["flower"].popen)
    assert http(f"{flower}/api/workers")[0] == 401
    auth = {"Authorization": f"Basic {base64.b64encode(FLOWER_AUTH.encode()).decode()}"}
    status, _ = http(f"{flower}/api/workers", headers=auth)
    assert status == 200
    if not BROKERS[broker].remote_control:
        return

    def workers_listed():
        status, body = http(f"{flower}/api/workers?refresh=1", headers=auth)
        names = {name.split("@")[0] for name in json.loads(body)} if status == 200 else set()
        return names >= {f"worker-{queue}" for queue in queues}

    wait_until(workers_listed, "Flower lists every worker", group)
    # Workers start without task events; Flower switches them on every 5 s while it runs: a ping
    # sent after that shows as succeeded in its task list. (A "sent" event, from the sender, lists
    # a task too, but only the worker's events tell Flower it succeeded.) Send until one does.
    pings: dict[str, float] = {}

    def task_listed():
        status, body = http(f"{flower}/api/tasks", headers=auth)
        tasks = json.loads(body) if status == 200 else {}
        if any(tasks.get(task_id, {}).get("state") == "SUCCESS" for task_id in pings):
            return True
        if not pings or time.monotonic() - max(pings.values()) > 1:
            pings.update(
                (task_id, time.monotonic()) for _, task_id in group.driver("ping", queues[0])
            )
        return False

    wait_until(task_listed, "Flower shows a task succeeded (worker events, switched on)", group)
    status, body = http(f"{flower}/api/queues/length", headers=auth)
    if BROKERS[broker].queue_lengths_in_flower:
        # RabbitMQ needs its management API (FLOWER_BROKER_API) for this, SQS has no such API.
        lengths = {queue["name"] for queue in json.loads(body)["active_queues"]}
        assert status == 200 and lengths >= set(queues), body


def check_beat_sends_once(group: ProcessGroup) -> None:
    """Beat sends on its 1-second schedule, and no send runs twice.

    Beat logs "Sending due task" before it publishes: stopping it can interrupt the last send
    before the broker has it, so the runs are the sends, or the sends but the last.
    """
    runs = "SELECT count(*) FROM payments_reconciliationrun"
    wait_until(lambda: int(group.driver.sql(runs)) >= 2, "beat schedule", group)
    beat = group.processes["beat"]
    beat.stop()
    sends = beat.log.read_text().count("Sending due task reconcile-ledger")
    wait_until(lambda: int(group.driver.sql(runs)) >= sends - 1, "every send ran", group)
    time.sleep(1)
    assert sends - 1 <= int(group.driver.sql(runs)) <= sends, (sends, group.driver.sql(runs))


def check_health_probes(group: ProcessGroup, probes: dict[str, str]) -> None:
    """Each process's health command, as compose.yaml declares it, says healthy."""
    for name, command in probes.items():
        last = []

        def healthy(command=command, last=last):
            last[:] = [group.probe(command)]
            return last[0].returncode == 0

        wait_until(healthy, lambda name=name, last=last: f"{name} probe: {last[0]}", group, 30)


def check_stopped_worker_fails_its_probe(group: ProcessGroup, queue: str, command: str) -> None:
    """The probe of a worker that no longer runs says so (it does not answer for another)."""
    assert not group.processes[f"worker-{queue}"].running()
    result = group.probe(command)
    assert result.returncode != 0, (command, result)


def check_unconsumed_queue_turns_health_503(
    group: ProcessGroup, web: str, queue: str, broker: str
) -> None:
    """With a queue's worker stopped, its messages wait, run nowhere else, and health says 503."""
    group.processes[f"worker-{queue}"].stop()
    if BROKERS[broker].long_poll:
        # The stopped worker's last long poll stays open on the server for up to
        # wait_time_seconds and would take a message sent now; it would come back only after
        # the visibility timeout. Let it expire first.
        time.sleep(SQS_LONG_POLL_SECONDS + 1)
    sent = group.driver("ping", *[queue] * 4)

    seen = []

    def overloaded():
        status, body = http(f"{web}/health/queues/")
        seen[:] = [status, body]
        return status == 503 and json.loads(body)["queues"][queue]["pending"] >= 4

    wait_until(overloaded, lambda: f"health 503 with {queue} piling up (last: {seen})", group)
    logs = [log for name, log in worker_logs(group).items() if name != f"worker-{queue}"]
    assert not any(task_id in log.read_text() for _, task_id in sent for log in logs)


# Remote control: what `celery inspect` and `celery status` need, and SQS lacks.
REMOTE_CONTROL = ["inspect ping", "inspect active", "inspect reserved", "inspect stats", "status"]


def operator_commands(broker: str, result_backend: str) -> list[str]:
    """The Celery sub-commands the README's operator block must list: `result` only where a
    result backend keeps results for another process, remote control only off SQS."""
    commands = ["call"]
    if result_backend in ("redis", "django-db"):
        commands.append("result")
    return commands + (REMOTE_CONTROL if BROKERS[broker].remote_control else [])


def run_readme_block(group: ProcessGroup, name: str) -> tuple[list[tuple[str, str]], str]:
    """Run the project README's block NAME as written (see run_block)."""
    return run_block(group, group.project / "README.md", name)


def run_block(
    group: ProcessGroup, document: Path, name: str, **env: str
) -> tuple[list[tuple[str, str]], str]:
    """Run DOCUMENT's block NAME as written: one bash script, in the project's folder and
    environment (its virtual environment first on PATH, plus `env`: the variables the document
    tells its reader to set), stopping at the first failing line.

    Returns each line with its output, and bash's trace (`set -x`: each command, and each
    variable a line assigns, with its value). The test only adds a marker before each line.
    """
    lines = tested_block(document, name)
    script = ["set -ex"]
    for number, line in enumerate(lines):
        script += [f"echo '@@@ {number}'", line]
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=group.project,
        env=group.environment() | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    outputs = re.split(r"^@@@ \d+\n", result.stdout, flags=re.M)[1:]
    if result.returncode != 0:
        failed = lines[len(outputs) - 1] if outputs else "set -ex"
        pytest.fail(
            f"{document.name} block {name}: `{failed}` exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}\n{group.log_report()}"
        )
    return list(zip(lines, outputs, strict=True)), result.stderr


def check_readme_operator_commands(
    group: ProcessGroup, queues: list[str], default: str, broker: str, result_backend: str
) -> None:
    """The README's operator commands, run as written while every worker runs, do what its
    comments say: the task `call` sends runs, `result` prints its return value, every worker
    (and Beat) answers `inspect` and `status`. SQS has no remote control and rpc or no result
    backend no `celery result`: the README leaves those out, and says why."""
    ran, trace = run_readme_block(group, "operator-commands")
    commands = [CELERY_COMMAND.search(line)[1] for line, _ in ran]
    assert commands == operator_commands(broker, result_backend), commands

    workers = [f"worker-{queue}@" for queue in queues]
    beat = "beat" in group.processes and group.processes["beat"].running()
    nodes = len(workers) + beat
    output = dict(zip(commands, (out for _, out in ran), strict=True))
    # The id `call` printed, or (captured in a variable) the value bash's trace shows assigned.
    task_id = (TASK_ID.search(output["call"]) or TASK_ID.search(trace))[0]
    log = group.processes[f"worker-{default}"].log
    wait_until(lambda: succeeded(log, task_id), f"the task `celery call` sent ({task_id})", group)
    if "result" in output:
        assert f"'hostname': 'worker-{default}@" in output["result"], output["result"]
        assert f"'queue': '{default}'" in output["result"], output["result"]
    if not BROKERS[broker].remote_control:
        return
    assert output["inspect ping"].count("pong") == nodes, output["inspect ping"]
    for command in ("inspect ping", "inspect active", "inspect reserved", "inspect stats"):
        assert all(f"->  {worker}" in output[command] for worker in workers), output[command]
    assert output["inspect stats"].count('"pool"') == len(workers), output["inspect stats"]
    online = f"{nodes} node{'s' if nodes > 1 else ''} online."
    assert online in output["status"], output["status"]


def check_readme_purge_empties_queue(group: ProcessGroup, web: str, queue: str) -> None:
    """The README's purge, run as written while QUEUE's worker is stopped and tasks wait in it,
    deletes them: it reports them, asks nothing, and the queue's health says none pending."""
    ran, _ = run_readme_block(group, "operator-purge")
    [(line, output)] = ran
    assert f" -Q {queue} " in f"{line} ", line
    purged = re.search(r"Purged (\d+) messages? from 1 known task queue", output)
    # At least the four the health check left waiting (kombu's SQS transport over-counts).
    assert purged and int(purged[1]) >= 4, output

    def emptied():
        status, body = http(f"{web}/health/queues/")
        return json.loads(body)["queues"][queue]["pending"] == 0

    wait_until(emptied, f"{queue} empty after the README's purge", group)
