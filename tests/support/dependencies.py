"""Does a rendered project declare every distribution it uses?

The render matrix checks projects in shared environments holding every combination's
dependencies, so an import missing from a project's own pyproject.toml would go unnoticed there.
This reads the project instead: its imports, the dotted paths its settings name, the programs its
Procfile runs and the broker URLs it uses, and maps each to the distribution that provides it.
"""

import ast
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement

from .brokers import BROKERS

# Top-level module (or program) -> (distribution, extra it needs or None).
PROVIDERS = {
    "celery": ("celery", None),
    "kombu": ("celery", None),
    "django": ("django", None),
    "environ": ("django-environ", None),
    "whitenoise": ("whitenoise", None),
    "django_celery_beat": ("django-celery-beat", None),
    "django_celery_results": ("django-celery-results", None),
    "redbeat": ("celery-redbeat", None),
    "gunicorn": ("gunicorn", None),
    "flower": ("flower", None),
    "gevent": ("gevent", None),
    "pytest": ("pytest", None),
    "hypothesis": ("hypothesis", None),
    "psycopg": ("psycopg", None),
    "pythonjsonlogger": ("python-json-logger", None),
    "prometheus_client": ("prometheus-client", None),
    "django_prometheus": ("django-prometheus", None),
    "sentry_sdk": ("sentry-sdk", None),
    "opentelemetry": ("opentelemetry-sdk", None),
}
# A dotted path in a string (INSTALLED_APPS, MIDDLEWARE, schedulers, storages).
DOTTED = re.compile(r"^([a-z_]+)(\.[A-Za-z_]+)+(:[A-Za-z_]+)?$")


def used_modules(project: Path, first_party: set[str]) -> set[str]:
    used = set()
    for path in project.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                used |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                used.add(node.module.split(".")[0])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = DOTTED.match(node.value)
                if match and match.group(1) in PROVIDERS:
                    used.add(match.group(1))
    return used - first_party - set(sys.stdlib_module_names)


def needed(project: Path, slug: str, answers: dict) -> set[tuple[str, str | None]]:
    """Every (distribution, extra) the project needs to run as rendered."""
    modules = used_modules(project, {slug, "config", "tests"})
    unknown = modules - PROVIDERS.keys()
    assert not unknown, f"imports with no known distribution (add them to PROVIDERS): {unknown}"
    needs = {PROVIDERS[module] for module in modules}
    procfile = (project / "Procfile").read_text()
    needs |= {PROVIDERS[p] for p in ("gunicorn", "flower") if re.search(rf"\b{p}\b", procfile)}
    if "--pool gevent" in procfile:
        needs.add(PROVIDERS["gevent"])
    # postgres:// URLs need a PostgreSQL driver.
    needs.add(PROVIDERS["psycopg"])
    if "redis" in (answers["broker"], answers["result_backend"]) or (
        answers["beat_scheduler"] == "redbeat"
    ):
        needs.add(("celery", "redis"))
    if extra := BROKERS[answers["broker"]].celery_extra:
        needs.add(("celery", extra))
    return needs


def assert_dependencies_declared(project: Path, slug: str, answers: dict, declared: list[str]):
    requirements = [Requirement(line) for line in declared]
    names = {req.name for req in requirements}
    extras = {(req.name, extra) for req in requirements for extra in req.extras}
    for distribution, extra in needed(project, slug, answers):
        assert distribution in names, f"{distribution} is used but not declared"
        if extra:
            assert (distribution, extra) in extras, f"{distribution}[{extra}] is not declared"


def assert_within(declared: list[str], superset: list[str]) -> None:
    """Every pin of the project is one the shared environment installs."""
    available = {}
    for line in superset:
        req = Requirement(line)
        specifier, extras = available.get(req.name, (req.specifier, set()))
        assert specifier == req.specifier, f"two pins for {req.name}: {specifier}, {req.specifier}"
        available[req.name] = (specifier, extras | req.extras)
    for line in declared:
        req = Requirement(line)
        assert req.name in available, f"{req.name} is missing from the shared environment"
        specifier, extras = available[req.name]
        assert req.specifier == specifier and req.extras <= extras, line
