"""The questions: validators refuse bad answers before anything is written; computed values."""

from pathlib import Path

import pytest
import yaml

from support.matrix import AXES, flower_refusal, refusal, refused_triples

BASE = {"broker": "redis", "result_backend": "redis", "beat_scheduler": "django-db"}


def assert_refused(render, answers: dict, message: str, tmp_path: Path) -> None:
    """Copier refuses with `message`, and the destination keeps exactly what it had."""
    dest = tmp_path / "project"
    dest.mkdir()
    (dest / "existing.txt").write_text("untouched")
    with pytest.raises(ValueError, match="Validation error") as refused:
        render(answers, dest)
    assert message in str(refused.value)
    assert [p.name for p in dest.iterdir()] == ["existing.txt"]
    assert (dest / "existing.txt").read_text() == "untouched"


@pytest.mark.parametrize(
    "triple",
    refused_triples(),
    ids=lambda t: ",".join(f"{axis}:{value}" for axis, value in zip(AXES, t, strict=False)),
)
def test_incompatible_combination_is_refused_with_a_way_out(render, tmp_path, triple) -> None:
    broker, backend, scheduler = triple
    answers = {"broker": broker, "result_backend": backend, "beat_scheduler": scheduler}
    assert_refused(render, answers, refusal(*triple), tmp_path)


def test_rpc_refusal_names_the_backends_to_choose_instead(render, tmp_path) -> None:
    answers = {**BASE, "result_backend": "rpc"}
    assert_refused(render, answers, "choose result_backend=redis, django-db or none", tmp_path)


def test_redbeat_refusal_names_the_alternatives(render, tmp_path) -> None:
    answers = {"broker": "rabbitmq", "result_backend": "django-db", "beat_scheduler": "redbeat"}
    assert_refused(render, answers, "choose beat_scheduler=django-db", tmp_path)


def test_redbeat_accepted_with_redis_results_on_rabbitmq(render, tmp_path) -> None:
    answers = {"broker": "rabbitmq", "result_backend": "redis", "beat_scheduler": "redbeat"}
    assert refusal(*answers.values()) is None
    project = render(answers, tmp_path / "project")
    assert "CELERY_REDBEAT_REDIS_URL" in (project / "config/settings/base.py").read_text()


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("9lives", "must be a Python identifier"),
        ("My-Project", "must be a Python identifier"),
        ("my project", "must be a Python identifier"),
        ("", "must be a Python identifier"),
        ("config", "would shadow a module"),
        ("celery", "would shadow a module"),
        # $ would match before the newline: the validators anchor with \Z.
        ("abc\n", "must be a Python identifier"),
        ("shop_", "must not end with an underscore"),
        # Derived from the interpreters and the installed environments
        # (template/_partials/reserved_names.yml).
        ("asyncio", "would shadow a module"),
        ("billiard", "would shadow a module"),
    ],
)
def test_invalid_project_slug_is_refused(render, tmp_path, slug, message) -> None:
    assert_refused(render, {"project_slug": slug}, message, tmp_path)


@pytest.mark.parametrize(
    "email",
    ["nobody", "a@b", "two@@example.com", "sp ace@example.com", "a#b@example.com", "x@a.org\n"],
)
def test_invalid_author_email_is_refused(render, tmp_path, email) -> None:
    assert_refused(render, {"author_email": email}, "must be an email address", tmp_path)


def test_empty_project_name_is_refused(render, tmp_path) -> None:
    assert_refused(render, {"project_name": "  "}, "must not be empty", tmp_path)


@pytest.mark.parametrize("question", ["project_name", "description", "author_name"])
def test_text_answers_are_one_line(render, tmp_path, question) -> None:
    assert_refused(render, {question: "two\nlines"}, "one line of text", tmp_path)


@pytest.mark.parametrize("answer", ["maybe", "yes", ""])
def test_use_flower_is_true_or_false(render, tmp_path, answer) -> None:
    assert_refused(render, {"use_flower": answer}, "use_flower must be true or false", tmp_path)


@pytest.mark.parametrize("answer", [True, "true"])
def test_flower_with_sqs_is_refused_with_a_way_out(render, tmp_path, answer) -> None:
    assert flower_refusal("sqs")
    answers = {"broker": "sqs", "result_backend": "django-db", "use_flower": answer}
    assert_refused(render, answers, flower_refusal("sqs"), tmp_path)
    (tmp_path / "again").mkdir()
    assert_refused(render, answers, "choose use_flower=false", tmp_path / "again")


def test_sqs_project_has_no_flower_by_default(render, tmp_path) -> None:
    project = render({"broker": "sqs"}, tmp_path / "project")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["use_flower"] is False
    assert not (project / "config" / "flower.py").exists()
    assert "flower" not in (project / "Procfile").read_text()


