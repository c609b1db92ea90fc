from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from ...dead_letters import dead_letters_purge


class Command(BaseCommand):
    help = "Delete dead letters: those older than --older-than-days, or only replayed ones."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than-days", type=int, help="only letters older than this")
        parser.add_argument("--replayed-only", action="store_true", help="only replayed letters")
        parser.add_argument(
            "--all", dest="purge_all", action="store_true", help="every dead letter"
        )

    def handle(
        self, *args, older_than_days: int | None, replayed_only: bool, purge_all: bool, **options
    ):
        if not (older_than_days is not None or replayed_only or purge_all):
            raise CommandError("Choose --older-than-days N, --replayed-only, or --all.")
        older_than = None if older_than_days is None else timedelta(days=older_than_days)
        deleted = dead_letters_purge(older_than=older_than, replayed_only=replayed_only)
        self.stdout.write(self.style.SUCCESS(f"{deleted} dead letter(s) purged"))
