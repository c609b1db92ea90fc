"""The render tier's KEDA check accepts what KEDA accepts and refuses what it would refuse.

kubernetes_manifests.validate checks KEDA's kinds against KEDA's own published schemas
(tests/schemas/keda/), closed to unknown fields, and against the trigger metadata keys of each
scaler (tests/schemas/keda-rules.json); these tests hold it to accepting each broker's rendered
ScaledObject, and one with KEDA's `fallback`, and to refusing unknown fields, wrong types and
unknown metadata keys.
"""

import copy

import pytest

from support.kubernetes_manifests import BASE, documents, validate

BROKERS = ("redis", "rabbitmq", "sqs")
# Each scaler's metadata key that names the queue, and the refusal without it (SQS: it or
# queueURLFromEnv).
QUEUE_KEY = {
    "redis": ("listName", "'listName' is a required property"),
    "rabbitmq": ("queueName", "'queueName' is a required property"),
    "sqs": ("queueURL", "is not valid under any of the given schemas"),
}


@pytest.fixture(scope="module")
def autoscaling(render, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """The KEDA objects of one render per broker (kubernetes/base/autoscaling.yaml)."""
    found = {}
    for broker in BROKERS:
        answers = {"broker": broker, "deploy_targets": ["kubernetes"]}
        project = render(answers, tmp_path_factory.mktemp(broker) / "project")
        found[broker] = documents(project / BASE / "autoscaling.yaml")
    return found


def of_kind(autoscaling: dict[str, list[dict]], broker: str, kind: str) -> dict:
    return copy.deepcopy(next(d for d in autoscaling[broker] if d["kind"] == kind))


def trigger(document: dict) -> dict:
    return document["spec"]["triggers"][0]


# A change to a rendered ScaledObject, and what the refusal names.
REFUSED = {
    "unknown field": (lambda d: d.update(specs={}), "'specs' was unexpected"),
    "unknown field in spec": (lambda d: d["spec"].update(minReplicas=1), "'minReplicas'"),
    "unknown field in metadata": (lambda d: d["metadata"].update(label={}), "'label'"),
    "unknown field in a trigger": (lambda d: trigger(d).update(authRef={}), "'authRef'"),
    "wrong type": (lambda d: d["spec"].update(maxReplicaCount="ten"), "not of type 'integer'"),
    "under the minimum": (lambda d: d["spec"].update(pollingInterval=0), "minimum of 1"),
    "a metadata value not a string": (
        lambda d: trigger(d)["metadata"].update(databaseIndex=0),
        "0 is not of type 'string'",
    ),
    "fallback without replicas": (
        lambda d: d["spec"].update(fallback={"failureThreshold": 3}),
        "'replicas' is a required property",
    ),
    "unknown fallback behavior": (
        lambda d: d["spec"].update(
            fallback={"failureThreshold": 3, "replicas": 2, "behavior": "x"}
        ),
        "'x' is not one of",
    ),
    "another API version": (lambda d: d.update(apiVersion="keda.sh/v1beta1"), "keda.sh/v1alpha1"),
    "a scaler without rules": (lambda d: trigger(d).update(type="kafka"), "'kafka' is not one of"),
}


@pytest.mark.parametrize("broker", BROKERS)
def test_rendered_keda_objects_are_valid(autoscaling: dict, broker: str) -> None:
    kinds = [d["kind"] for d in autoscaling[broker]]
    assert "ScaledObject" in kinds and (broker == "sqs") == ("TriggerAuthentication" in kinds)
    for document in autoscaling[broker]:
        validate(document, f"{broker} autoscaling.yaml")


def test_scaled_object_with_fallback_is_valid(autoscaling: dict) -> None:
    """`fallback` is KEDA's (the replicas to keep while the scaler fails): accepted."""
    document = of_kind(autoscaling, "redis", "ScaledObject")
    document["spec"]["fallback"] = {"failureThreshold": 3, "replicas": 2}
    validate(document, "redis autoscaling.yaml")


@pytest.mark.parametrize(("mutation", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_invalid_scaled_object_is_refused(autoscaling: dict, mutation, message: str) -> None:
    document = of_kind(autoscaling, "redis", "ScaledObject")
    mutation(document)
    with pytest.raises(AssertionError, match=f"ScaledObject: .*{message}"):
        validate(document, "redis autoscaling.yaml")


@pytest.mark.parametrize("broker", BROKERS)
def test_unknown_trigger_metadata_key_is_refused(autoscaling: dict, broker: str) -> None:
    document = of_kind(autoscaling, broker, "ScaledObject")
    trigger(document)["metadata"]["queueLenght"] = "5"
    with pytest.raises(AssertionError, match="'queueLenght' is not one of"):
        validate(document, f"{broker} autoscaling.yaml")


@pytest.mark.parametrize("broker", BROKERS)
def test_trigger_without_its_queue_is_refused(autoscaling: dict, broker: str) -> None:
    key, message = QUEUE_KEY[broker]
    document = of_kind(autoscaling, broker, "ScaledObject")
    del trigger(document)["metadata"][key]
    with pytest.raises(AssertionError, match=f"ScaledObject: .*{message}"):
        validate(document, f"{broker} autoscaling.yaml")


TRIGGER_AUTHENTICATION_REFUSED = {
    "unknown provider": (lambda p: p.update(provider="aws-kiam"), "'aws-kiam' is not one of"),
    "unknown field": (lambda p: p.update(roleARN="arn:aws:iam::1:role/r"), "'roleARN'"),
    "roleArn with identityOwner": (
        lambda p: p.update(roleArn="arn:aws:iam::1:role/r"),
        "should not be valid",
    ),
}


@pytest.mark.parametrize(
    ("mutation", "message"),
    TRIGGER_AUTHENTICATION_REFUSED.values(),
    ids=TRIGGER_AUTHENTICATION_REFUSED.keys(),
)
def test_invalid_trigger_authentication_is_refused(autoscaling: dict, mutation, message) -> None:
    document = of_kind(autoscaling, "sqs", "TriggerAuthentication")
    mutation(document["spec"]["podIdentity"])
    with pytest.raises(AssertionError, match=f"TriggerAuthentication: .*{message}"):
        validate(document, "sqs autoscaling.yaml")
