"""The services the boot tier runs against, all on loopback.

PostgreSQL and RabbitMQ are used where they already run (bash .ci/run installs and starts them
on a fresh machine). Redis and the SQS endpoint are started by the test session itself: Redis so
that it keeps an append-only file and can be restarted by the delivery tests without touching a
server anybody else uses, moto_server because nothing else provides SQS here.
"""

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get("CDC_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
RABBITMQ_URL = os.environ.get("CDC_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")
# Each combination gets its own Redis databases (broker, results: 0 to 279, see
# test_boot.environment), and so does each test that runs beside them: one Redis database is one
# broker, and two projects on one would take each other's tasks.
REDIS_DB = {
    "delivery": 500,
    "user-path broker": 501,
    "user-path results": 502,
    "runbooks broker": 503,
    "runbooks results": 504,
}
REDIS_DATABASES = 512


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Below the kernel's ephemeral range (ip_local_port_range, 32768 and up by default), from which
# every outgoing connection and free_port() take theirs: a block chosen there was sometimes taken
# by a client socket before its process could listen on it.
BELOW_EPHEMERAL = (10000, 32000)


def free_ports(count: int) -> int:
    """The first of COUNT consecutive ports that are free now (a project's metrics ports)."""
    for _ in range(100):
        first = random.randrange(BELOW_EPHEMERAL[0], BELOW_EPHEMERAL[1] - count)
        try:
            with contextlib.ExitStack() as held:
                for port in range(first, first + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError(f"no {count} consecutive free ports found")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(port: int, what: str, process: subprocess.Popen | None = None, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if process is not None and process.poll() is not None:
            pytest.fail(f"{what} exited with code {process.returncode} before listening on {port}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} is not listening on 127.0.0.1:{port} after {timeout} s")
        time.sleep(0.1)


def require_program(name: str, how: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: {how} (bash .ci/run installs it)")
    return path


@dataclass
class RedisServer:
    """A redis-server of the test session's own, persisting to an append-only file."""

    port: int
    data_dir: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = require_program("redis-server", "apt-get install redis-server")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir),
                "--databases",
                str(REDIS_DATABASES),
                # What the generated deployment files ask of Redis: keep every write, evict nothing.
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--maxmemory-policy",
                "noeviction",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, "redis-server", self.process)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def redis_server(data_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(port=free_port(), data_dir=data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def sqs_endpoint(log: Path) -> Iterator[str]:
    """moto_server emulating SQS on a free loopback port; yields its URL."""
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    if not binary.exists():
        pytest.fail("moto_server is not installed: pip install 'moto[server]' (a test dependency)")
    with serving([str(binary), "-H", "127.0.0.1", "-p", str(port)], port, "moto_server", log):
        yield f"127.0.0.1:{port}"


@contextmanager
def serving(command: list[str], port: int, what: str, log: Path) -> Iterator[None]:
    """Run a server's COMMAND, its output in LOG, while the block runs, once PORT answers."""
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, what, process)
            yield
        finally:
            process.terminate()
            process.wait(timeout=30)


def require_postgres() -> None:
    if not port_open(5432):
        pytest.fail(
            "PostgreSQL is not listening on 127.0.0.1:5432: start it "
            "(pg_ctlcluster <version> main start) or run bash .ci/run"
        )


def require_rabbitmq() -> None:
    if not port_open(5672):
        pytest.fail(
            "RabbitMQ is not listening on 127.0.0.1:5672: start it (rabbitmq-server -detached) "
            "or run bash .ci/run"
        )
    require_program("rabbitmqctl", "apt-get install rabbitmq-server")


# The vhosts this process created: drop_all deletes only these (each rabbitmqctl call starts an
# Erlang VM, about 0.6 s of CPU).
_VHOSTS: set[str] = set()


def rabbitmq_vhost(name: str) -> str:
    """Create a vhost for one combination, so combinations never share a queue.

    One rabbitmqctl call creates it with guest's permissions (names carry the run's own suffix,
    so none exists yet).
    """
    permissions = {"user": "guest", "vhost": name, "configure": ".*", "write": ".*", "read": ".*"}
    definitions = {"vhosts": [{"name": name}], "permissions": [permissions]}
    subprocess.run(
        ["rabbitmqctl", "-q", "import_definitions"],
        input=json.dumps(definitions),
        text=True,
        check=True,
        capture_output=True,
    )
    _VHOSTS.add(name)
    return f"{RABBITMQ_URL}/{name}"


def postgres_admin(sql: str, check: bool = True, server: str = POSTGRES_URL) -> None:
    """Run one statement in the server's `postgres` database (creating and dropping others)."""
    command = ["psql", f"{server}/postgres", "-q", "-c", sql]
    subprocess.run(command, check=check, capture_output=True)


def postgres_database(name: str, server: str = POSTGRES_URL) -> str:
    """Create (afresh) a database for one combination on `server` (the machine's PostgreSQL
    unless a test names one of its own); return its URL."""
    postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', server=server)
    postgres_admin(f'CREATE DATABASE "{name}"', server=server)
    return f"{server}/{name}"


@dataclass
class RabbitMQNode:
    """A RabbitMQ node of the test's own (own port, own data), to restart without disturbing the
    machine's server. Started with the machine's rabbitmq-server, as the rabbitmq user."""

    data_dir: Path
    port: int
    name: str

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(self.data_dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.data_dir / "log"),
            "RABBITMQ_PID_FILE": str(self.data_dir / "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.data_dir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.data_dir / "rabbitmq.conf"),
        }

    def start(self) -> None:
        require_program("rabbitmq-server", "apt-get install rabbitmq-server")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "enabled_plugins").write_text("[].\n")
        (self.data_dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
        )
        # Debian's rabbitmq-server runs the node as the rabbitmq user, which must own its data.
        subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(self.data_dir)], check=False)
        subprocess.run(["rabbitmq-server", "-detached"], env=self.environment(), check=True)
        wait_for_port(self.port, f"RabbitMQ node {self.name}", timeout=90)

    def stop(self) -> None:
        subprocess.run(
            ["rabbitmqctl", "-n", self.name, "-q", "stop"], capture_output=True, check=False
        )
        deadline = time.monotonic() + 30
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.2)

    def restart(self) -> None:
        self.stop()
        self.start()


