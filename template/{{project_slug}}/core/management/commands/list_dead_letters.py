from django.core.management.base import BaseCommand
from django.db.models import Count

from ...models import DeadLetter


class Command(BaseCommand):
    help = "List dead letters not yet replayed, newest first, then a count per task."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--task", help="only the letters of this task name")
        parser.add_argument(
            "--include-replayed", action="store_true", help="also letters replayed before"
        )
        parser.add_argument("--limit", type=int, default=50, help="list at most this many")

    def handle(self, *args, task: str | None, include_replayed: bool, limit: int, **options):
        letters = DeadLetter.objects.all()
        if task:
            letters = letters.filter(task_name=task)
        if not include_replayed:
            letters = letters.filter(replayed_at__isnull=True)
        for letter in letters.order_by("-failed_at")[:limit]:
            # One line each: the exception's first line only; the traceback is in the admin.
            error = (letter.exception.splitlines() or [""])[0][:120]
            failed = letter.failed_at.isoformat(timespec="seconds")
            self.stdout.write(
                f"{letter.pk}\t{failed}\t{letter.task_name}\tqueue={letter.queue or '-'}\t"
                f"attempts={letter.attempts}\t{error}"
            )
        counts = letters.values("task_name").annotate(letters=Count("pk")).order_by("task_name")
        for row in counts:
            self.stdout.write(f"{row['letters']} dead letter(s) of {row['task_name']}")
        total = letters.count()
        self.stdout.write(f"{total} dead letter(s){'' if include_replayed else ' to replay'}")
