"""Boot check of OpenTelemetry tracing: one trace from a web request through the tasks it sent.

The booted processes export their spans with OpenTelemetry's console exporter (one JSON line per
span in each process's log; a worker's own output reaches its log as Celery's `celery.redirected`
lines), so the check reads what the real SDK and instrumentations produced.
"""

import json

from .checks import signed_webhook, wait_until
from .processes import ProcessGroup

# Set for a booted project whose `tracing` answer is opentelemetry.
TRACING_ENV = {"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "200"}
PIPELINE = ("record_payment", "build_receipt", "send_receipt_email")


def spans(group: ProcessGroup) -> list[dict]:
    found = []
    for process in group.processes.values():
        for line in process.log.read_text(errors="replace").splitlines():
            if '"trace_id' not in line:
                continue
            try:
                record = json.loads(line)
                if "context" not in record:  # a log line whose message is the span
                    record = json.loads(record["message"])
            except (ValueError, KeyError, TypeError):
                continue
            found.append(record)
    return found


def check_request_trace_reaches_its_tasks(group: ProcessGroup, web: str, slug: str) -> None:
    """A webhook's request span, and the spans of the three tasks its pipeline ran on the
    workers, share one trace; each carries the request's id, as the tasks' log lines do."""
    request_id = "trace-check"
    payload = {
        "id": "evt_trace",
        "amount_cents": 100,
        "currency": "EUR",
        "customer_email": "t@e.io",
    }
    status, body = signed_webhook(web, payload, headers={"X-Request-ID": request_id})
    assert status == 202, body
    names = {"POST payments/webhook/", *(f"run/{slug}.payments.tasks.{t}" for t in PIPELINE)}

    def labelled(span: dict) -> bool:
        return span["attributes"].get("request.id") == request_id

    # Each process exports its spans in its own batches: the last task's may come first.
    wait_until(
        lambda: names <= {s["name"] for s in spans(group) if labelled(s)},
        lambda: f"spans with the request's id: {sorted(names)}",
        group,
    )
    found = [s for s in spans(group) if labelled(s)]
    (request,) = [s for s in found if s["name"] == "POST payments/webhook/"]
    trace = request["context"]["trace_id"]
    for task in PIPELINE:
        name = f"run/{slug}.payments.tasks.{task}"
        runs = [s for s in found if s["name"] == name]
        assert [s["context"]["trace_id"] for s in runs] == [trace], (name, runs)
    # The tasks' own log lines carry the same request id.
    logs = "".join(p.log.read_text() for n, p in group.processes.items() if n.startswith("worker-"))
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith('{"level"')]
    started = {
        line["task_name"].rsplit(".", 1)[1]
        for line in lines
        if line["message"] == "task started" and line.get("request_id") == request_id
    }
    assert set(PIPELINE) <= started, started
