"""The render tier's checks of one rendered project: files, process table, doctrine, deployment.

Django and ruff checks are shared between projects whose checked files (*.py and pyproject.toml)
are byte-identical, so the deploy axis does not multiply them.
"""

import ast
import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from .boot.checks import CELERY_COMMAND, operator_commands
from .boot.processes import procfile as read_procfile
from .brokers import BROKERS
from .compose import COMPOSE_FILES, assert_compose
from .dependencies import assert_dependencies_declared, assert_within
from .dockerfile import assert_dockerfile, assert_dockerignore
from .doctrine import RABBITMQ_CONSUMER_TIMEOUT, RESULT_BACKEND_URL, assert_doctrine
from .inspect_project import MODES
from .kubernetes_manifests import assert_kubernetes
from .matrix import PROJECT_NAMES, TOPOLOGY_DEFAULT_QUEUE, TOPOLOGY_QUEUES, Combination
from .monitoring import assert_monitoring
from .project_env import project_requirements, venv_with
from .readme_blocks import tested_block
from .settings_registry import assert_registry

INSPECT = Path(__file__).with_name("inspect_project.py")
# Jinja left in a rendered file. Not Jinja: GitHub Actions' ${{ ... }}, the Go templates of
# Prometheus alerts ({{ $value }}, {{ $labels.task }}) and Grafana's legends ({{queue}}, no spaces).
LEFTOVER_JINJA = re.compile(r"(?<!\$)\{\{(?! \$)(?!\w+\}\})|\{%|\{#")
# A row of the README's queue table: queue, its worker, the example tasks routed there.
QUEUE_ROW = re.compile(r"^\| `(?P<queue>\w+)` \| `worker-(?P=queue)` \| (?P<routed>.*) \|$", re.M)
# A line of the comment above TASK_ROUTES: "#   <queue>: <what goes there>".
ROUTE_COMMENT = re.compile(r"^#   (?P<queue>\w+): (?P<what>.*)$", re.M)
EXAMPLE_TASK = re.compile(r"\bpayments\.tasks\.\w+")
# A variable read by the project's Python (django-environ, os.environ).
ENV_READ = re.compile(
    r'(?:env(?:\.\w+)?\(|os\.environ\.get\(|os\.environ\[)\s*"([A-Z][A-Z0-9_]+)"(?!\] =)'
)
# A variable that a Procfile line or the local compose file expands from .env ($PORT,
# ${POSTGRES_PASSWORD}); compose's $$ passes a $ on to the container's shell.
SHELL_READ = re.compile(r"(?<!\$)\$\{?([A-Z][A-Z0-9_]+)")
# Variables that libraries read themselves, and the condition under which the project uses them.
LIBRARY_READ = {
    "WEB_CONCURRENCY": lambda answers: True,  # gunicorn's default worker count
    # Django's createsuperuser --noinput, which `manage.py dev` runs.
    "DJANGO_SUPERUSER_USERNAME": lambda answers: True,
    "DJANGO_SUPERUSER_PASSWORD": lambda answers: True,
    "DJANGO_SUPERUSER_EMAIL": lambda answers: True,
}

_checked: dict[str, dict] = {}


Shared = dict[str, list[str]]


def assert_files(project: Path, combo: Combination, shared: Shared) -> None:
    """No Jinja left, the answers recorded (computed values not), only the chosen files."""
    assert_no_leftover_jinja(project)
    assert_answers_recorded(project, combo)
    assert_only_chosen_files(project, combo)


def assert_processes(project: Path, combo: Combination, shared: Shared) -> None:
    """The Procfile is the process table: one worker per queue, with its queue's settings."""
    procfile = read_procfile(project)
    assert_process_table(procfile, combo)
    assert_workers_match_queue_table(project, procfile)


def assert_dependencies(project: Path, combo: Combination, shared: Shared) -> None:
    """Every distribution the project uses is declared, pinned as the shared environment pins it."""
    answers = combo.answers()
    declared = project_requirements(project)
    assert_dependencies_declared(project, PROJECT_NAMES[answers["project_name"]], answers, declared)
    assert_within(declared, shared[answers["django_version"]])