def test_use_flower_false_as_text_is_false(render, tmp_path) -> None:
    project = render({"use_flower": "False"}, tmp_path / "project")
    assert not (project / "config" / "flower.py").exists()


@pytest.mark.parametrize(
    ("queues", "message"),
    [
        ("default", "must be a YAML list"),
        ({"a": 1}, "must be a YAML list"),
        ([], "at least one name"),
        (["a", "b", "a"], "must be unique"),
        (["Reports"], 'queue name "Reports" is not valid'),
        (["ok", "bad-name"], 'queue name "bad-name" is not valid'),
        (["ok", 7], 'queue name "7" is not valid'),
        (["q" * 41], "longer than 40 characters"),
        (["default\n"], 'queue name "default\n" is not valid'),
        (["reports_"], 'queue name "reports_" is not valid'),
        (["default", "unacked"], 'queue name "unacked" is a key kombu keeps in Redis'),
    ],
)
def test_invalid_custom_queues_are_refused(render, tmp_path, queues, message) -> None:
    answers = {"queue_topology": "custom", "queues": queues}
    assert_refused(render, answers, message, tmp_path)


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("broker", "nonsense"),
        ("result_backend", "nonsense"),
        ("beat_scheduler", "nonsense"),
        ("deploy_targets", ["compose", "nonsense"]),
        ("ci", "nonsense"),
    ],
)
def test_an_answer_outside_the_choices_is_refused(render, tmp_path, question, answer) -> None:
    dest = tmp_path / "project"
    with pytest.raises(ValueError):
        render({question: answer}, dest)
    assert not dest.exists()


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("My Project", "my_project"),
        ("Payments & Ledger API", "payments_ledger_api"),
        ("2026 Reports!", "reports"),
        ("ünïcode Shop", "n_code_shop"),
    ],
)
def test_slug_is_derived_from_the_name(render, tmp_path, name, slug) -> None:
    project = render({"project_name": name}, tmp_path / "project")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == slug
    assert (project / slug / "core" / "base_task.py").exists()


@pytest.mark.parametrize(
    ("broker", "backend"), [("redis", "redis"), ("rabbitmq", "django-db"), ("sqs", "django-db")]
)
def test_result_backend_default_follows_the_broker(render, tmp_path, broker, backend) -> None:
    project = render({"broker": broker}, tmp_path / "project")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["result_backend"] == backend


def test_defaults_give_the_documented_stack(render, tmp_path) -> None:
    project = render({}, tmp_path / "project")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert {k: answers[k] for k in ("broker", "result_backend", "beat_scheduler")} == BASE
    assert answers["queue_topology"] == "priority" and answers["deploy_targets"] == ["compose"]
    assert answers["python_version"] == "3.13" and answers["django_version"] == "5.2"
    assert answers["use_flower"] is True and answers["ci"] == "github"
    # Error tracking and tracing are off unless asked for: neither is in the project at all.
    assert answers["error_tracking"] == "none" and answers["tracing"] == "none"
    pyproject = (project / "pyproject.toml").read_text()
    assert "sentry" not in pyproject and "opentelemetry" not in pyproject


def test_custom_topology_makes_the_first_queue_the_default(render, tmp_path) -> None:
    answers = {"queue_topology": "custom", "queues": ["ingest", "reports"]}
    project = render(answers, tmp_path / "project")
    queues = (project / "config/queues.py").read_text()
    assert 'DEFAULT_QUEUE = "ingest"' in queues
    procfile = (project / "Procfile").read_text()
    assert "worker-ingest: celery -A config worker --queues ingest " in procfile
    assert "worker-reports: celery -A config worker --queues reports " in procfile
    stored = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert stored["queues"] == ["ingest", "reports"]


def test_a_worker_name_is_its_queue_with_hyphens(render, tmp_path) -> None:
    answers = {"queue_topology": "custom", "queues": ["default", "reports_daily"]}
    procfile = (render(answers, tmp_path / "project") / "Procfile").read_text()
    assert "worker-reports-daily: celery -A config worker --queues reports_daily " in procfile
    assert "--hostname worker-reports-daily@%h " in procfile


def test_queues_are_not_asked_or_stored_outside_custom(render, tmp_path) -> None:
    project = render({"queue_topology": "priority", "queues": ["x"]}, tmp_path / "project")
    stored = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert "queues" not in stored
    assert 'DEFAULT_QUEUE = "default"' in (project / "config/queues.py").read_text()


def test_secrets_differ_between_two_copies(render, tmp_path) -> None:
    first = (render({}, tmp_path / "one") / ".env").read_text()
    second = (render({}, tmp_path / "two") / ".env").read_text()
    assert first != second
