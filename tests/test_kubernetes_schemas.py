"""The render tier's Kubernetes schema check refuses what the API server would refuse.

kubernetes_manifests.validate builds one validator per kind from kubernetes-validate's strict
schemas; these tests hold it to refusing unknown fields, wrong types and unknown kinds in a
rendered Deployment, so that the speed-up cannot turn the check into one that accepts anything.
"""

import copy

import pytest

from support.kubernetes_manifests import BASE, documents, validate


@pytest.fixture(scope="module")
def deployment(render, tmp_path_factory: pytest.TempPathFactory) -> dict:
    answers = {"deploy_targets": ["kubernetes"], "queue_topology": "priority"}
    project = render(answers, tmp_path_factory.mktemp("kubernetes") / "project")
    base = project / BASE
    found = [d for p in sorted(base.glob("*.yaml")) for d in documents(p)]
    return next(d for d in found if d["kind"] == "Deployment")


def container(document: dict) -> dict:
    return document["spec"]["template"]["spec"]["containers"][0]


MUTATIONS = {
    "unknown field": lambda d: d["spec"].update(replicaz=2),
    "wrong type": lambda d: d["spec"].update(replicas="two"),
    "unknown field in a container": lambda d: container(d).update(imagePullPolicyy="Always"),
    "wrong type in a container": lambda d: container(d).update(args="celery worker"),
    "unknown kind": lambda d: d.update(kind="Deploymint"),
}


def test_rendered_deployment_is_valid(deployment: dict) -> None:
    validate(deployment, "base")


@pytest.mark.parametrize("mutation", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_invalid_deployment_is_refused(deployment: dict, mutation) -> None:
    broken = copy.deepcopy(deployment)
    mutation(broken)
    with pytest.raises(AssertionError, match="Deploy"):
        validate(broken, "base")