def assert_settings(project: Path, combo: Combination, shared: Shared) -> None:
    """ruff and Django's checks pass, and the settings hold the doctrine and the registry."""
    answers = combo.answers()
    slug = PROJECT_NAMES[answers["project_name"]]
    reports = checked(project, combo, shared[answers["django_version"]])
    for mode in MODES:
        assert_doctrine(reports[mode], combo, slug)
    assert reports["production"]["debug"] is False
    # Every Celery and security setting of production is in docs/settings.yml, with its value.
    assert_registry(reports["production"]["settings"], answers, slug, check_env(combo))
    if BROKERS[combo.broker].long_poll:
        # Production long-polls for 10 s (fewer billed empty receives); the suite for 1 s.
        waits = [reports[mode]["broker_transport_options"]["wait_time_seconds"] for mode in MODES]
        assert waits == [1, 10]


def assert_readme(project: Path, combo: Combination, shared: Shared) -> None:
    """The README's queue table and TASK_ROUTES' comment say where tasks go; its operator
    commands are the ones the boot tier runs."""
    assert_routes_documented(project, combo, PROJECT_NAMES[combo.answers()["project_name"]])
    assert_operator_blocks(project, combo)


def assert_image(project: Path, combo: Combination, shared: Shared) -> None:
    assert_dockerfile(project, combo.answers()["python_version"], read_procfile(project))
    assert_dockerignore(project)


def assert_compose_files(project: Path, combo: Combination, shared: Shared) -> None:
    assert_compose(project, combo.answers(), read_procfile(project))


def assert_kubernetes_files(project: Path, combo: Combination, shared: Shared) -> None:
    assert_kubernetes(project, combo.answers(), read_procfile(project))


def assert_monitoring_files(project: Path, combo: Combination, shared: Shared) -> None:
    assert_monitoring(project, combo)


def _targets(combo: Combination) -> list[str]:
    return combo.answers()["deploy_targets"]


# Each behaviour of a rendered project: its check, and the combinations it applies to.
BEHAVIOURS = {
    "files": (assert_files, lambda combo: True),
    "processes": (assert_processes, lambda combo: True),
    "dependencies": (assert_dependencies, lambda combo: True),
    "settings": (assert_settings, lambda combo: True),
    "readme": (assert_readme, lambda combo: True),
    "image": (assert_image, lambda combo: bool(_targets(combo))),
    "compose": (assert_compose_files, lambda combo: "compose" in _targets(combo)),
    "kubernetes": (assert_kubernetes_files, lambda combo: "kubernetes" in _targets(combo)),
    # The same files whatever the deploy targets: checked once per runtime combination.
    "monitoring": (assert_monitoring_files, lambda combo: combo.deploy == "compose"),
}


def assert_sound_project(project: Path, combo: Combination, shared: Shared) -> None:
    """Every render-tier check that applies to the combination; `shared` holds the check
    environments' requirements."""
    for check, applies in BEHAVIOURS.values():
        if applies(combo):
            check(project, combo, shared)


# --- files -----------------------------------------------------------------------------------


def assert_no_leftover_jinja(project: Path) -> None:
    leftovers = []
    for path in project.rglob("*"):
        if ".git" in path.relative_to(project).parts:
            continue
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
    for image_file in ("Dockerfile", ".dockerignore"):
        assert (project / image_file).exists() == bool(answers["deploy_targets"])
    for compose_file in COMPOSE_FILES:
        assert (project / compose_file).exists() == ("compose" in answers["deploy_targets"])
    kubernetes = "kubernetes" in answers["deploy_targets"]
    assert (project / "kubernetes" / "base" / "kustomization.yaml").exists() == kubernetes
    assert not list(project.rglob("_partials")), "template partials must not be rendered"
    gitignore = (project / ".gitignore").read_text().split()
    assert ".env" in gitignore and (project / ".env").exists()
    env = (project / ".env").read_text()
    example = (project / ".env.example").read_text()
    secret = re.search(r"^DJANGO_SECRET_KEY=(\w+)$", env, re.M).group(1)
    assert len(secret) >= 50 and len(set(secret)) > 5 and secret not in example
    # .env.example documents every variable the project reads, and only those.
    read = {name for name, used in LIBRARY_READ.items() if used(answers)}
    read |= set(BROKERS[answers["broker"]].client_env)
    sources = project_sources(project)
    for source in sources:
        read |= set(ENV_READ.findall(source))
    for path in [*project.glob("Procfile*"), *project.glob("compose.yaml")]:
        read |= set(SHELL_READ.findall(path.read_text()))
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.M))
    assert read <= documented, f"read but not in .env.example: {sorted(read - documented)}"
    assert documented <= read, f"in .env.example but never read: {sorted(documented - read)}"
    assert_env_defaults(sources, example)


