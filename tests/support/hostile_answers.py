"""What a set of answers must give: a refusal that writes nothing, or a project that passes its own
checks. Used by tests/test_hostile_answers.py for the hand-written hostile sets and the Hypothesis
test; the checks are the render tier's (tests/support/sound_project.py's run_checks, in the shared
environment of tests/conftest.py's superset answers).
"""

import hashlib
import re
import subprocess
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from .project_env import venv_with
from .sound_project import run_checks

# DNS-1123 label: what Kubernetes requires of namespaces, container names and most object names.
DNS_1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
# CommonMark: a backslash before ASCII punctuation shows the character itself.
MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
UNTOUCHED = "untouched"

_django_checked: set[str] = set()


def attempt(render, answers: dict, dest: Path) -> str | None:
    """Render `answers` into `dest` (which holds one file): None when accepted, else the refusal,
    after checking that the refusal wrote nothing."""
    dest.mkdir(parents=True)
    (dest / "existing.txt").write_text(UNTOUCHED)
    try:
        render(answers, dest)
    except ValueError as refused:
        assert "Validation error" in str(refused), refused
        assert [p.name for p in dest.iterdir()] == ["existing.txt"]
        assert (dest / "existing.txt").read_text() == UNTOUCHED
        return str(refused)
    return None


def assert_sound(project: Path, answers: dict, environment: list[str]) -> None:
    """The project's own checks pass, and every text answer reads back as given."""
    stored = yaml.safe_load((project / ".copier-answers.yml").read_text())
    python_version = stored["python_version"]
    venv = venv_with(environment, python_version)
    combo = SimpleNamespace(broker=stored["broker"])
    key = _python_digest(project, python_version)
    if key in _django_checked:
        for command in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
            _run([venv / "bin" / "ruff", *command], project)
    else:
        # ruff check, ruff format --check, then manage.py check (test and production settings).
        run_checks(project, combo, venv)
        _django_checked.add(key)
    _run([venv / "bin" / "python", "-m", "compileall", "-q", "."], project)

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert pyproject["description"] == stored["description"]
    assert pyproject["authors"] == [
        {"name": stored["author_name"], "email": stored["author_email"]}
    ]
    for key, value in answers.items():
        if key in ("project_name", "description", "author_name", "author_email", "project_slug"):
            assert stored[key] == value, key
    readme = (project / "README.md").read_text().splitlines()
    # Markdown drops the spaces at either end, the template too (four would start a code block).
    assert _markdown_text(readme[0].removeprefix("# ")) == stored["project_name"].strip()
    assert _markdown_text(readme[2]) == stored["description"].strip()
    procfile = (project / "Procfile").read_text()
    for queue in stored.get("queues") or []:
        assert f" --queues {queue} " in procfile, f"queue {queue!r} is not the Procfile's"
    if (project / "kubernetes").exists():
        assert_kubernetes_names(project)
        assert_autoscaled_queues(project, procfile)


def assert_autoscaled_queues(project: Path, procfile: str) -> None:
    """Each KEDA trigger names its worker's queue as a string, whatever the name."""
    autoscaling = project / "kubernetes" / "base" / "autoscaling.yaml"
    for document in yaml.safe_load_all(autoscaling.read_text()):
        for trigger in (document or {}).get("spec", {}).get("triggers", []):
            name = trigger["metadata"].get("listName") or trigger["metadata"].get("queueName")
            if name is not None:
                assert isinstance(name, str) and f"--queues {name} " in procfile, name


def assert_kubernetes_names(project: Path) -> None:
    """Every object, namespace and container name in kubernetes/ is a DNS-1123 label, and no two
    objects of a kind share a name."""
    seen: set[tuple[str, str]] = set()
    for path in sorted((project / "kubernetes").rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not isinstance(document, dict):
                continue
            names = [document.get("namespace")] if path.name == "kustomization.yaml" else []
            metadata = document.get("metadata") or {}
            names += [metadata.get("name"), metadata.get("namespace")]
            if "kind" in document and metadata.get("name"):
                pair = (document["kind"], metadata["name"])
                assert pair not in seen, f"{path.name}: two {pair[0]} named {pair[1]}"
                seen.add(pair)
            names += [c["name"] for c in _containers(document)]
            for name in filter(None, names):
                assert len(name) <= 63 and DNS_1123_LABEL.match(name), f"{path.name}: {name!r}"


def _containers(document: dict) -> list[dict]:
    spec = document.get("spec") or {}
    for step in ("jobTemplate", "template"):
        if step in spec:
            spec = (spec[step] or {}).get("spec") or {}
    if "template" in spec:
        spec = (spec["template"] or {}).get("spec") or {}
    return list(spec.get("containers") or []) + list(spec.get("initContainers") or [])


def _markdown_text(line: str) -> str:
    return MARKDOWN_ESCAPE.sub(r"\1", line)


def _python_digest(project: Path, python_version: str) -> str:
    digest = hashlib.sha256(python_version.encode())
    for path in sorted(project.rglob("*.py")):
        digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _run(command: list, project: Path) -> None:
    result = subprocess.run(command, cwd=project, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}")
