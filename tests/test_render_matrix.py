"""Every valid combination renders into a project that is clean, checked and holds the doctrine.

Django and ruff checks are shared between combinations whose checked files (*.py and
pyproject.toml) are byte-identical, so the deploy axis does not multiply them. Combinations that
differ only in deploy run on the same xdist worker (`--dist loadgroup`) to share them.
"""

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from dependencies import assert_dependencies_declared, assert_within
from matrix import (
    PROJECT_NAMES,
    TOPOLOGY_DEFAULT_QUEUE,
    TOPOLOGY_QUEUES,
    Combination,
    all_combinations,
)
from project_env import project_requirements, venv_with

pytestmark = pytest.mark.matrix

INSPECT = Path(__file__).with_name("inspect_project.py")
# Jinja left in a rendered file; GitHub Actions' own ${{ ... }} expressions are not Jinja.
LEFTOVER_JINJA = re.compile(r"(?<!\$)\{\{|\{%|\{#")
# RabbitMQ closes a channel whose message stays unacknowledged past consumer_timeout (30 min).
RABBITMQ_CONSUMER_TIMEOUT = 30 * 60
# A variable read by the settings (django-environ) or by Flower's config.
ENV_READ = re.compile(r'(?:env(?:\.\w+)?|os\.environ\.get)\(\s*"([A-Z][A-Z0-9_]+)"')

BROKER_URLS = {
    "redis": "redis://127.0.0.1:6379/15",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
    "sqs": "sqs://test:test@127.0.0.1:5000",
}

_checked: dict[str, dict] = {}


def _params() -> list:
    return [
        pytest.param(combo, id=combo.id, marks=pytest.mark.xdist_group(combo.runtime_id))
        for combo in all_combinations()
    ]


# Answers whose dependencies, together, cover every choice: the shared check environments.
SUPERSET_ANSWERS = [
    {"broker": "sqs", "result_backend": "redis", "beat_scheduler": "redbeat", "use_flower": True},
    {"broker": "rabbitmq", "result_backend": "django-db", "beat_scheduler": "django-db"},
]


@pytest.fixture(scope="session")
def shared_requirements(render, tmp_path_factory) -> dict[str, list[str]]:
    """Per Django version, the union of the dependencies of every combination."""
    union = {}
    for django_version in ("5.2", "6.0"):
        lines = set()
        for answers in SUPERSET_ANSWERS:
            dest = tmp_path_factory.mktemp("superset")
            project = render({**answers, "django_version": django_version}, dest / "p")
            lines |= set(project_requirements(project))
        union[django_version] = sorted(lines)
    return union


@pytest.mark.parametrize("combo", _params())
def test_combination_renders_a_sound_project(
    combo: Combination, render, shared_requirements, tmp_path: Path
) -> None:
    answers = combo.answers()
    slug = PROJECT_NAMES[answers["project_name"]]
    project = render(answers, tmp_path / "project")

    assert_no_leftover_jinja(project)
    assert_answers_recorded(project, combo)
    assert_only_chosen_files(project, combo)
    procfile = parse_procfile(project)
    assert_process_table(procfile, combo)
    declared = project_requirements(project)
    assert_dependencies_declared(project, slug, answers, declared)
    shared = shared_requirements[answers["django_version"]]
    assert_within(declared, shared)

    reports = checked(project, combo, shared)
    for mode in ("test", "production"):
        assert_doctrine(reports[mode], combo, slug)
    assert reports["production"]["debug"] is False
    assert_workers_match_queue_table(project, procfile)


# --- files -----------------------------------------------------------------------------------


def assert_no_leftover_jinja(project: Path) -> None:
    leftovers = []
    for path in project.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            leftovers += [
                f"{path.relative_to(project)}: {m.group()}" for m in LEFTOVER_JINJA.finditer(text)
            ]
        if path.suffix == ".jinja" or "{{" in path.name:
            leftovers.append(f"unrendered file name: {path.relative_to(project)}")
    assert not leftovers, leftovers


def assert_answers_recorded(project: Path, combo: Combination) -> None:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    for key, value in combo.answers().items():
        assert answers[key] == value, key
    # Computed values are derived anew on every render, never stored.
    assert not {"queue_specs", "processes", "default_queue"} & answers.keys()


