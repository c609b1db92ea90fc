"""The doctrine's values, asserted on the Celery settings read from a rendered project's app.

`conf` is the report of inspect_project.py for one settings module: the configured app's values.
"""

from datetime import timedelta

from .brokers import BROKERS
from .matrix import TOPOLOGY_DEFAULT_QUEUE, TOPOLOGY_QUEUES, Combination

# RabbitMQ closes a channel whose message stays unacknowledged past consumer_timeout (30 min).
RABBITMQ_CONSUMER_TIMEOUT = 30 * 60
RESULT_BACKEND_URL = "redis://127.0.0.1:6379/14"


def assert_doctrine(conf: dict, combo: Combination, slug: str) -> None:
    # Delivery guarantees
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_cancel_long_running_tasks_on_connection_loss"] is True
    assert conf["broker_connection_retry_on_startup"] is True
    assert conf["task_serializer"] == conf["result_serializer"] == "json"
    assert conf["accept_content"] == conf["result_accept_content"] == ["json"]
    assert 0 < conf["task_soft_time_limit"] < conf["task_time_limit"] < RABBITMQ_CONSUMER_TIMEOUT
    # Throughput and isolation
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["worker_max_tasks_per_child"] == 1000
    assert conf["worker_max_memory_per_child"] > 0
    assert conf["worker_send_task_events"] is False  # Flower switches them on while it runs
    assert conf["worker_hijack_root_logger"] is False
    # Scheduling
    assert conf["timezone"] == conf["time_zone"]
    # Every task of the project inherits the base task (logging, retries, dead letters).
    assert conf["tasks"] and all(conf["tasks"].values()), conf["tasks"]
    assert f"{slug}.core.tasks.ping" in conf["tasks"]
    assert_queues(conf, combo, slug)
    assert_broker_options(conf, combo)
    assert_results(conf, combo)
    assert_beat(conf, combo, slug)
    assert_user_model(conf, combo, slug)


def assert_queues(conf: dict, combo: Combination, slug: str) -> None:
    queues = TOPOLOGY_QUEUES[combo.queue_topology]
    assert [q["name"] for q in conf["task_queues"]] == queues
    assert all(q["durable"] and q["routing_key"] == q["name"] for q in conf["task_queues"])
    assert conf["task_default_queue"] == TOPOLOGY_DEFAULT_QUEUE[combo.queue_topology]
    assert conf["task_create_missing_queues"] is False
    routes = conf["task_routes"]
    assert {route["queue"] for route in routes.values()} <= set(queues)
    critical = routes[f"{slug}.payments.tasks.record_payment"]["queue"]
    heavy = routes[f"{slug}.payments.tasks.build_receipt"]["queue"]
    if combo.queue_topology in ("priority", "workload"):
        # A backlog of heavy work never shares a queue with payments.
        assert critical == "critical" and heavy != critical


def assert_broker_options(conf: dict, combo: Combination) -> None:
    options = conf["broker_transport_options"]
    broker = BROKERS[combo.broker]
    assert conf["broker_url"] == broker.check_url
    if broker.visibility_timeout:
        # Above the longest hard time limit, or long tasks are redelivered while still running.
        assert options["visibility_timeout"] >= 2 * RABBITMQ_CONSUMER_TIMEOUT
    if combo.broker == "rabbitmq":
        assert options == {"confirm_publish": True}
        assert all(q["queue_arguments"] == {"x-queue-type": "classic"} for q in conf["task_queues"])
    if combo.broker == "sqs":
        assert options["region"] and options["queue_name_prefix"].endswith("-")
        assert options["visibility_timeout"] <= 12 * 3600  # SQS's own maximum
        assert 1 <= options["wait_time_seconds"] <= 20  # long polling, within SQS's maximum


def assert_results(conf: dict, combo: Combination) -> None:
    expected = {
        "redis": RESULT_BACKEND_URL,
        "django-db": "django-db",
        "rpc": "rpc://",
        "none": None,
    }[combo.result_backend]
    assert conf["result_backend"] == expected
    assert ("django_celery_results" in conf["installed_apps"]) == (
        combo.result_backend == "django-db"
    )
    if combo.result_backend == "none":
        assert conf["task_ignore_result"] is True
    else:
        assert 0 < conf["result_expires"] <= 7 * 24 * 3600
    # A result store that fails is retried (Redis, the database) instead of losing the result.
    assert conf["result_backend_always_retry"] is (combo.result_backend in ("redis", "django-db"))
    if combo.result_backend == "redis":
        visibility = conf["result_backend_transport_options"]["visibility_timeout"]
        assert visibility >= 2 * RABBITMQ_CONSUMER_TIMEOUT


def assert_beat(conf: dict, combo: Combination, slug: str) -> None:
    schedulers = {
        "django-db": "django_celery_beat.schedulers:DatabaseScheduler",
        "redbeat": "redbeat.RedBeatScheduler",
        "static": "celery.beat:PersistentScheduler",
    }
    assert ("django_celery_beat" in conf["installed_apps"]) == (combo.beat_scheduler == "django-db")
    if combo.beat_scheduler == "none":
        assert conf["beat_schedule"] == {}
        return
    assert conf["beat_scheduler"] == schedulers[combo.beat_scheduler]
    # Beat answers Celery's ping (its liveness probe) where the transport has remote control.
    assert conf["beat_enable_remote_control"] is BROKERS[combo.broker].remote_control
    entry = conf["beat_schedule"]["reconcile-ledger"]
    assert entry["task"] == f"{slug}.payments.tasks.reconcile_ledger"
    # Expired idempotency keys are purged daily (without Beat, the default worker sends it).
    purge = conf["beat_schedule"]["purge-idempotency-keys"]
    assert purge["task"] == f"{slug}.core.tasks.purge_idempotency_keys"
    assert purge["schedule"] == str(timedelta(days=1)), purge
    if combo.beat_scheduler == "redbeat":
        redis_url = conf["broker_url"] if combo.broker == "redis" else conf["result_backend"]
        assert conf["redbeat_redis_url"] == redis_url


def assert_user_model(conf: dict, combo: Combination, slug: str) -> None:
    """The project's own users.User, or Django's auth.User where the answer keeps it."""
    custom = combo.answers().get("user_model", "custom") == "custom"
    assert conf["auth_user_model"] == ("users.User" if custom else "auth.User")
    assert (f"{slug}.users" in conf["installed_apps"]) == custom
