"""The benchmark's producer, run in the project's environment and folder (or the bare app's):

    python client.py generated|bare enqueue QUEUE TASK N ARGS_JSON   send N tasks, no waiting
    python client.py generated|bare latency QUEUE N                  N stamp tasks one at a time:
                                                                      enqueue → start, in ms
    python client.py generated|bare purge QUEUE                      empty the queue and results

Prints one JSON line. It publishes as the app's own code does (the generated app's settings, or
the bare app's), by task name, so it imports no task module.
"""

import json
import os
import sys
import time


def load_app(kind: str):
    sys.path.insert(0, os.getcwd())
    if kind == "generated":
        import django

        django.setup()
        from config.celery import app
    else:
        from bare_app import app
    return app


def main(kind: str, command: str, queue: str, *args: str) -> None:
    app = load_app(kind)
    if command == "enqueue":
        name, count, task_args = args[0], int(args[1]), json.loads(args[2])
        with app.producer_or_acquire() as producer:
            for _ in range(count):
                app.send_task(name, task_args, queue=queue, producer=producer)
        print(json.dumps({"sent": count}))
    elif command == "latency":
        delays = []
        for _ in range(5):  # warm up: the first get opens the result connection
            app.send_task("bench_tasks.stamp", queue=queue).get(timeout=30)
        for _ in range(int(args[0])):
            sent = time.time()
            started = app.send_task("bench_tasks.stamp", queue=queue).get(timeout=30)
            delays.append((started - sent) * 1000)
            time.sleep(0.01)
        print(json.dumps({"latency_ms": delays}))
    elif command == "purge":
        with app.connection_for_write() as connection:
            bound = app.amqp.queues[queue].bind(connection.default_channel)
            bound.declare()  # a first run's queue does not exist yet
            purged = bound.purge()
        if app.conf.result_backend.startswith("redis"):
            app.backend.client.flushdb()
        print(json.dumps({"purged": purged}))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
