"""Run by a rendered project's own Python: Django's checks, then the Celery app's settings as JSON.

    python inspect_project.py   # from the project's folder, with the settings' env variables

For each settings module (test, production) a forked child sets DJANGO_SETTINGS_MODULE and runs
the checks: `check` and `makemigrations --check` on test settings, `check --deploy` on
production settings. Django and Celery are imported once, before forking, since importing them
is most of a check's cost. A failing check exits non-zero with Django's message; on success the
last line of stdout is {"test": {...}, "production": {...}}.
"""

import io
import json
import os
import sys

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


def report(mode: str) -> dict:
    import django
    from django.core.management import call_command

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
    values["debug"] = settings.DEBUG
    return values


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
            code = 0
            try:
                with os.fdopen(write, "w") as pipe:
                    json.dump(report(mode), pipe, default=str)
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        os.close(write)
        with os.fdopen(read) as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"checks with config.settings.{mode} failed")
        reports[mode] = json.loads(data)
    print(json.dumps(reports))


if __name__ == "__main__":
    main()
