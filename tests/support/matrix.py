"""The combinations of answers the template supports, and those it must refuse.

The validity rules here are the test oracle, written independently of copier.yml's validators.
"""

import hashlib
from dataclasses import dataclass, field
from itertools import product

from .brokers import BROKERS as BROKER_TABLE

BROKERS = tuple(BROKER_TABLE)
RESULT_BACKENDS = ("redis", "django-db", "rpc", "none")
BEAT_SCHEDULERS = ("django-db", "redbeat", "static", "none")
TOPOLOGIES = ("single", "priority", "workload", "custom")
# The deploy_targets answer, by the label that test ids use for it.
DEPLOY_TARGETS = {
    "compose": ["compose"],
    "kubernetes": ["kubernetes"],
    "both": ["compose", "kubernetes"],
    "none": [],
}
DEPLOYS = tuple(DEPLOY_TARGETS)
# The names of the axes in test ids.
AXES = ("broker", "backend", "beat", "topology")
PYTHON_VERSIONS = ("3.12", "3.13")
DJANGO_VERSIONS = ("5.2", "6.0")
CIS = ("github", "gitlab", "none")
ERROR_TRACKERS = ("none", "sentry")
TRACERS = ("none", "opentelemetry")
USER_MODELS = ("custom", "django")
# The default name, and one whose slug is as long as the template allows (30 characters), so that
# generated code is shown to stay formatted whatever the slug.
PROJECT_NAMES = {
    "My Project": "my_project",
    "Northwind Payments Ledger Sync": "northwind_payments_ledger_sync",
}

# The queue list rendered for the custom topology.
CUSTOM_QUEUES = ["default", "reports", "webhooks"]

TOPOLOGY_QUEUES = {
    "single": ["default"],
    "priority": ["critical", "default", "bulk"],
    "workload": ["critical", "communications", "heavy"],
    "custom": CUSTOM_QUEUES,
}
TOPOLOGY_DEFAULT_QUEUE = {
    "single": "default",
    "priority": "default",
    "workload": "communications",
    "custom": "default",
}


def refusal(broker: str, result_backend: str, beat_scheduler: str) -> str | None:
    """Why a broker/backend/scheduler triple is refused (a fragment of the message), or None."""
    if result_backend == "rpc" and broker != "rabbitmq":
        return "needs broker=rabbitmq"
    if beat_scheduler == "redbeat" and "redis" not in (broker, result_backend):
        return "redbeat keeps its schedule and its lock in Redis"
    return None


def flower_refusal(broker: str) -> str | None:
    """Why Flower is refused beside this broker (a fragment of the message), or None."""
    if broker == "sqs":
        return "which SQS does not carry"
    return None


@dataclass(frozen=True)
class Combination:
    broker: str
    result_backend: str
    beat_scheduler: str
    queue_topology: str
    deploy: str = "compose"
    # Varied across the matrix (see `varied`), not multiplied into it.
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def runtime_id(self) -> str:
        """What runs: the combination without the deployment files (a key of folders, timings
        and the hash that varies the other answers)."""
        parts = (self.broker, self.result_backend, self.beat_scheduler, self.queue_topology)
        return "-".join(part.replace("-", "_") for part in parts)

    @property
    def triple(self) -> tuple[str, str, str]:
        """Broker, result backend and Beat scheduler: the axes validated together."""
        return (self.broker, self.result_backend, self.beat_scheduler)

    @property
    def label(self) -> str:
        """The runtime combination as a test id: `broker:redis,backend:redis,beat:django-db,
        topology:priority` (select with `-k "broker:redis and beat:django-db"`)."""
        axes = zip(AXES, self.triple + (self.queue_topology,), strict=True)
        return ",".join(f"{axis}:{value}" for axis, value in axes)

    @property
    def id(self) -> str:
        """The combination as a test id: its label and `deploy:compose` (or another target)."""
        return f"{self.label},deploy:{self.deploy}"

    def answers(self) -> dict:
        data = {
            "broker": self.broker,
            "result_backend": self.result_backend,
            "beat_scheduler": self.beat_scheduler,
            "queue_topology": self.queue_topology,
            "deploy_targets": DEPLOY_TARGETS[self.deploy],
            **varied(self.runtime_id),
            **self.extra,
        }
        if self.queue_topology == "custom":
            data["queues"] = CUSTOM_QUEUES
        return data


def varied(runtime_id: str) -> dict:
    """Python, Django, Flower, CI, project name, error tracking, tracing and the user model,
    spread over the matrix by a hash of the runtime combination.

    A hash, not a counter, so that no varied value lines up with one axis of the product.
    """
    digest = hashlib.sha256(runtime_id.encode()).digest()
    broker = runtime_id.split("-")[0]
    return {
        "python_version": PYTHON_VERSIONS[digest[0] % 2],
        "django_version": DJANGO_VERSIONS[digest[1] % 2],
        # Flower is refused with SQS (no events, no remote control): see flower_refusal.
        "use_flower": bool(digest[2] % 2) and flower_refusal(broker) is None,
        "ci": CIS[digest[3] % 3],
        "project_name": list(PROJECT_NAMES)[digest[4] % 2],
        "error_tracking": ERROR_TRACKERS[digest[5] % 2],
        "tracing": TRACERS[digest[6] % 2],
        "user_model": USER_MODELS[digest[7] % 2],
    }


def valid_triples() -> list[tuple[str, str, str]]:
    return [t for t in product(BROKERS, RESULT_BACKENDS, BEAT_SCHEDULERS) if refusal(*t) is None]


def refused_triples() -> list[tuple[str, str, str]]:
    return [t for t in product(BROKERS, RESULT_BACKENDS, BEAT_SCHEDULERS) if refusal(*t)]


def runtime_combinations() -> list[Combination]:
    """Every combination that runs differently: broker x backend x scheduler x topology."""
    return [Combination(*triple, topology) for triple in valid_triples() for topology in TOPOLOGIES]


def all_combinations() -> list[Combination]:
    """Every valid combination, deploy targets included."""
    return [
        Combination(c.broker, c.result_backend, c.beat_scheduler, c.queue_topology, deploy)
        for c in runtime_combinations()
        for deploy in DEPLOYS
    ]


def pairwise(combinations: list[Combination]) -> list[Combination]:
    """A subset in which every pair of values of two axes that occurs at all occurs at least once.

    Greedy: keep taking the combination that covers the most pairs not yet covered.
    """

    def pairs(c: Combination) -> set[tuple]:
        values = list(enumerate((c.broker, c.result_backend, c.beat_scheduler, c.queue_topology)))
        return {(a, b) for a in values for b in values if a < b}

    uncovered = set().union(*(pairs(c) for c in combinations))
    chosen = []
    while uncovered:
        best = max(combinations, key=lambda c: len(pairs(c) & uncovered))
        chosen.append(best)
        uncovered -= pairs(best)
    return chosen
