"""Run by a rendered project's own Python: Django's checks, then the Celery app's settings as JSON.

    python inspect_project.py   # from the project's folder, with the settings' env variables
    python inspect_project.py --serve   # many projects, one request a line (see `serve`)

For each settings module (test, production) a forked child sets DJANGO_SETTINGS_MODULE and runs
the checks: `check` and `makemigrations --check` on test settings, `check --deploy` on
production settings. Django and Celery are imported once, before forking, since importing them
is most of a check's cost. A failing check exits non-zero with Django's message; on success the
last line of stdout is {"test": {...}, "production": {...}}.

The production report also holds `settings`: every upper-case name the production settings
module defines, as its value with no `.env` read (the defaults a deployment gets where the real
environment sets nothing else), which tests/support/settings_registry.py compares with
docs/settings.yml.
"""

import io
import json
import os
import sys
from collections.abc import Callable
from typing import NoReturn

MODES = ("test", "production")
# Modules every check imports and that need no settings: imported once, shared by the children.
SHARED_IMPORTS = (
    "celery",
    "celery.app.base",
    "celery.contrib.django.task",
    "django.core.management",
    "django.db.models",
    "django.http",
    "django.urls",
    "environ",
    "kombu",
)


def production_settings() -> dict:
    """The production settings module's upper-case names and values, without `.env`.

    Imported on its own, with django-environ's read_env switched off, then dropped from
    sys.modules so the checks import it again as the processes do (with `.env`).
    """
    import importlib

    import environ

    names = ("config.settings.production", "config.settings.base")
    read_env = environ.Env.read_env
    environ.Env.read_env = classmethod(lambda cls, *args, **kwargs: None)
    try:
        module = importlib.import_module(names[0])
        values = {k: plain(v) for k, v in vars(module).items() if k.isupper()}
    finally:
        environ.Env.read_env = read_env
        for name in names:
            sys.modules.pop(name, None)
    from celery.app.defaults import NAMESPACES, flatten
    from django.conf import global_settings

    celery_names = {name for name, _ in flatten(NAMESPACES)}
    known = {
        name
        for name in values
        if hasattr(global_settings, name)
        or name.startswith("CELERY_")
        and name.removeprefix("CELERY_").lower() in celery_names
    }
    return {"values": values, "known": sorted(known)}


def plain(value):
    """A settings value as JSON can carry it: durations in seconds, queues as their fields."""
    from datetime import timedelta

    from kombu import Queue

    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Queue):
        return {
            "name": value.name,
            "routing_key": value.routing_key,
            "queue_arguments": value.queue_arguments,
        }
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def report(mode: str) -> dict:
    import django
    from django.core.management import call_command

    settings_module = production_settings() if mode == "production" else None
    os.environ["DJANGO_SETTINGS_MODULE"] = f"config.settings.{mode}"
    django.setup()
    out = io.StringIO()
    if mode == "production":
        call_command("check", deploy=True, fail_level="WARNING", stdout=out)
    else:
        call_command("check", fail_level="WARNING", stdout=out)
        call_command("makemigrations", check=True, dry_run=True, stdout=out)

    from celery.utils.imports import symbol_by_name
    from config.celery import app
    from django.conf import settings

    app.loader.import_default_modules()
    base_task = symbol_by_name(app.task_cls)
    conf = app.conf
    values = {
        key: conf.get(key)
        for key in (
            "broker_url",
            "result_backend",
            "task_acks_late",
            "task_reject_on_worker_lost",
            "worker_cancel_long_running_tasks_on_connection_loss",
            "worker_prefetch_multiplier",
            "worker_max_tasks_per_child",
            "worker_max_memory_per_child",
            "task_soft_time_limit",
            "task_time_limit",
            "task_serializer",
            "result_serializer",
            "accept_content",
            "result_accept_content",
            "broker_connection_retry_on_startup",
            "timezone",
            "task_ignore_result",
            "task_default_queue",
            "task_routes",
            "task_create_missing_queues",
            "broker_transport_options",
            "result_backend_transport_options",
            "result_backend_always_retry",
            "beat_scheduler",
            "beat_enable_remote_control",
            "redbeat_redis_url",
            "worker_hijack_root_logger",
            "worker_send_task_events",
        )
    }
    expires = conf.result_expires
    values["result_expires"] = expires.total_seconds() if expires is not None else None
    values["task_queues"] = [
        {
            "name": queue.name,
            "routing_key": queue.routing_key,
            "durable": queue.durable,
            "queue_arguments": queue.queue_arguments,
        }
        for queue in conf.task_queues
    ]
    values["beat_schedule"] = {
        name: {"task": entry["task"], "schedule": str(entry["schedule"])}
        for name, entry in (conf.beat_schedule or {}).items()
    }
    values["tasks"] = {
        name: isinstance(task, base_task)
        for name, task in app.tasks.items()
        if not name.startswith("celery.")
    }
    values["time_zone"] = settings.TIME_ZONE
    values["installed_apps"] = list(settings.INSTALLED_APPS)
    values["auth_user_model"] = settings.AUTH_USER_MODEL
    values["debug"] = settings.DEBUG
    if settings_module is not None:
        values["settings"] = settings_module
    return values


def exit_child(work: Callable[[], None]) -> NoReturn:
    """In a forked child: run `work`, then leave with its exit code, the output flushed."""
    code = 0
    try:
        work()
    except SystemExit as exit_:
        if isinstance(exit_.code, int):
            code = exit_.code
        elif exit_.code is not None:
            print(exit_.code, file=sys.stderr)
            code = 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    sys.path.insert(0, os.getcwd())
    for module in SHARED_IMPORTS:
        __import__(module)
    reports = {}
    for mode in MODES:
        read, write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(read)

            def write_report(mode=mode, write=write) -> None:
                with os.fdopen(write, "w") as pipe:
                    json.dump(report(mode), pipe, default=str)

            exit_child(write_report)
        os.close(write)
        with os.fdopen(read) as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"checks with config.settings.{mode} failed")
        reports[mode] = json.loads(data)
    print(json.dumps(reports))


def serve() -> None:
    """Check one project per line of stdin, each in a child forked from this process.

    A request is {"project": DIR, "environ": {...}, "output": FILE}: the child runs `main` in DIR
    with exactly that environment, its stdout and stderr written to FILE; the answer, a line on
    stdout, is {"code": EXIT_CODE}. The shared imports happen once for every project checked,
    where a process per project paid Python's start and those imports (about 0.4 s of CPU) each
    time. Nothing of a project is imported here: each child imports its own and exits.
    """
    for module in SHARED_IMPORTS:
        __import__(module)
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(output, 1)
            os.dup2(output, 2)
            os.chdir(request["project"])
            os.environ.clear()
            os.environ.update(request["environ"])
            exit_child(main)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    serve() if sys.argv[1:] == ["--serve"] else main()
