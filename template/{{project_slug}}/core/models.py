"""Records the task infrastructure keeps in the database."""

from django.db import models


class DeadLetter(models.Model):
    """A task that failed for good: retries ran out, or its error was not worth retrying."""

    task_id = models.CharField(max_length=255, unique=True)
    task_name = models.CharField(max_length=255, db_index=True)
    queue = models.CharField(max_length=255, blank=True, db_index=True)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    exception = models.TextField()
    traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField()
    failed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    replayed_at = models.DateTimeField(null=True, blank=True)
    replay_task_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-failed_at"]
        # Replaying sends tasks again, with their side effects: a right of its own, never implied
        # by viewing (purging needs the delete right).
        permissions = [("replay_deadletter", "Can replay dead letters")]

    def __str__(self) -> str:
        return f"{self.task_name}[{self.task_id}]"


class IdempotencyKey(models.Model):
    """A side effect that already happened; its key is claimed once and never again."""

    key = models.CharField(max_length=255, unique=True)
    # Indexed: the daily purge deletes by age (housekeeping.idempotency_keys_purge).
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return self.key
