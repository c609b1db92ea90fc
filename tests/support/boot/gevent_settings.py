"""Run inside a rendered project by the gevent delivery test: the settings a process loads, patched
by gevent first as `celery worker --pool gevent` patches itself, or not (`plain`).

    python gevent_settings.py patched|plain   one JSON line
"""

import json
import os
import sys

if sys.argv[1] == "patched":
    from gevent import monkey

    monkey.patch_all()

sys.path.insert(0, os.getcwd())
import django  # noqa: E402

django.setup()
from config.celery import app  # noqa: E402
from django.conf import settings  # noqa: E402

print(
    json.dumps(
        {
            "conn_max_age": settings.DATABASES["default"]["CONN_MAX_AGE"],
            "result_backend_thread_safe": app.conf.get("result_backend_thread_safe", False),
            "max_connections": app.conf.broker_transport_options.get("max_connections"),
        }
    )
)
