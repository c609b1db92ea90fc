"""The user's path: the generated README's own commands, run as written, bring up a working stack.

One project per broker (default answers otherwise). Like a user, the test only edits `.env` (to
point at this test's database, Redis database, RabbitMQ vhost or SQS emulator port, and at free
ports), then runs the README's marked blocks with `bash -c` in the project: `uv run` builds the
project's own environment, `manage.py dev` checks, migrates and starts everything.
"""

import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support import readme_blocks
from support.boot.services import REDIS_DB, drop_all, free_port, postgres_admin, rabbitmq_vhost

pytestmark = pytest.mark.boot

RUN = secrets.token_hex(3)
# A first `uv run` resolves and installs the project's environment; later ones reuse uv's cache.
STACK_START_SECONDS = 600


def set_env(project: Path, **values: str) -> None:
    """Change (or add) lines of the project's .env, as a user would in an editor."""
    path = project / ".env"
    text = path.read_text()
    for name, value in values.items():
        line = f"{name}={value}"
        text, count = re.subn(rf"^{name}=.*$", line, text, flags=re.M)
        if not count:
            text += f"\n{line}\n"
    path.write_text(text)


def has_flower(project: Path) -> bool:
    """Flower is off by default on SQS, which carries no events for it."""
    return (project / "config" / "flower.py").exists()


def env_value(project: Path, name: str) -> str:
    return re.search(rf"^{name}=(.*)$", (project / ".env").read_text(), re.M).group(1)


def user_environment() -> dict[str, str]:
    """The test runner's environment without its virtualenv: `uv run` uses the project's own."""
    hidden = ("VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE")
    return {name: value for name, value in os.environ.items() if name not in hidden}


def run(line: str, project: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", line],
        cwd=project,
        env=user_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextmanager
def background(line: str, project: Path, log: Path) -> Iterator[subprocess.Popen]:
    """`line` in its own process group, as in a terminal of its own; killed if still running."""
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "-c", line],
            cwd=project,
            env=user_environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        for pid in processes_inside(project):
            os.kill(pid, signal.SIGKILL)


def ctrl_c(process: subprocess.Popen, timeout: float = 60) -> None:
    """What Ctrl-C in its terminal does: SIGINT to the whole foreground process group."""
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=timeout)


def processes_inside(project: Path) -> list[int]:
    """Processes running in the project's directory or from it (its .venv's programs)."""
    inside = []
    root = str(project.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # exited meanwhile, or not ours to read
        if cwd == root or cwd.startswith(root + "/") or root in cmdline:
            inside.append(int(entry.name))
    return inside


def http(url: str, auth: str | None = None) -> tuple[int, str, str]:
    """(status, content type, body) of a GET; (0, '', error) if nothing answers."""
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return (
                response.status,
                response.headers.get("Content-Type", ""),
                response.read().decode(),
            )
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), ""
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        return 0, "", str(error)


def assert_admin_login(base: str, project: Path) -> None:
    """The README's login works: the admin user and password of .env reach the admin index."""
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with browser.open(f"{base}/admin/login/", timeout=10) as response:
        page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token,
            "username": env_value(project, "DJANGO_SUPERUSER_USERNAME"),
            "password": env_value(project, "DJANGO_SUPERUSER_PASSWORD"),
            "next": "/admin/",
        }
    ).encode()
    login = urllib.request.Request(f"{base}/admin/login/", data=form, headers={"Referer": base})
    with browser.open(login, timeout=10) as response:
        assert response.url == f"{base}/admin/", response.url
        assert "Site administration" in response.read().decode()


