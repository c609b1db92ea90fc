"""Run by a rendered project's own Python: Django's checks, then the Celery app's settings as JSON.

    python inspect_project.py test        # check, makemigrations --check
    python inspect_project.py production  # check --deploy

Settings come from DJANGO_SETTINGS_MODULE and the environment. A failing check exits non-zero
with Django's message; on success the last line of stdout is the JSON report.
"""

import io
import json
import os
import sys


def main(mode: str) -> None:
    sys.path.insert(0, os.getcwd())
    import django
    from django.core.management import call_command

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
    report = {
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
            "result_expires",
            "task_ignore_result",
            "task_default_queue",
            "task_routes",
            "task_create_missing_queues",
            "broker_transport_options",
            "result_backend_transport_options",
            "beat_scheduler",
            "beat_schedule",
            "redbeat_redis_url",
            "worker_hijack_root_logger",
            "worker_send_task_events",
        )
    }
    report["result_expires"] = (
        conf.result_expires.total_seconds() if conf.result_expires is not None else None
    )
    report["task_queues"] = [
        {
            "name": queue.name,
            "routing_key": queue.routing_key,
            "durable": queue.durable,
            "queue_arguments": queue.queue_arguments,
        }
        for queue in conf.task_queues
    ]
    report["beat_schedule"] = {
        name: {"task": entry["task"], "schedule": str(entry["schedule"])}
        for name, entry in (conf.beat_schedule or {}).items()
    }
    report["tasks"] = {
        name: isinstance(task, base_task)
        for name, task in app.tasks.items()
        if not name.startswith("celery.")
    }
    report["time_zone"] = settings.TIME_ZONE
    report["installed_apps"] = list(settings.INSTALLED_APPS)
    report["debug"] = settings.DEBUG
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
