from django.core.management.base import BaseCommand, CommandError

from ...dead_letters import dead_letter_replay
from ...models import DeadLetter


class Command(BaseCommand):
    help = "Send dead-lettered tasks again with their original arguments and queue."

    def add_arguments(self, parser) -> None:
        parser.add_argument("ids", nargs="*", type=int, help="dead letter ids to replay")
        parser.add_argument("--task", help="replay every dead letter of this task name")
        parser.add_argument(
            "--include-replayed", action="store_true", help="also replay letters replayed before"
        )

    def handle(self, *args, ids: list[int], task: str | None, include_replayed: bool, **options):
        if not ids and not task:
            raise CommandError("Name dead letter ids, or --task NAME for every letter of a task.")
        letters = DeadLetter.objects.order_by("failed_at")
        if ids:
            letters = letters.filter(pk__in=ids)
        if task:
            letters = letters.filter(task_name=task)
        if not include_replayed:
            letters = letters.filter(replayed_at__isnull=True)
        count = 0
        for letter in letters:
            new_id = dead_letter_replay(letter=letter)
            self.stdout.write(f"replayed {letter} as {new_id}")
            count += 1
        self.stdout.write(self.style.SUCCESS(f"{count} dead letter(s) replayed"))
