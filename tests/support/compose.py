"""What the rendered compose files must do, checked without a Docker engine: the Compose
specification's schema, and the services read against the project's own process table."""

import json
import re
import shlex
from functools import cache
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from .boot.processes import procfile as read_procfile
from .brokers import BROKERS

COMPOSE_FILES = ("compose.yaml", "compose.production.yaml")
# The compose name of each Procfile process (the release step is the `migrate` service).
SERVICE_OF = {"release": "migrate"}
INTERPOLATION = re.compile(r"^\$\{[A-Z_]+:\?[^}]+\}$")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|AUTH")


@cache
def compose_spec_validator() -> jsonschema.protocols.Validator:
    """The Compose specification's schema, as check-jsonschema vendors it (vendor.compose-spec)."""
    vendored = resources.files("check_jsonschema.builtin_schemas") / "vendor" / "compose-spec.json"
    schema = json.loads(vendored.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, f"grace period {duration!r}: write it in seconds, such as 390s"
    return int(match.group(1))


def unescaped(command: str) -> str:
    """A compose string as the container's shell sees it ($$ is compose's escaped $)."""
    return command.replace("$$", "$")


def health_command(service: dict) -> str:
    kind, command = service["healthcheck"]["test"]
    assert kind == "CMD-SHELL", service["healthcheck"]
    return unescaped(command)


def healthchecks(project: Path, procfile: dict[str, str]) -> dict[str, str]:
    """Each Procfile process's health command, as the development compose file declares it
    (the boot tier runs these against the running processes)."""
    services = yaml.load((project / "compose.yaml").read_text(), Loader=yaml.CSafeLoader)[
        "services"
    ]
    bodies = {name: services[SERVICE_OF.get(name, name)] for name in procfile}
    return {name: health_command(body) for name, body in bodies.items() if "healthcheck" in body}


def assert_probe_names_node(probe: str, argv: list[str], broker: str) -> None:
    """A worker's (or, with no --hostname, Beat's) probe asks that very node, by the name its
    command line gives it: Celery's ping, or on SQS its heartbeat file."""
    node = "celerybeat@%h"
    if "--hostname" in argv:
        node = argv[argv.index("--hostname") + 1]
    node = node.replace("%h", "$HOSTNAME")
    if not BROKERS[broker].remote_control:
        assert probe == f"python config/probe.py heartbeat {node}", probe
    else:
        assert probe == f"celery -A config inspect ping --timeout 10 --destination {node}", probe


def consumed_queues(service: dict) -> list[str]:
    """The queues a service's command consumes (--queues a,b), none for other processes; a
    command that wraps another (watchfiles runs the worker's line) is read inside too."""
    command = service.get("command", [])
    words = [
        *command,
        *(w for argument in command if " " in argument for w in shlex.split(argument)),
    ]
    return words[words.index("--queues") + 1].split(",") if "--queues" in words else []


def env_secrets(project: Path) -> set[str]:
    """The secret values `copier copy` generated into the project's .env."""
    pairs = [line.split("=", 1) for line in (project / ".env").read_text().splitlines()]
    # Generated secrets are long tokens; the SQS emulator's dummy credentials (test) are none.
    return {
        pair[1]
        for pair in pairs
        if len(pair) == 2 and SECRET_NAME.search(pair[0]) and len(pair[1]) >= 16
    }


def web_concurrency(project: Path) -> str:
    """gunicorn's worker count in the deploy files: the number .env.example documents."""
    example = (project / ".env.example").read_text()
    return re.search(r"^# WEB_CONCURRENCY=(\d+) ", example, re.M)[1]


def assert_compose(project: Path, answers: dict, procfile: dict[str, str]) -> None:
    env_values = env_secrets(project)
    development = read_procfile(project, "Procfile.dev")
    for filename in COMPOSE_FILES:
        text = (project / filename).read_text()
        document = yaml.load(text, Loader=yaml.CSafeLoader)
        errors = sorted(compose_spec_validator().iter_errors(document), key=str)
        assert not errors, f"{filename}: {[e.message for e in errors][:5]}"
        # No secret of .env is copied in; secrets come in by interpolation only.
        assert not [value for value in env_values if value in text], f"{filename} holds a secret"
        assert_services(document["services"], answers, procfile, development, filename)
        if filename == "compose.production.yaml":
            # gunicorn alone runs one worker: production runs the documented number, or .env's.
            workers = document["services"]["web"]["environment"]["WEB_CONCURRENCY"]
            assert workers == f"${{WEB_CONCURRENCY:-{web_concurrency(project)}}}", workers


def assert_services(
    services: dict, answers: dict, procfile: dict, development: dict, filename: str
) -> None:
    production = filename == "compose.production.yaml"
    infrastructure = {"postgres"}
    broker = BROKERS[answers["broker"]]
    if broker.compose_in_production or not production:
        infrastructure.add(broker.compose_service)
    if answers["result_backend"] == "redis":
        infrastructure.add("redis")
    app = {SERVICE_OF.get(name, name): command for name, command in procfile.items()}
    if not production:
        # Development: Procfile.dev's lines (Django's server, workers under watchfiles), the
        # server listening on the container's interfaces instead of loopback.
        app |= {name: line for name, line in development.items() if name != "web"}
        app["web"] = development["web"].replace("127.0.0.1:$PORT", "0.0.0.0:8000")
    # One service per process of the Procfile, with its very command line; nothing else but
    # the database and the broker (SQS has none in production; an emulator in development).
    assert set(services) == set(app) | infrastructure, (filename, sorted(services))
    for service, command in app.items():
        body = services[service]
        assert body["command"] == shlex.split(command), (filename, service)
        if production:
            assert body["image"].startswith("${IMAGE:?"), body["image"]
            assert body["read_only"] is True and body["restart"] in ("unless-stopped", "no")
        else:
            # The Dockerfile's dev stage: dev dependencies (watchfiles) on top of the build.
            assert body["build"] == {"context": ".", "target": "dev"}, body["build"]
            assert body["environment"]["DJANGO_SETTINGS_MODULE"] == "config.settings.local"
            # Only code directories, read-only: a mount over /app would hide the image's .venv.
            targets = [volume.split(":")[1] for volume in body["volumes"]]
            assert targets and "/app" not in targets and "/app/.venv" not in targets, targets
            assert all(volume.endswith(":ro") for volume in body["volumes"]), body["volumes"]
        assert_secrets_interpolated(body.get("environment", {}), filename)
    # Every queue has exactly one worker service, whose health probe names its very node.
    for queue in [name for name in procfile if name.startswith("worker-")]:
        argv = shlex.split(procfile[queue])
        consumers = [s for s, body in services.items() if queue[7:] in consumed_queues(body)]
        assert consumers == [queue], (filename, queue, consumers)
        assert_probe_names_node(health_command(services[queue]), argv, answers["broker"])
        # The grace period outlasts the hard time limit: a running task finishes on shutdown.
        hard_limit = int(argv[argv.index("--time-limit") + 1])
        assert seconds(services[queue]["stop_grace_period"]) > hard_limit, (filename, queue)
    # Exactly one Beat, one replica.
    beat_command = ["celery", "-A", "config", "beat"]
    beats = [s for s, body in services.items() if body.get("command", [])[:4] == beat_command]
    assert beats == (["beat"] if "beat" in procfile else []), beats
    for beat in beats:
        assert services[beat]["deploy"]["replicas"] == 1
        assert_probe_names_node(health_command(services[beat]), [], answers["broker"])
    # Metrics: each process's port is on the project's network only, never published to the host.
    exposed = {s: body.get("expose", []) for s, body in services.items() if body.get("expose")}
    assert set(exposed) == {
        n for n in procfile if n == "web" or n == "beat" or n.startswith("worker-")
    }
    for service, ports in exposed.items():
        published = [str(p).rsplit(":", 1)[-1] for p in services[service].get("ports", [])]
        assert not set(map(str, ports)) & set(published), (filename, service)
        assert services[service]["environment"]["METRICS_ADDRESS"] == "0.0.0.0"
    # Flower: published on loopback only; its credentials come from .env, never from here.
    if "flower" in services:
        assert all(str(port).startswith("127.0.0.1:") for port in services["flower"]["ports"])
        assert "FLOWER_BASIC_AUTH" not in json.dumps(services["flower"])
    # Health checks on every long-running service; order of start: services healthy, migration
    # done once, then the rest.
    for service, body in services.items():
        if service == "migrate":
            assert body["depends_on"] == {"postgres": {"condition": "service_healthy"}}
            continue
        assert body["healthcheck"]["test"], (filename, service)
        if service in app:
            expected = {needed: {"condition": "service_healthy"} for needed in infrastructure}
            expected["migrate"] = {"condition": "service_completed_successfully"}
            assert body["depends_on"] == expected, (filename, service)
    for service in infrastructure:
        assert_secrets_interpolated(services[service].get("environment", {}), filename)
    if "redis" in services:
        command = " ".join(services["redis"]["command"])
        assert "--appendonly yes" in command and "--maxmemory-policy noeviction" in command


def assert_secrets_interpolated(environment: dict, filename: str) -> None:
    for name, value in environment.items():
        if SECRET_NAME.search(name):
            assert INTERPOLATION.match(str(value)), f"{filename}: {name} holds a literal value"
        for password in re.findall(r"://[^:/@]+:([^@]+)@", str(value)):
            assert INTERPOLATION.match(password), f"{filename}: {name} holds a literal password"