def assert_only_chosen_files(project: Path, combo: Combination) -> None:
    answers = combo.answers()
    assert (project / "config" / "flower.py").exists() == answers["use_flower"]
    assert (project / ".github" / "workflows" / "ci.yml").exists() == (answers["ci"] == "github")
    assert (project / ".gitlab-ci.yml").exists() == (answers["ci"] == "gitlab")
    assert not list(project.rglob("_partials")), "template partials must not be rendered"
    gitignore = (project / ".gitignore").read_text().split()
    assert ".env" in gitignore and (project / ".env").exists()
    env = (project / ".env").read_text()
    example = (project / ".env.example").read_text()
    secret = re.search(r"^DJANGO_SECRET_KEY=(\w+)$", env, re.M).group(1)
    assert len(secret) >= 50 and len(set(secret)) > 5 and secret not in example
    # Every variable the project reads is documented in .env.example.
    read = set()
    for path in [*project.glob("config/**/*.py")]:
        read |= set(ENV_READ.findall(path.read_text()))
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.M))
    assert read and read <= documented, read - documented


# --- process table ---------------------------------------------------------------------------


def parse_procfile(project: Path) -> dict[str, str]:
    processes = {}
    for line in (project / "Procfile").read_text().splitlines():
        if line and not line.startswith("#"):
            name, command = line.split(":", 1)
            processes[name] = command.strip()
    return processes


def assert_process_table(procfile: dict[str, str], combo: Combination) -> None:
    queues = TOPOLOGY_QUEUES[combo.queue_topology]
    expected = {"release", "web", *(f"worker-{q}" for q in queues)}
    if combo.beat_scheduler != "none":
        expected.add("beat")
    if combo.answers()["use_flower"]:
        expected.add("flower")
    assert set(procfile) == expected
    for queue in queues:
        command = procfile[f"worker-{queue}"]
        assert command.startswith("celery -A config worker ")
        assert f"--queues {queue} " in command and "--events" in command
        hard = int(re.search(r"--time-limit (\d+)", command).group(1))
        soft = int(re.search(r"--soft-time-limit (\d+)", command).group(1))
        assert soft < hard < RABBITMQ_CONSUMER_TIMEOUT
    assert procfile["release"] == "python manage.py migrate --noinput"
    assert procfile["web"].startswith("gunicorn config.wsgi:application")
    if "flower" in procfile:
        assert "--conf=config/flower.py" in procfile["flower"]


def assert_workers_match_queue_table(project: Path, procfile: dict[str, str]) -> None:
    """config/queues.py and the Procfile come from one definition: they must agree."""
    namespace: dict = {}
    exec((project / "config" / "queues.py").read_text(), namespace)
    for name, spec in namespace["QUEUES"].items():
        command = procfile[f"worker-{name}"]
        assert f"--concurrency {spec['concurrency']} " in command
        assert f"--prefetch-multiplier {spec['prefetch_multiplier']} " in command
        assert f"--soft-time-limit {spec['soft_time_limit']} " in command
        assert f"--time-limit {spec['time_limit']} " in command


# --- static checks, shared by identical projects ---------------------------------------------


def checked_files_digest(project: Path, python_version: str) -> str:
    digest = hashlib.sha256(python_version.encode())
    for path in sorted(project.rglob("*.py")) + [project / "pyproject.toml"]:
        digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def checked(project: Path, combo: Combination, requirements: list[str]) -> dict:
    python_version = combo.answers()["python_version"]
    key = checked_files_digest(project, python_version)
    if key not in _checked:
        venv = venv_with(requirements, python_version)
        _checked[key] = run_checks(project, combo, venv)
    return _checked[key]


def run(command: list, project: Path, env: dict | None = None) -> str:
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def run_checks(project: Path, combo: Combination, venv: Path) -> dict:
    run([venv / "bin" / "ruff", "check", "--no-cache", "."], project)
    run([venv / "bin" / "ruff", "format", "--check", "--no-cache", "."], project)
    # No PYTHONDONTWRITEBYTECODE: the first check in an environment writes its bytecode, the
    # next ones reuse it (compiling everything at install costs more than it saves).
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SECRET_KEY": "k" + hashlib.sha256(b"render-check").hexdigest(),
        "DJANGO_ALLOWED_HOSTS": "example.com",
        "DATABASE_URL": "postgres://127.0.0.1:5432/cdc_render_check",
        "CELERY_BROKER_URL": BROKER_URLS[combo.broker],
        "CELERY_RESULT_BACKEND": "redis://127.0.0.1:6379/14",
        "PAYMENTS_WEBHOOK_SECRET": "render-check",
        "FLOWER_BASIC_AUTH": "admin:render-check",
    }
    out = run([venv / "bin" / "python", INSPECT], project, env)
    return json.loads(out.strip().splitlines()[-1])


# --- the doctrine, read from the configured Celery app ---------------------------------------


