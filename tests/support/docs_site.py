"""Building the docs site as CI does (`mkdocs build --strict`) and loading its hooks."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

from .releases import REPO

HOOKS = REPO / "docs" / "_hooks"
# A line of mkdocs.yml (not the whole YAML: its `!!python/name` tags need MkDocs' own loader).
REPO_URL = re.search(r"^repo_url: (\S+)$", (REPO / "mkdocs.yml").read_text(), re.M)[1]
# Material 9.8 prints a notice about its end of life (May 2027) on every build.
ENV = os.environ | {"NO_MKDOCS_2_WARNING": "1"}


def build(root: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )


def warnings(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if "WARNING" in line]


def load_hook(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", HOOKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
