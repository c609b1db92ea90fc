"""Run inside a rendered project (its folder, its environment, its settings) by the boot tests.

    python driver.py ping QUEUE [QUEUE ...]   -> sends core.tasks.ping to each queue; prints
                                                 {"queue": "task id", ...}

It talks to the broker and database exactly as the project's own code does.
"""

import json
import os
import sys


def main(command: str, *args: str) -> None:
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    from config.celery import app

    app.loader.import_default_modules()

    if command == "ping":
        ping = next(name for name in app.tasks if name.endswith(".core.tasks.ping"))
        print(json.dumps({queue: app.send_task(ping, queue=queue).id for queue in args}))
    else:
        sys.exit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