def assert_doctrine(conf: dict, combo: Combination, slug: str) -> None:
    # Delivery guarantees
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_cancel_long_running_tasks_on_connection_loss"] is True
    assert conf["broker_connection_retry_on_startup"] is True
    assert conf["task_serializer"] == conf["result_serializer"] == "json"
    assert conf["accept_content"] == conf["result_accept_content"] == ["json"]
    assert 0 < conf["task_soft_time_limit"] < conf["task_time_limit"] < RABBITMQ_CONSUMER_TIMEOUT
    # Throughput and isolation
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["worker_max_tasks_per_child"] == 1000
    assert conf["worker_max_memory_per_child"] > 0
    assert conf["worker_send_task_events"] is True
    assert conf["worker_hijack_root_logger"] is False
    # Scheduling
    assert conf["timezone"] == conf["time_zone"]
    # Every task of the project inherits the base task (logging, retries, dead letters).
    assert conf["tasks"] and all(conf["tasks"].values()), conf["tasks"]
    assert f"{slug}.core.tasks.ping" in conf["tasks"]
    assert_queues(conf, combo, slug)
    assert_broker_options(conf, combo)
    assert_results(conf, combo)
    assert_beat(conf, combo, slug)


def assert_queues(conf: dict, combo: Combination, slug: str) -> None:
    queues = TOPOLOGY_QUEUES[combo.queue_topology]
    assert [q["name"] for q in conf["task_queues"]] == queues
    assert all(q["durable"] and q["routing_key"] == q["name"] for q in conf["task_queues"])
    assert conf["task_default_queue"] == TOPOLOGY_DEFAULT_QUEUE[combo.queue_topology]
    assert conf["task_create_missing_queues"] is False
    routes = conf["task_routes"]
    assert {route["queue"] for route in routes.values()} <= set(queues)
    critical = routes[f"{slug}.payments.tasks.record_payment"]["queue"]
    heavy = routes[f"{slug}.payments.tasks.build_receipt"]["queue"]
    if combo.queue_topology in ("priority", "workload"):
        # A backlog of heavy work never shares a queue with payments.
        assert critical == "critical" and heavy != critical


def assert_broker_options(conf: dict, combo: Combination) -> None:
    options = conf["broker_transport_options"]
    assert conf["broker_url"] == BROKER_URLS[combo.broker]
    if combo.broker in ("redis", "sqs"):
        # Above the longest hard time limit, or long tasks are redelivered while still running.
        assert options["visibility_timeout"] >= 2 * RABBITMQ_CONSUMER_TIMEOUT
    if combo.broker == "rabbitmq":
        assert options == {"confirm_publish": True}
        assert all(q["queue_arguments"] == {"x-queue-type": "classic"} for q in conf["task_queues"])
    if combo.broker == "sqs":
        assert options["region"] and options["queue_name_prefix"].endswith("-")
        assert options["visibility_timeout"] <= 12 * 3600  # SQS's own maximum


def assert_results(conf: dict, combo: Combination) -> None:
    expected = {
        "redis": "redis://127.0.0.1:6379/14",
        "django-db": "django-db",
        "rpc": "rpc://",
        "none": None,
    }[combo.result_backend]
    assert conf["result_backend"] == expected
    assert ("django_celery_results" in conf["installed_apps"]) == (
        combo.result_backend == "django-db"
    )
    if combo.result_backend == "none":
        assert conf["task_ignore_result"] is True
    else:
        assert 0 < conf["result_expires"] <= 7 * 24 * 3600
    if combo.result_backend == "redis":
        visibility = conf["result_backend_transport_options"]["visibility_timeout"]
        assert visibility >= 2 * RABBITMQ_CONSUMER_TIMEOUT


def assert_beat(conf: dict, combo: Combination, slug: str) -> None:
    schedulers = {
        "django-db": "django_celery_beat.schedulers:DatabaseScheduler",
        "redbeat": "redbeat.RedBeatScheduler",
        "static": "celery.beat:PersistentScheduler",
    }
    assert ("django_celery_beat" in conf["installed_apps"]) == (combo.beat_scheduler == "django-db")
    if combo.beat_scheduler == "none":
        assert conf["beat_schedule"] == {}
        return
    assert conf["beat_scheduler"] == schedulers[combo.beat_scheduler]
    entry = conf["beat_schedule"]["reconcile-ledger"]
    assert entry["task"] == f"{slug}.payments.tasks.reconcile_ledger"
    if combo.beat_scheduler == "redbeat":
        redis_url = conf["broker_url"] if combo.broker == "redis" else conf["result_backend"]
        assert conf["redbeat_redis_url"] == redis_url
