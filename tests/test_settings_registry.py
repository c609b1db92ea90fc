"""docs/settings.yml is complete and well formed, and its check (settings_registry.py) can fail.

The registry is held to the renders by the render matrix (sound_project.py calls
`assert_registry` for every combination, on the settings its checks already read): no extra
render here. These tests check the registry itself, with no render, in well under a second.
"""

import re

import pytest

from support.matrix import (
    BEAT_SCHEDULERS,
    BROKERS,
    PROJECT_NAMES,
    RESULT_BACKENDS,
    TOPOLOGIES,
    Combination,
    runtime_combinations,
)
from support.releases import REPO
from support.settings_registry import (
    GOVERNED,
    VALUE_KINDS,
    WHEN_KEYS,
    entries,
    expected_settings,
    kind_of,
    load,
    matches,
    names,
    registry_problems,
    substitute,
)
from support.sound_project import check_env

AXES = dict(zip(WHEN_KEYS, (BROKERS, RESULT_BACKENDS, BEAT_SCHEDULERS, TOPOLOGIES), strict=True))
TEST_REF = re.compile(r"^(?P<path>[\w./-]+)::(?P<function>\w+)$")


def specs() -> list[tuple[str, dict]]:
    """Each entry, and each option of a dict setting, with a label for messages."""
    out = []
    for entry in entries():
        label = "/".join(names(entry))
        out.append((label, entry))
        out += [(f"{label}[{o['key']}]", o) for o in entry.get("options", [])]
    return out


def test_every_entry_names_its_settings_reason_source_and_test() -> None:
    assert load(), "no section in docs/settings.yml"
    for label, spec in specs():
        if "options" in spec:
            assert {"why", "source", "test"}.isdisjoint(spec), f"{label}: say it per option"
            continue
        assert spec.get("why", "").strip(), f"{label}: no reason"
        assert spec.get("source"), f"{label}: no source"
        for url in spec["source"].values():
            assert url.startswith("https://"), f"{label}: {url}"
        assert TEST_REF.match(spec.get("test", "")), f"{label}: test {spec.get('test')!r}"
        assert kind_of(spec) or "shown" in spec, f"{label}: no value, and nothing `shown`"


def test_celery_names_are_the_django_names_without_the_namespace() -> None:
    for entry in entries():
        celery = entry.get("celery")
        celery = celery if isinstance(celery, list) else [celery] if celery else []
        derived = [
            n.removeprefix("CELERY_").lower() for n in names(entry) if n.startswith("CELERY_")
        ]
        assert celery == derived, f"{entry['name']}: celery {celery}, expected {derived}"


def test_each_named_test_exists() -> None:
    for label, spec in specs():
        if "test" not in spec:
            continue
        ref = TEST_REF.match(spec["test"])
        path = REPO / ref["path"]
        assert path.is_file(), f"{label}: no file {ref['path']}"
        definition = re.compile(rf"^\s*(?:async\s+)?def {ref['function']}\(", re.M)
        assert definition.search(path.read_text()), f"{label}: no {spec['test']}"


def test_when_names_real_answers() -> None:
    for label, spec in specs():
        for key, wanted in (spec.get("when") or {}).items():
            assert key in AXES, f"{label}: when {key}"
            for value in wanted if isinstance(wanted, list) else [wanted]:
                assert value in AXES[key], f"{label}: {key}={value} is no answer"


def test_every_entry_is_set_in_some_valid_combination() -> None:
    """With the matrix's per-combination check, no entry lists a setting that no render sets."""
    combos = [c.answers() for c in runtime_combinations()]
    for entry in entries():
        assert any(matches(entry, answers) for answers in combos), f"{entry['name']}: no render"


def test_no_two_entries_set_one_setting_in_one_combination() -> None:
    for combo in runtime_combinations():
        expected = expected_settings(combo.answers())  # Refuses a setting matched twice.
        assert any(GOVERNED.match(name) for name in expected)


# --- the check itself, on a report that follows the registry, then on ones that do not --------

COMBO = Combination("sqs", "redis", "redbeat", "priority")


def report_following_the_registry(combo: Combination) -> tuple[dict, dict, str, dict]:
    answers = combo.answers()
    slug = PROJECT_NAMES[answers["project_name"]]
    env = check_env(combo)
    values = {"TIME_ZONE": "UTC", "VISIBILITY_TIMEOUT": 7200}

    def example(spec: dict, kind: str | None):
        if kind == "value":
            return substitute(spec["value"], slug)
        if kind == "env":
            return env[spec["env"]] if spec["env"] in env else substitute(spec["default"], slug)
        if kind == "options":
            return {o["key"]: example(o, kind_of(o)) for o in spec["options"]}
        return "derived"

    expected = expected_settings(answers)
    for name, spec in expected.items():
        if spec.kind != "same_as":
            values[name] = example(spec.entry, spec.kind)
    for name, spec in expected.items():
        if spec.kind == "same_as":
            values[name] = values[spec.data]
    report = {"values": values, "known": sorted(values)}
    return report, answers, slug, env


def test_the_check_passes_a_render_that_follows_the_registry() -> None:
    assert registry_problems(*report_following_the_registry(COMBO)) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda v: v.update(CELERY_TASK_TRACK_STARTED=True),
            "CELERY_TASK_TRACK_STARTED is set but",
        ),
        (lambda v: v.update(SECURE_HSTS_PRELOAD=False), "the registry's default is True"),
        (lambda v: v.pop("CELERY_TASK_ACKS_LATE"), "CELERY_TASK_ACKS_LATE is in docs/settings.yml"),
        (lambda v: v.update(CELERY_RESULT_EXTENDED=True), "CELERY_RESULT_EXTENDED is set but"),
        (lambda v: v.update(CELERY_TASK_SERIALIZER="pickle"), "the registry says 'json'"),
        (lambda v: v.update(CELERY_TIMEZONE="Europe/Paris"), "not TIME_ZONE"),
        (
            lambda v: v["CELERY_BROKER_TRANSPORT_OPTIONS"].update(is_secure=False),
            "['is_secure'] is False",
        ),
        (
            lambda v: v["CELERY_BROKER_TRANSPORT_OPTIONS"].pop("region"),
            "has keys",
        ),
        (lambda v: v.update(ALLOWED_HOSTS=["*"]), "not $DJANGO_ALLOWED_HOSTS"),
        (lambda v: v.update(TASK_RETRY_LIMIT=3), "TASK_RETRY_LIMIT is set but"),
        (lambda v: v.update(TASK_MAX_RETRIES=3), "the registry's default is 8"),
        (lambda v: v.pop("QUEUE_HEALTH_MAX_PENDING"), "QUEUE_HEALTH_MAX_PENDING is in docs/"),
    ],
)
def test_the_check_fails_on_a_setting_missing_unlisted_or_different(change, problem) -> None:
    report, answers, slug, env = report_following_the_registry(COMBO)
    change(report["values"])
    problems = registry_problems(report, answers, slug, env)
    assert any(problem in p for p in problems), problems


def test_the_check_fails_on_a_name_neither_celery_nor_django_knows() -> None:
    report, answers, slug, env = report_following_the_registry(COMBO)
    report["known"].remove("CELERY_TASK_ACKS_LATE")
    problems = registry_problems(report, answers, slug, env)
    assert problems == ["CELERY_TASK_ACKS_LATE is not a setting Celery or Django knows (a typo?)"]


def test_every_value_kind_is_used() -> None:
    used = {kind_of(spec) for _, spec in specs()}
    assert set(VALUE_KINDS) <= used, used
