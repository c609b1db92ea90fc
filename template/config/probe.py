"""Health probes of the long-running processes: compose healthchecks and Kubernetes probes run them.

Run it as a script (`python config/probe.py ...`), not as a module: importing the `config`
package loads Celery and Django on every probe. Standard library only.

    python config/probe.py web              gunicorn answers /health/live/ on $PORT
    python config/probe.py flower           Flower answers /healthcheck on $FLOWER_PORT
    python config/probe.py heartbeat NODE   NODE (a worker or Beat on SQS, which has no remote
                                            control to ping) touched its heartbeat file lately

Exit status 0 means healthy; anything else is printed and exits 1.
"""

import os
import sys
import time
import urllib.request
from pathlib import Path

# Workers touch their file every HEARTBEAT_SECONDS; a file older than MAX_AGE means a stuck loop.
HEARTBEAT_SECONDS = 10
# Beat ticks at least every 5 minutes (Celery's beat_max_loop_interval) and touches on each tick.
MAX_AGE = {"worker": 6 * HEARTBEAT_SECONDS, "celerybeat": 2 * 300 + 60}


def heartbeat_file(node: str) -> Path:
    """Where NODE keeps its heartbeat: /tmp stays writable on a read-only root filesystem."""
    return Path(os.environ.get("CELERY_HEARTBEAT_DIR", "/tmp")) / f"{node}.heartbeat"


def http_ok(port_variable: str, default_port: str, path: str) -> None:
    port = os.environ.get(port_variable, default_port)
    # Probes come from the machine itself: the loopback address, never the public name.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")


def heartbeat_fresh(node: str) -> None:
    kind = "celerybeat" if node.startswith("celerybeat@") else "worker"
    path = heartbeat_file(node)
    age = time.time() - path.stat().st_mtime
    if age > MAX_AGE[kind]:
        raise RuntimeError(f"{path} is {age:.0f} s old (at most {MAX_AGE[kind]} s)")


def main(argv: list[str]) -> int:
    try:
        match argv:
            case ["web"]:
                http_ok("PORT", "8000", "/health/live/")
            case ["flower"]:
                http_ok("FLOWER_PORT", "5555", "/healthcheck")
            case ["heartbeat", node]:
                heartbeat_fresh(node)
            case _:
                print(__doc__, file=sys.stderr)
                return 2
    except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy", with its reason
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
