"""Build a Kustomize overlay in Python: the subset of Kustomize the generated manifests use.

No Debian or PyPI package ships a kubectl with Kustomize 5, so the render tier builds every
overlay with this instead, and `tests/test_kustomize.py` checks, where kubectl is installed, that
`kubectl kustomize` builds the same objects. Supported: `resources` (files, and folders holding a
kustomization.yaml), `namespace`, `labels` (pairs on metadata only), `images`, `secretGenerator`
(`envs` files; the name gets a hash of the content, and `envFrom` references follow it) and
`patches` (JSON 6902 operations on a kind and name target). A kustomization with any other field
is refused, so nothing is ever silently left out.
"""

import base64
import copy
import hashlib
import json
from pathlib import Path

import yaml

FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "secretGenerator",
    "patches",
}
# Kinds the generated manifests use that live outside any namespace: none so far.
CLUSTER_SCOPED: set[str] = set()


def build(folder: Path) -> list[dict]:
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(kustomization) - FIELDS
    if unknown:
        raise ValueError(
            f"{folder}/kustomization.yaml: fields this builder does not know: {unknown}"
        )
    objects: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = (folder / resource).resolve()
        if path.is_dir():
            objects += build(path)
        else:
            objects += [d for d in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader) if d]
    for label in kustomization.get("labels", []):
        if label.get("includeSelectors") or label.get("includeTemplates"):
            raise ValueError("labels on selectors or templates are not supported")
        for item in objects:
            item["metadata"].setdefault("labels", {}).update(label["pairs"])
    renamed = {}
    for generator in kustomization.get("secretGenerator", []):
        secret = generated_secret(folder, generator)
        renamed[generator["name"]] = secret["metadata"]["name"]
        objects.append(secret)
    for patch in kustomization.get("patches", []):
        target = patch["target"]
        matches = [
            o
            for o in objects
            if o["kind"] == target["kind"] and o["metadata"]["name"] == target["name"]
        ]
        if not matches:
            raise ValueError(f"patch target {target} matches no object")
        for item in matches:
            for operation in yaml.safe_load(patch["patch"]):
                apply_operation(item, operation)
    for item in objects:
        if "namespace" in kustomization and item["kind"] not in CLUSTER_SCOPED:
            item["metadata"]["namespace"] = kustomization["namespace"]
        for container in containers(item):
            for image in kustomization.get("images", []):
                if container["image"].split(":")[0].split("@")[0] == image["name"]:
                    container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
        for pod in pod_specs(item):
            for container in pod.get("initContainers", []) + pod.get("containers", []):
                for source in container.get("envFrom", []):
                    reference = source.get("secretRef", {})
                    if reference.get("name") in renamed:
                        reference["name"] = renamed[reference["name"]]
    return objects


def generated_secret(folder: Path, generator: dict) -> dict:
    data = {}
    for env_file in generator["envs"]:
        for line in (folder / env_file).read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                data[key.strip()] = base64.b64encode(value.encode()).decode()
    content = json.dumps({"data": data, "name": generator["name"]}, sort_keys=True)
    suffix = hashlib.sha256(content.encode()).hexdigest()[:10]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{generator['name']}-{suffix}"},
        "type": "Opaque",
        "data": data,
    }


def apply_operation(item: dict, operation: dict) -> None:
    *parents, last = [
        part.replace("~1", "/").replace("~0", "~")
        for part in operation["path"].lstrip("/").split("/")
    ]
    node = item
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if operation["op"] in ("replace", "add"):
        if operation["op"] == "replace" and last not in node:
            raise ValueError(f"replace of a missing {operation['path']}")
        node[last] = copy.deepcopy(operation["value"])
    elif operation["op"] == "remove":
        del node[last]
    else:
        raise ValueError(f"patch operation {operation['op']} is not supported")


def pod_specs(item: dict) -> list[dict]:
    template = item.get("spec", {}).get("template", {})
    return [template["spec"]] if "spec" in template else []


def containers(item: dict) -> list[dict]:
    return [
        c
        for pod in pod_specs(item)
        for c in pod.get("initContainers", []) + pod.get("containers", [])
    ]
