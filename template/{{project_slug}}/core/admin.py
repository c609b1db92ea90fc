from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db.models import QuerySet
from django.http import HttpRequest

from .dead_letters import dead_letter_replay
from .models import DeadLetter, IdempotencyKey


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ["task_name", "task_id", "queue", "attempts", "failed_at", "replayed_at"]
    list_filter = ["task_name", "queue", "failed_at", ("replayed_at", admin.EmptyFieldListFilter)]
    search_fields = ["task_id", "task_name", "exception"]
    readonly_fields = [field.name for field in DeadLetter._meta.fields]
    actions = ["replay", "purge"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_replay_permission(self, request: HttpRequest) -> bool:
        """The model's own replay_deadletter permission (models.DeadLetter.Meta)."""
        codename = get_permission_codename("replay", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    # Each action needs its own right: the admin hides it from, and refuses it to, anyone without.
    @admin.action(description="Replay the selected tasks", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        # A second click must not send a task twice: letters already replayed are skipped (the
        # replay_dead_letters command's --include-replayed sends them again on purpose).
        replayed = 0
        for letter in queryset.filter(replayed_at__isnull=True):
            dead_letter_replay(letter=letter)
            replayed += 1
        skipped = queryset.count() - replayed
        note = f"; skipped {skipped} already replayed" if skipped else ""
        self.message_user(request, f"Replayed {replayed} task(s){note}.", messages.SUCCESS)

    @admin.action(description="Purge the selected dead letters", permissions=["delete"])
    def purge(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        deleted, _ = queryset.delete()
        self.message_user(request, f"Purged {deleted} dead letter(s).", messages.SUCCESS)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "created_at"]
    search_fields = ["key"]
