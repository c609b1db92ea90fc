"""A bare Celery app, the benchmark's baseline: no Django, no base task, Celery's own logging.

BENCH_SETTINGS=defaults keeps every Celery default; BENCH_SETTINGS=safety sets the generated
project's delivery guarantees and limits (late acks, requeue on a lost child, prefetch 1 on the
command line, per-child recycling, publisher confirms on RabbitMQ, Redis's visibility timeout),
and nothing else. Started by tests/bench/run.py with `celery -A bare_app worker ...`.
"""

import os

from celery import Celery

app = Celery("bare", include=["bench_tasks"])
app.conf.broker_url = os.environ["CELERY_BROKER_URL"]
app.conf.result_backend = os.environ["CELERY_RESULT_BACKEND"]
app.conf.task_default_queue = "default"
app.conf.broker_connection_retry_on_startup = True

if slots := os.environ.get("BENCH_POOL_SLOTS"):
    # A gevent worker acknowledges from every task in flight: kombu's Redis pool (10) runs out.
    app.conf.broker_transport_options = {"max_connections": int(slots) + 10}

if os.environ["BENCH_SETTINGS"] == "safety":
    app.conf.task_acks_late = True
    app.conf.task_reject_on_worker_lost = True
    app.conf.worker_max_tasks_per_child = 1000
    app.conf.worker_max_memory_per_child = 512 * 1024
    app.conf.result_backend_always_retry = True
    if app.conf.broker_url.startswith("amqp"):
        app.conf.broker_transport_options = {"confirm_publish": True}
    else:
        app.conf.broker_transport_options |= {"visibility_timeout": 7200}
