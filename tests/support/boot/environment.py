"""The environment of a booted combination: its own database, broker vhost or Redis database
and ports, named after this run so that two runs on one machine never meet."""

import hashlib
import secrets
from pathlib import Path

from ..brokers import BROKERS
from ..matrix import Combination, runtime_combinations
from .checks import FLOWER_AUTH, SQS_LONG_POLL_SECONDS, WEBHOOK_SECRET
from .housekeeping import EVERY_SECONDS as HOUSEKEEPING_SECONDS
from .services import free_port, free_ports, postgres_database

# Names of databases and vhosts carry this run's own suffix: two runs on one machine never meet.
RUN = secrets.token_hex(3)
# Redis databases 0 to N-1 are the combinations' brokers; their result backends come after.
RESULT_DB_OFFSET = len(runtime_combinations())
# The most metrics ports a project serves: web, three queues' workers and Beat.
METRICS_PORTS = 5


def environment(combo: Combination, index: int, services: dict, boot_dir: Path) -> dict:
    answers = combo.answers()
    name = f"cdc_boot_{index}_{RUN}"
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
        "RECONCILE_LEDGER_EVERY_SECONDS": "1",
        # The purge of expired rows, every few seconds instead of daily (housekeeping.py).
        "HOUSEKEEPING_EVERY_SECONDS": str(HOUSEKEEPING_SECONDS),
        # Retries 1 s then 2 s apart, without jitter, so that growing waits can be measured.
        "TASK_RETRY_BACKOFF_SECONDS": "1",
        "TASK_RETRY_JITTER": "false",
        # A handful of waiting messages is enough to make the queue health endpoint answer 503.
        "QUEUE_HEALTH_MAX_PENDING": "3",
        "CELERY_BEAT_SCHEDULE_FILENAME": str(boot_dir / "celerybeat-schedule"),
        "CELERY_HEARTBEAT_DIR": str(boot_dir),
        "PORT": str(free_port()),
        "FLOWER_PORT": str(free_port()),
        "FLOWER_ADDRESS": "127.0.0.1",
        "FLOWER_BASIC_AUTH": FLOWER_AUTH,
        # Web's metrics port, then each worker's and Beat's (config/metrics.py): at most 5.
        "METRICS_BASE_PORT": str(free_ports(METRICS_PORTS)),
    }
    env["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{env['PORT']} --workers 1"
    broker = BROKERS[combo.broker]
    # A Redis broker uses the combination's own database number.
    env["CELERY_BROKER_URL"] = broker.boot_url(services, name, index)
    env |= broker.boot_env(name)
    if broker.long_poll:
        # A stopped worker's open long poll would take a message sent to its queue: keep it short.
        env["CELERY_SQS_WAIT_TIME_SECONDS"] = str(SQS_LONG_POLL_SECONDS)
    if combo.result_backend == "redis":
        # Results in a database of their own, numbered after every combination's broker one.
        env["CELERY_RESULT_BACKEND"] = f"{redis}/{index + RESULT_DB_OFFSET}"
    if answers["beat_scheduler"] == "redbeat" and combo.broker != "redis":
        env["CELERY_REDBEAT_REDIS_URL"] = env["CELERY_RESULT_BACKEND"]
    return env