# Not the project's processes: its tests, and the scheduled CI job's script (which reads the CI's
# variables, never .env).
NOT_RUN_BY_THE_PROJECT = ("tests", "scripts")


def project_sources(project: Path) -> list[str]:
    """The text of every Python file the project's processes run."""
    paths = project.rglob("*.py")
    return [
        p.read_text()
        for p in paths
        if not set(NOT_RUN_BY_THE_PROJECT) & set(p.relative_to(project).parts)
    ]


def assert_env_defaults(sources: list[str], example: str) -> None:
    """.env.example's optional lines ("uncomment to change a default") give the value the code
    uses where the variable is unset: one value, not two that can drift."""
    optional = example.split("# --- Optional", 1)[1]
    given = dict(re.findall(r"^# ([A-Z][A-Z0-9_]+)=(\S*)", optional, re.M))
    defaults = code_defaults(sources)
    compared = [name for name in given if name in defaults]
    assert len(compared) >= 10, f"too few defaults found in the code: {compared}"
    for name in compared:
        assert given[name] in defaults[name], (name, given[name], defaults[name])


def code_defaults(sources: list[str]) -> dict[str, set[str]]:
    """Each variable the project's Python reads with a literal default (env.int("X", default=5),
    os.environ.get("X", "5")), as .env would spell it: true/false, comma-separated lists."""
    found: dict[str, set[str]] = {}
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = node.args[0]
            if not (isinstance(name, ast.Constant) and str(name.value).isupper()):
                continue
            keyword = [k.value for k in node.keywords if k.arg == "default"]
            default = keyword or node.args[1:2]
            value = _literal(default[0]) if default else None
            if value is not None:
                found.setdefault(name.value, set()).add(_env_spelling(value))
    return found


def _literal(node: ast.expr):
    """A constant, a list of constants or a product of numbers; None for anything else."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        left, right = _literal(node.left), _literal(node.right)
        return left * right if isinstance(left, int) and isinstance(right, int) else None
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def _env_spelling(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


# --- process table ---------------------------------------------------------------------------


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
        # Task events only while Flower (or another monitor) switches them on: none by default.
        assert f"--queues {queue} " in command and "--events" not in command
        hard = int(re.search(r"--time-limit (\d+)", command).group(1))
        soft = int(re.search(r"--soft-time-limit (\d+)", command).group(1))
        assert soft < hard < RABBITMQ_CONSUMER_TIMEOUT
    assert procfile["release"] == "python manage.py migrate --noinput"
    assert procfile["web"].startswith("gunicorn --config python:config.gunicorn config.wsgi:")
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


def assert_routes_documented(project: Path, combo: Combination, slug: str) -> None:
    """Each route names a queue of the topology, and both the README's queue table and the
    comment above TASK_ROUTES say where each example task goes: the table is the expectation."""
    queues = TOPOLOGY_QUEUES[combo.queue_topology]
    default = TOPOLOGY_DEFAULT_QUEUE[combo.queue_topology]
    source = (project / "config" / "queues.py").read_text()
    namespace: dict = {}
    exec(source, namespace)
    routes = {
        task.removeprefix(f"{slug}."): route["queue"]
        for task, route in namespace["TASK_ROUTES"].items()
    }
    assert routes and set(routes.values()) <= set(queues), routes
    assert namespace["DEFAULT_QUEUE"] == default

    readme = (project / "README.md").read_text()
    table = {m["queue"]: m["routed"] for m in QUEUE_ROW.finditer(readme)}
    assert list(table) == queues, table
    documented = {task: q for q, cell in table.items() for task in EXAMPLE_TASK.findall(cell)}
    assert documented == routes, (documented, routes)
    unrouted = [q for q, cell in table.items() if "every task without a route" in cell]
    assert unrouted == [default], table
    for queue, cell in table.items():
        if queue not in (default, *routes.values()):
            assert cell.startswith("none"), cell

    comment = source[source.index("# Routes by task name") : source.index("TASK_ROUTES = {")]
    lines = list(ROUTE_COMMENT.finditer(comment))
    commented = {task: m["queue"] for m in lines for task in EXAMPLE_TASK.findall(m["what"])}
    assert commented == documented, comment
    assert [m["queue"] for m in lines if "every task without a route" in m["what"]] == [default]


def assert_operator_blocks(project: Path, combo: Combination) -> None:
    """The README's operator commands are those this broker and result backend support (the
    boot tier runs them in one combination of each pair), and its purge never asks."""
    readme = project / "README.md"
    lines = tested_block(readme, "operator-commands")
    commands = [CELERY_COMMAND.search(line)[1] for line in lines]
    assert commands == operator_commands(combo.broker, combo.result_backend), lines
    [purge] = tested_block(readme, "operator-purge")
    queue = TOPOLOGY_QUEUES[combo.queue_topology][-1]
    assert purge.startswith(f"celery -A config purge -f -Q {queue} "), purge


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


def process_env() -> dict[str, str]:
    """What a check's process needs of this one's environment: where programs are, a home."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}


