"""A stand-in for Sentry's ingestion endpoint on loopback: it keeps the events a booted project's
sentry-sdk sends, so that the boot checks can count what was reported.

Sentry's service is a boundary the project does not own: the SDK, its Django and Celery
integrations and the processes are real; only the server that would store the events is this.
"""

import contextlib
import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Events:
    """The events received so far (the `event` items of each envelope)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[dict] = []

    def add(self, envelope: bytes) -> None:
        # An envelope: a header line, then a header line and a payload line per item.
        lines = envelope.split(b"\n")
        with self.lock:
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if header and json.loads(header).get("type") == "event":
                    self.received.append(json.loads(payload))

    def summaries(self) -> list[str]:
        """Each event in a line: its exception as `Type: value`, or the message it logged."""
        with self.lock:
            return [summary(event) for event in self.received]


def summary(event: dict) -> str:
    exceptions = event.get("exception", {}).get("values", [])
    if exceptions:
        return f"{exceptions[-1]['type']}: {exceptions[-1]['value']}"
    entry = event.get("logentry") or {}
    return f"message: {entry.get('formatted') or entry.get('message') or event.get('message')}"


@contextlib.contextmanager
def sentry_endpoint() -> Iterator[tuple[str, Events]]:
    """A DSN that points at this process, and the events it receives."""
    events = Events()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            events.add(body)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://public@127.0.0.1:{server.server_address[1]}/1", events
    finally:
        server.shutdown()
        server.server_close()


def check_failures_reported_once(group, events: Events) -> None:
    """The scenarios' permanent failure and its replay are reported once each; the transient
    failures, retried until the task succeeded, never."""
    from .checks import wait_until

    failures = "RuntimeError: boot failure"
    wait_until(lambda: events.summaries().count(failures) >= 2, "two reported failures", group)
    time.sleep(1)  # a third report, a log line's or a retry's, would have arrived by now
    reported = events.summaries()
    assert [e for e in reported if "boot failure" in e] == [failures] * 2, reported
    assert not [e for e in reported if "transient failure" in e], reported