def postgres_programs() -> Path:
    """The folder of the newest installed PostgreSQL's server programs (initdb, pg_ctl)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
    )
    if found:
        return found[-1].parent
    pg_ctl = require_program("pg_ctl", "apt-get install postgresql")
    return Path(pg_ctl).parent


@dataclass
class PostgresServer:
    """A PostgreSQL server of the test's own (own port, own data folder), to stop and start
    without disturbing the machine's server. Run as the postgres user when the tests run as root,
    since PostgreSQL refuses to run as root."""

    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres:postgres@127.0.0.1:{self.port}"

    def _run(self, *command: str) -> None:
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_user, *command], check=True, capture_output=True)

    def create(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir.parent / "pwfile").write_text("postgres\n")
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "postgres:", str(self.data_dir.parent)], check=True)
        initdb = str(postgres_programs() / "initdb")
        pwfile = str(self.data_dir.parent / "pwfile")
        data = str(self.data_dir)
        self._run(initdb, "-D", data, "-U", "postgres", "--pwfile", pwfile, "-A", "md5")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir}"
        log = str(self.data_dir.parent / "postgres.log")
        pg_ctl = str(postgres_programs() / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data_dir), "-o", options, "-l", log, "-w", "start")
        wait_for_port(self.port, "PostgreSQL (the test's own)")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `immediate` is a crash (no clean shutdown), `fast` a clean one."""
        pg_ctl = str(postgres_programs() / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data_dir), "-m", mode, "-w", "stop")


def drop_all(name: str) -> None:
    """Drop what one combination created under `name`: its databases (pytest-django's test_
    copy too) and its vhost, if any."""
    for database in (name, f"test_{name}"):
        postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)', check=False)
    if name in _VHOSTS:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True)
        _VHOSTS.discard(name)
