"""`manage.py dev`: the whole stack on this machine, in one command, on local settings.

Checks first (Django's system checks, weak secrets included; ports free, PostgreSQL and the broker
reachable; each failure is one line saying what to change; a warning if .env is readable by other
users), creates the database if missing, migrates, creates the admin login of .env if
missing, then runs Procfile.dev with honcho until Ctrl-C, which stops every process it started.
On broker=sqs with a loopback CELERY_BROKER_URL it first starts moto_server there, a local SQS.
"""

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from kombu import Connection
from psycopg import sql
from psycopg.conninfo import make_conninfo

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Long enough for a broker on a slow machine; short enough that a stopped one fails at once.
CONNECT_TIMEOUT_SECONDS = 3


class Command(BaseCommand):
    help = "Run the whole stack locally (web, every queue's worker, Beat, Flower) until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sqs-only",
            action="store_true",
            help="start only the local SQS emulator (for the integration tests), until Ctrl-C",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The processes it starts run on local settings (DEBUG, runserver's static files) even
        # where the shell exports another module; celery's own default is production.
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
        self.warn_if_env_file_open()
        emulator_port = sqs_emulator_port()
        if options["sqs_only"]:
            run_sqs_emulator_only(emulator_port)
            return
        check_ports_free(emulator_port)
        ensure_database()
        emulator = start_sqs_emulator(emulator_port) if emulator_port else None
        try:
            check_brokers()
            call_command("migrate", interactive=False, verbosity=1)
            self.ensure_admin()
            run_procfile()
        finally:
            if emulator is not None:
                emulator.terminate()
                emulator.wait(timeout=30)

    def warn_if_env_file_open(self) -> None:
        """.env holds secrets: other users of this machine should not read it (copier writes it
        with mode 0600; a copy by hand or an older release may not have)."""
        env_file = Path(settings.BASE_DIR) / ".env"
        if env_file.is_file() and env_file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            self.stderr.write(
                f"warning: {env_file} holds secrets and other users can read it: chmod 600 .env"
            )

    def ensure_admin(self) -> None:
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME")
        if not username or not os.environ.get("DJANGO_SUPERUSER_PASSWORD"):
            self.stdout.write(
                "No admin login: set DJANGO_SUPERUSER_USERNAME and ..._PASSWORD in .env"
            )
            return
        if not get_user_model()._default_manager.filter(username=username).exists():
            call_command("createsuperuser", interactive=False, verbosity=0)
        self.stdout.write(
            f"Admin: http://127.0.0.1:{os.environ.get('PORT', '8000')}/admin/ as {username}, "
            "password DJANGO_SUPERUSER_PASSWORD in .env"
        )


def check_ports_free(emulator_port: int | None) -> None:
    ports = {"PORT": int(os.environ.get("PORT", "8000"))}
    if "flower" in procfile_processes():
        ports["FLOWER_PORT"] = int(os.environ.get("FLOWER_PORT", "5555"))
    if emulator_port:
        ports["CELERY_BROKER_URL"] = emulator_port
    for variable, port in ports.items():
        check_port_free(variable, port)


def check_port_free(variable: str, port: int) -> None:
    if not port_free(port):
        raise CommandError(
            f"port {port} ({variable} in .env) is in use: stop what listens there, "
            f"or change the port in {variable} in .env to a free one"
        )


def port_free(port: int) -> bool:
    """Nothing listens on `port`, on loopback or on any interface."""
    for host in ("127.0.0.1", "0.0.0.0"):
        with socket.socket() as sock:
            # A port left in TIME_WAIT by the previous run is free to listen on.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def ensure_database() -> None:
    """Connect to the database of DATABASE_URL; create it if the server lacks it."""
    db = settings.DATABASES["default"]
    where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"

    def connect(dbname: str) -> psycopg.Connection:
        params = {
            "dbname": dbname,
            "host": db.get("HOST") or None,
            "port": db.get("PORT") or None,
            "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None,
        }
        conninfo = make_conninfo(**{key: value for key, value in params.items() if value})
        return psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True)

    try:
        connect(db["NAME"]).close()
        return
    except psycopg.OperationalError as exc:
        if f'database "{db["NAME"]}" does not exist' not in str(exc):
            raise CommandError(
                f"PostgreSQL is not reachable at {where} (DATABASE_URL in .env): start it, "
                f"or point DATABASE_URL at a running server ({first_line(exc)})"
            ) from None
    try:
        with connect("postgres") as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
    except psycopg.Error as exc:
        raise CommandError(
            f"could not create database {db['NAME']} on {where} (DATABASE_URL in .env): "
            f"create it, or give the user the CREATEDB right ({first_line(exc)})"
        ) from None


