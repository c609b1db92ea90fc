"""What the tests know about each broker, in one table: test code reads a broker's row instead of
comparing its name, so a new broker is one row here plus its template files.

What stays written per broker elsewhere, on purpose: the transport options doctrine.py expects
(each transport has its own settings), the diagnostics a failing delivery test prints
(delivery.py's `broker_state`), the servers a test starts and stops itself (services.py,
test_outages.py), the README's own local values the day-one test points at its servers
(test_user_path.py), and SQS's one purge of a queue a minute (test_boot.py).
"""

from collections.abc import Callable
from dataclasses import dataclass

from .boot.services import rabbitmq_vhost


@dataclass(frozen=True)
class Broker:
    name: str
    # The URL the render tier's checks configure; Django's checks never connect to it.
    check_url: str
    # The extra of `celery` that installs the transport (None: celery's own requirements do).
    celery_extra: str | None
    # Celery's remote control (inspect, control, Flower's worker list) works. Without it, workers
    # and Beat touch heartbeat files that their probes read.
    remote_control: bool
    # An unacknowledged message comes back after a visibility timeout (not when the connection
    # closes), so the timeout must outlast every task.
    visibility_timeout: bool
    # Workers long-poll (wait_time_seconds): a stopped worker's open poll may still take a message.
    long_poll: bool
    # Flower reads queue lengths from the broker itself (no management API to configure).
    queue_lengths_in_flower: bool
    # Messages a worker killed, or a server stopped, at the wrong instant may lose: kombu's Redis
    # transport pops a message (BRPOP) before it records it as unacknowledged.
    may_lose_handed_over: int
    # Variables the transport's client library reads itself (documented in .env.example).
    client_env: tuple[str, ...]
    # The compose service that runs the broker, and whether the production file runs it too.
    compose_service: str
    compose_in_production: bool
    # What the generated CI file names to run it: an image or a program.
    ci_service: str
    # KEDA's scaler type and the trigger's metadata key naming the queue.
    keda_trigger: tuple[str, str]
    # A booted project's broker URL: (boot services, a name of its own, a Redis database).
    boot_url: Callable[[dict, str, int], str]
    # What else a booted project named `name` needs in its environment for this broker.
    boot_env: Callable[[str], dict[str, str]]


def _sqs_boot_env(name: str) -> dict[str, str]:
    # The emulator speaks plain HTTP and accepts any credentials; boto3 only needs some.
    return {
        "CELERY_SQS_IS_SECURE": "false",
        "CELERY_SQS_QUEUE_PREFIX": f"{name}-",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }


BROKERS = {
    broker.name: broker
    for broker in (
        Broker(
            name="redis",
            check_url="redis://127.0.0.1:6379/15",
            celery_extra="redis",
            remote_control=True,
            visibility_timeout=True,
            long_poll=False,
            queue_lengths_in_flower=True,
            may_lose_handed_over=1,
            client_env=(),
            compose_service="redis",
            compose_in_production=True,
            ci_service="'redis:",
            keda_trigger=("redis", "listName"),
            boot_url=lambda services, name, db: f"{services['redis'].url}/{db}",
            boot_env=lambda name: {},
        ),
        Broker(
            name="rabbitmq",
            check_url="amqp://guest:guest@127.0.0.1:5672//",
            celery_extra=None,
            remote_control=True,
            visibility_timeout=False,
            long_poll=False,
            queue_lengths_in_flower=False,
            may_lose_handed_over=0,
            client_env=(),
            compose_service="rabbitmq",
            compose_in_production=True,
            ci_service="rabbitmq:",
            keda_trigger=("rabbitmq", "queueName"),
            boot_url=lambda services, name, db: rabbitmq_vhost(name),
            boot_env=lambda name: {},
        ),
        Broker(
            name="sqs",
            check_url="sqs://test:test@127.0.0.1:5000",
            celery_extra="sqs",
            remote_control=False,
            visibility_timeout=True,
            long_poll=True,
            queue_lengths_in_flower=False,
            may_lose_handed_over=0,
            client_env=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
            # The development stack's emulator; production uses AWS's SQS.
            compose_service="sqs",
            compose_in_production=False,
            ci_service="moto_server",
            keda_trigger=("aws-sqs-queue", "queueURL"),
            boot_url=lambda services, name, db: f"sqs://test:test@{services['sqs']}",
            boot_env=_sqs_boot_env,
        ),
    )
}
