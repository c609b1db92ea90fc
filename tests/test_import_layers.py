"""The generated apps import one way: views -> webhooks -> tasks -> services -> selectors -> models.

A cycle (services importing tasks, which import services) let `import payments.services` work
while the natural `from .tasks import payment_pipeline` failed with a partially initialised
module. This reads every module of the generated apps and fails on an import against the order.
"""

import ast
from pathlib import Path

LAYERS = ["views", "webhooks", "tasks", "services", "selectors", "models"]


def sibling_imports(module: Path) -> set[str]:
    """The layer modules of its own app that `module` imports (`from . import x`, `from .x`)."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found |= {alias.name for alias in node.names}
    return found & set(LAYERS)


def test_apps_import_down_the_layers_only(render, tmp_path) -> None:
    project = render({}, tmp_path / "project")  # every combination has the same apps
    apps = [apps_py.parent for apps_py in project.glob("*/*/apps.py")]
    checked = 0
    for app in apps:
        for layer in LAYERS:
            module = app / f"{layer}.py"
            if not module.exists():
                continue
            checked += 1
            above = set(LAYERS[: LAYERS.index(layer) + 1])
            wrong = sibling_imports(module) & above
            assert not wrong, f"{module.relative_to(project)} imports {sorted(wrong)}"
    assert checked >= len(LAYERS), "the layer modules were not found"