def check_env(combo: Combination) -> dict[str, str]:
    """The environment the checks run with: the variables the settings require, nothing else."""
    return process_env() | {
        "DJANGO_SECRET_KEY": "k" + hashlib.sha256(b"render-check").hexdigest(),
        "DJANGO_ALLOWED_HOSTS": "example.com",
        "DATABASE_URL": "postgres://127.0.0.1:5432/cdc_render_check",
        "CELERY_BROKER_URL": BROKERS[combo.broker].check_url,
        "CELERY_RESULT_BACKEND": RESULT_BACKEND_URL,
        # Real-length secrets: the production settings and the system checks refuse weak ones.
        "PAYMENTS_WEBHOOK_SECRET": hashlib.sha256(b"render-check-webhook").hexdigest(),
        "FLOWER_BASIC_AUTH": "admin:" + hashlib.sha256(b"render-check-flower").hexdigest(),
    }


def run_checks(project: Path, combo: Combination, venv: Path) -> dict:
    run([venv / "bin" / "ruff", "check", "--no-cache", "."], project)
    run([venv / "bin" / "ruff", "format", "--check", "--no-cache", "."], project)
    output = project.parent / f"{project.name}-checks.log"
    request = {"project": str(project), "environ": check_env(combo), "output": str(output)}
    code = _inspector(venv).check(request)
    log = output.read_text()
    if code != 0:
        pytest.fail(f"inspect_project.py failed in {project} (exit {code}):\n{log}")
    return json.loads(log.strip().splitlines()[-1])


class Inspector:
    """inspect_project.py --serve in one environment: Django and Celery imported once for every
    project this test process checks in it, each project checked in a child of its own."""

    def __init__(self, venv: Path) -> None:
        # As little of this process's environment as a project's check gets, and no
        # PYTHONDONTWRITEBYTECODE: the first check in an environment writes its bytecode, the
        # next ones reuse it (compiling everything at install costs more than it saves).
        self.process = subprocess.Popen(
            [venv / "bin" / "python", INSPECT, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=process_env(),
            text=True,
        )

    def check(self, request: dict) -> int:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            pytest.fail(f"inspect_project.py --serve exited ({self.process.wait()})")
        return json.loads(answer)["code"]


_inspectors: dict[Path, Inspector] = {}


def _inspector(venv: Path) -> Inspector:
    if venv not in _inspectors or _inspectors[venv].process.poll() is not None:
        _inspectors[venv] = Inspector(venv)
    return _inspectors[venv]