def check_brokers() -> None:
    """Every Redis or RabbitMQ the stack talks to answers, or one line says which to start."""
    urls = {"CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    result_backend = getattr(settings, "CELERY_RESULT_BACKEND", None)
    if result_backend and result_backend.startswith("redis"):
        urls["CELERY_RESULT_BACKEND"] = result_backend
    redbeat = getattr(settings, "CELERY_REDBEAT_REDIS_URL", None)
    if redbeat:
        urls["CELERY_REDBEAT_REDIS_URL"] = redbeat
    for variable, url in urls.items():
        if url.startswith("sqs"):
            continue  # real SQS needs no start; the local emulator was started above
        service, program = (
            ("RabbitMQ", "rabbitmq-server") if url.startswith("amqp") else ("Redis", "redis-server")
        )
        connection = Connection(url, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        try:
            connection.ensure_connection(max_retries=1)
        except Exception as exc:  # noqa: BLE001  any transport's failure means "not reachable"
            raise CommandError(
                f"{service} is not reachable at {connection.as_uri()} ({variable} in .env): "
                f"start it (for example `{program}`), "
                f"or point {variable} at a running one ({first_line(exc)})"
            ) from None
        finally:
            connection.release()


def sqs_emulator_port() -> int | None:
    """The port of a loopback SQS endpoint in CELERY_BROKER_URL: the emulator to start there."""
    url = urlsplit(settings.CELERY_BROKER_URL)
    if url.scheme == "sqs" and url.hostname in LOOPBACK and url.port:
        return url.port
    return None


def start_sqs_emulator(port: int) -> subprocess.Popen:
    binary = Path(sys.executable).with_name("moto_server")
    # A session of its own: Ctrl-C reaches the workers first, the emulator only once they stopped.
    command = [str(binary), "-H", "127.0.0.1", "-p", str(port)]
    emulator = subprocess.Popen(command, start_new_session=True)
    deadline = time.monotonic() + 30
    while port_free(port):
        if emulator.poll() is not None or time.monotonic() > deadline:
            emulator.kill()
            raise CommandError(f"the SQS emulator (moto_server) did not start on port {port}")
        time.sleep(0.1)
    return emulator


def run_sqs_emulator_only(port: int | None) -> None:
    if not port:
        raise CommandError("CELERY_BROKER_URL in .env names no loopback SQS emulator to start")
    check_port_free("CELERY_BROKER_URL", port)
    emulator = start_sqs_emulator(port)
    signal.signal(signal.SIGTERM, lambda signum, frame: emulator.terminate())
    try:
        emulator.wait()
    except KeyboardInterrupt:
        emulator.terminate()
        emulator.wait(timeout=30)


def procfile_processes() -> dict[str, str]:
    lines = (Path(settings.BASE_DIR) / "Procfile.dev").read_text().splitlines()
    entries = (line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {name.strip(): command.strip() for name, command in entries}


def run_procfile() -> None:
    """honcho runs Procfile.dev; SIGINT or SIGTERM here stops it and every process it started."""
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # The environment's own programs (celery, watchfiles, moto_server) come first on PATH.
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    honcho = subprocess.Popen(
        [sys.executable, "-m", "honcho", "start", "-f", "Procfile.dev"],
        cwd=settings.BASE_DIR,
        env=environment,
    )

    stopped = []

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.append(signum)
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    returncode = honcho.wait()
    if returncode and not stopped:
        raise CommandError(f"a process of Procfile.dev exited (honcho: {returncode}); see above")


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