def wait_for_http(url: str, stack: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while http(url)[0] != 200:
        if stack.poll() is not None:
            pytest.fail(f"the stack exited with {stack.returncode}:\n{log.read_text()[-5000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer 200 within {timeout} s:\n{log.read_text()[-5000:]}")
        time.sleep(0.5)


def point_env_at_test_services(project: Path, broker: str, boot_redis) -> str:
    """Edit .env as a user would; return the name its database (and vhost) go by, for drop_all."""
    database = f"cdc_user_{broker}_{RUN}"
    # A database that does not exist yet: `manage.py dev` creates it (the README has no createdb).
    postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    values = {
        "DATABASE_URL": f"postgres://postgres:postgres@127.0.0.1:5432/{database}",
        "PORT": str(free_port()),
        "FLOWER_PORT": str(free_port()),
    }
    if broker == "redis":
        values["CELERY_BROKER_URL"] = f"{boot_redis.url}/{REDIS_DB['user-path broker']}"
        values["CELERY_RESULT_BACKEND"] = f"{boot_redis.url}/{REDIS_DB['user-path results']}"
    elif broker == "rabbitmq":
        values["CELERY_BROKER_URL"] = rabbitmq_vhost(database)
    else:
        # The project's own emulator, on a free port: only the port of the generated URL changes.
        generated = env_value(project, "CELERY_BROKER_URL")
        values["CELERY_BROKER_URL"] = re.sub(r":\d+$", f":{free_port()}", generated)
        values["CELERY_SQS_QUEUE_PREFIX"] = f"cdc-user-{RUN}-"
    set_env(project, **values)
    return database


@pytest.mark.parametrize("broker", ["redis", "rabbitmq", "sqs"])
def test_readme_commands_bring_up_a_working_stack(broker, render, boot_services, tmp_path) -> None:
    project = render({"broker": broker}, tmp_path / "project")
    copied = time.monotonic()
    readme = project / "README.md"
    leftovers = point_env_at_test_services(project, broker, boot_services["redis"])
    try:
        [stack_line] = readme_blocks.tested_block(readme, "run-locally")
        port, flower_port = env_value(project, "PORT"), env_value(project, "FLOWER_PORT")
        base, flower = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{flower_port}"
        log = tmp_path / "stack.log"
        with background(stack_line, project, log) as stack:
            wait_for_http(f"{base}/admin/login/", stack, log, STACK_START_SECONDS)
            page = http(f"{base}/admin/login/")[2]
            stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+\.css)"', page).group(1)
            status, content_type, _ = http(base + stylesheet)
            assert status == 200 and content_type.startswith("text/css"), (status, content_type)
            assert http(f"{base}/health/ready/")[0] == 200
            assert_admin_login(base, project)

            [task_line] = readme_blocks.tested_block(readme, "send-task")
            sent = run(task_line, project, timeout=120)
            assert sent.returncode == 0, sent.stderr[-3000:]
            assert "'hostname': 'worker-" in sent.stdout, sent.stdout

            if has_flower(project):
                assert http(f"{flower}/")[0] == 401
                assert http(f"{flower}/", auth=env_value(project, "FLOWER_BASIC_AUTH"))[0] == 200
            else:  # SQS: no Flower (it would show nothing), so nothing listens on its port
                assert http(f"{flower}/")[0] == 0
            answered = time.monotonic() - copied
            print(f"user path, broker={broker}: copy -> stack answering in {answered:.1f} s")

            ctrl_c(stack)
            assert processes_inside(project) == [], "Ctrl-C left processes behind"

        if broker == "sqs":
            [emulator_line] = readme_blocks.tested_block(readme, "sqs-emulator")
            with background(emulator_line, project, tmp_path / "emulator.log") as emulator:
                run_tests_block(readme, project)
                ctrl_c(emulator)
        else:
            run_tests_block(readme, project)
        assert processes_inside(project) == []
    finally:
        drop_all(leftovers)


def run_tests_block(readme: Path, project: Path) -> None:
    for line in readme_blocks.tested_block(readme, "tests"):
        result = run(line, project)
        assert result.returncode == 0, f"{line}\n{result.stdout[-5000:]}{result.stderr[-3000:]}"


def test_preflight_failures_are_one_line(render, boot_services, tmp_path) -> None:
    """A port in use and a stopped service each give one line naming the .env variable."""
    project = render({}, tmp_path / "project")
    leftovers = point_env_at_test_services(project, "redis", boot_services["redis"])
    [stack_line] = readme_blocks.tested_block(project / "README.md", "run-locally")
    try:

        def fails_with(*words: str) -> None:
            result = run(stack_line, project)
            assert result.returncode != 0
            assert "Traceback" not in result.stderr
            errors = [line for line in result.stderr.splitlines() if "Error" in line]
            assert len(errors) == 1 and all(word in errors[0] for word in words), result.stderr

        with socket_listening(int(env_value(project, "FLOWER_PORT"))):
            fails_with("FLOWER_PORT", "in use")
        with socket_listening(int(env_value(project, "PORT"))):
            fails_with("PORT", "in use")

        broker = env_value(project, "CELERY_BROKER_URL")
        set_env(project, CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")
        fails_with("Redis", "CELERY_BROKER_URL", "start it")
        set_env(project, CELERY_BROKER_URL=broker)

        database = env_value(project, "DATABASE_URL")
        set_env(project, DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/nowhere")
        fails_with("PostgreSQL", "DATABASE_URL", "start it")
        set_env(project, DATABASE_URL=database)
        assert processes_inside(project) == []
    finally:
        drop_all(leftovers)


@contextmanager
def socket_listening(port: int) -> Iterator[None]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield
