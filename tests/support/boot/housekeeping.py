"""Housekeeping in a booted project: expired idempotency keys (and, without Beat, expired
django-db results) are deleted by the purge that Beat, or the default queue's worker, sends.

The rows are written before any process starts (right after the release command migrated),
and the boot sets HOUSEKEEPING_EVERY_SECONDS to a few seconds.
"""

from .checks import sql, wait_until
from .processes import ProcessGroup

# Older than IDEMPOTENCY_KEY_MAX_AGE_DAYS (30), and claimed just now.
EXPIRED_KEY, FRESH_KEY = "boot:expired", "boot:fresh"
EXPIRED_RESULT = "boot-expired-result"
# What the boot environment sets, so that the purge runs within the boot.
EVERY_SECONDS = 5


def seed_expired_rows(database_url: str, cleans_results: bool) -> None:
    """An expired idempotency key and a fresh one; where the worker also cleans results, a
    result past CELERY_RESULT_EXPIRES (a day)."""
    sql(
        database_url,
        "INSERT INTO core_idempotencykey (key, created_at) VALUES"
        f" ('{EXPIRED_KEY}', now() - interval '31 days'), ('{FRESH_KEY}', now())",
    )
    if cleans_results:
        sql(
            database_url,
            "INSERT INTO django_celery_results_taskresult (task_id, status, content_type,"
            " content_encoding, date_done, date_created) VALUES"
            f" ('{EXPIRED_RESULT}', 'SUCCESS', 'application/json', 'utf-8',"
            " now() - interval '2 days', now() - interval '2 days')",
        )


def check_housekeeping_purges_expired_rows(
    group: ProcessGroup, database_url: str, cleans_results: bool
) -> None:
    """The expired key is deleted and the fresh one kept; the expired result is deleted."""
    keys = (
        "SELECT string_agg(key, ',' ORDER BY key) FROM core_idempotencykey WHERE key LIKE 'boot:%'"
    )
    wait_until(lambda: sql(database_url, keys) == FRESH_KEY, "expired key purged", group)
    if cleans_results:
        left = (
            "SELECT count(*) FROM django_celery_results_taskresult"
            f" WHERE task_id = '{EXPIRED_RESULT}'"
        )
        wait_until(lambda: sql(database_url, left) == "0", "expired result cleaned", group)
