"""The Python overlay builder (kustomize.py) builds what `kubectl kustomize` builds.

The render tier builds every production overlay with kustomize.py; here, for one combination per
broker and per optional process, the same overlay is also built by kubectl and the two object
lists must be equal (the generated Secret's name aside: its hash suffix is Kustomize's own). This
needs kubectl with Kustomize 5; the README says how to run without it.
"""

import base64
import os
import re
import shutil
import subprocess

import pytest
import yaml

import kustomize
from kubernetes_manifests import OVERLAY

VARIANTS = [
    {"broker": "redis", "result_backend": "redis", "beat_scheduler": "redbeat", "use_flower": True},
    {"broker": "rabbitmq", "result_backend": "rpc", "beat_scheduler": "none", "use_flower": False},
    {
        "broker": "sqs",
        "result_backend": "django-db",
        "beat_scheduler": "static",
        "use_flower": True,
        "queue_topology": "custom",
        "queues": ["default", "reports"],
    },
]


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        if os.environ.get("CDC_WITHOUT_KUBECTL") == "1":
            pytest.skip("CDC_WITHOUT_KUBECTL=1: kubectl is not installed (see the README)")
        pytest.fail("kubectl (with Kustomize 5) is not installed; CDC_WITHOUT_KUBECTL=1 skips this")
    return found


def normalized(objects: list[dict]) -> dict:
    """Objects by kind and name, the generated Secret's hash suffix made uniform and its values
    decoded (kubectl wraps long base64 lines)."""
    text = re.sub(r"(-secrets)-[a-z0-9]{10}\b", r"\1-HASH", yaml.safe_dump_all(objects))
    parsed = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(text) if o}
    for (kind, _), item in parsed.items():
        if kind == "Secret":
            item["data"] = {k: base64.b64decode(v).decode() for k, v in item["data"].items()}
    return parsed


@pytest.mark.parametrize("answers", VARIANTS, ids=[v["broker"] for v in VARIANTS])
def test_python_build_equals_kubectl_kustomize(answers, render, tmp_path) -> None:
    binary = kubectl()
    project = render({**answers, "deploy_targets": ["kubernetes"]}, tmp_path / "project")
    overlay = project / OVERLAY
    shutil.copy(overlay / "secrets.env.example", overlay / "secrets.env")
    result = subprocess.run([binary, "kustomize", str(overlay)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    expected = normalized([d for d in yaml.safe_load_all(result.stdout) if d])
    built = normalized(kustomize.build(overlay))
    assert sorted(built) == sorted(expected)
    for key, item in expected.items():
        assert built[key] == item, key
