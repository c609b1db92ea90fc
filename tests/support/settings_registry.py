"""The production settings registry (docs/settings.yml) held to a rendered project's settings.

`assert_registry` runs in the render matrix, once per combination, on the `settings` part of the
production report of inspect_project.py: the names and values the production settings module
defines with no `.env` read. Every governed name a render sets must be in the registry, every entry
whose `when` matches the combination must be set, and with the value the registry gives.
"""

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REGISTRY = Path(__file__).resolve().parents[2] / "docs" / "settings.yml"
# The settings the registry must list in full: Celery's, Django's security settings, and the
# project's own retry policy, queue health thresholds, webhook, metrics and housekeeping settings.
GOVERNED = re.compile(
    r"^(CELERY_|SECURE_|SESSION_|CSRF_|TASK_RETRY_|QUEUE_HEALTH_|PAYMENTS_WEBHOOK_|METRICS_"
    r"|IDEMPOTENCY_|HOUSEKEEPING_)"
    r"|^(DEBUG|SECRET_KEY|ALLOWED_HOSTS|TASK_MAX_RETRIES)$"
)
# The answers a `when` may name.
WHEN_KEYS = ("broker", "result_backend", "beat_scheduler", "queue_topology")
# How an entry gives its value; none of them: derived from other files, held by its test.
VALUE_KINDS = ("value", "env", "same_as", "options")


@dataclass(frozen=True)
class Expected:
    """What one setting must be in one combination: `kind` of VALUE_KINDS, or None (any value)."""

    name: str
    entry: dict
    kind: str | None
    data: Any


@functools.cache
def load() -> dict[str, list[dict]]:
    """The registry: section -> entries (read once per process; not to be changed)."""
    return yaml.safe_load(REGISTRY.read_text(encoding="utf-8"))


def entries(registry: dict | None = None) -> list[dict]:
    return [entry for section in (registry or load()).values() for entry in section]


def names(entry: dict) -> list[str]:
    return entry["name"] if isinstance(entry["name"], list) else [entry["name"]]


def matches(entry: dict, answers: dict) -> bool:
    for key, wanted in (entry.get("when") or {}).items():
        if answers[key] not in (wanted if isinstance(wanted, list) else [wanted]):
            return False
    return True


def kind_of(entry: dict) -> str | None:
    kinds = [kind for kind in VALUE_KINDS if kind in entry]
    assert len(kinds) <= 1, f"{entry['name']}: one of {VALUE_KINDS}, not {kinds}"
    return kinds[0] if kinds else None


def expected_settings(answers: dict, registry: dict | None = None) -> dict[str, Expected]:
    """Each setting the registry says a render with these answers sets."""
    expected: dict[str, Expected] = {}
    for entry in entries(registry):
        if not matches(entry, answers):
            continue
        for name in names(entry):
            assert name not in expected, f"two registry entries set {name} for {answers}"
            kind = kind_of(entry)
            expected[name] = Expected(name, entry, kind, entry.get(kind) if kind else None)
    return expected


def substitute(value: Any, slug: str) -> Any:
    """The registry's `{slug}` and `{slug_hyphens}` in string values, for this project."""
    if isinstance(value, str):
        return value.replace("{slug_hyphens}", slug.replace("_", "-")).replace("{slug}", slug)
    if isinstance(value, list):
        return [substitute(v, slug) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, slug) for k, v in value.items()}
    return value


def value_problem(spec: dict, kind: str | None, rendered: Any, context: dict) -> str | None:
    """Why `rendered` is not what `spec` says (None if it is). `context`: slug, env, values."""
    if kind is None:
        return None
    if kind == "value":
        wanted = substitute(spec["value"], context["slug"])
        return None if rendered == wanted else f"is {rendered!r}, the registry says {wanted!r}"
    if kind == "same_as":
        other = context["values"].get(spec["same_as"])
        return None if rendered == other else f"is {rendered!r}, not {spec['same_as']} ({other!r})"
    if kind == "env":
        variable = spec["env"]
        if variable in context["env"]:
            raw = context["env"][variable]
            ok = rendered in (raw, raw.split(","))
            return None if ok else f"is {rendered!r}, not ${variable} ({raw!r})"
        if "default" not in spec:
            return f"is {rendered!r}, but ${variable} is required and was not set"
        wanted = substitute(spec["default"], context["slug"])
        ok = rendered == wanted
        return None if ok else f"is {rendered!r}, the registry's default is {wanted!r}"
    # options: a dict whose keys are exactly the options, each checked as an entry of its own.
    if not isinstance(rendered, dict):
        return f"is {rendered!r}, not a dict"
    keys = [option["key"] for option in spec["options"]]
    if sorted(rendered) != sorted(keys):
        return f"has keys {sorted(rendered)}, the registry lists {sorted(keys)}"
    for option in spec["options"]:
        problem = value_problem(option, kind_of(option), rendered[option["key"]], context)
        if problem:
            return f"[{option['key']!r}] {problem}"
    return None


def registry_problems(report: dict, answers: dict, slug: str, env: dict) -> list[str]:
    """What disagrees between a render's production settings and the registry."""
    values, known = report["values"], set(report["known"])
    expected = expected_settings(answers)
    governed = {name for name in values if GOVERNED.match(name)}
    problems = [
        f"{n} is set but docs/settings.yml does not list it for these answers"
        for n in sorted(governed - set(expected))
    ]
    problems += [
        f"{n} is in docs/settings.yml for these answers but not set"
        for n in sorted(set(expected) - set(values))
    ]
    context = {"slug": slug, "env": env, "values": values}
    for name, spec in sorted(expected.items()):
        if name not in values:
            continue
        if name not in known and "package" not in spec.entry:
            problems.append(f"{name} is not a setting Celery or Django knows (a typo?)")
        problem = value_problem(spec.entry, spec.kind, values[name], context)
        if problem:
            problems.append(f"{name} {problem}")
    return problems


def assert_registry(report: dict, answers: dict, slug: str, env: dict) -> None:
    """The render's production settings are those docs/settings.yml lists, with its values."""
    problems = registry_problems(report, answers, slug, env)
    assert not problems, "\n".join(problems)
