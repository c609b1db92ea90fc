"""Copier migration to 0.3.0: keep Django's user model, and drop Flower beside SQS.

Runs before the update renders anything (see `_migrations` in copier.yml), with the project as
working directory and the answers file's path as argument, under Copier's own Python: standard
library only. It edits single lines, so the rest of the file stays as it was; run again, or on a
newer answers file, it changes nothing.

- `user_model`: 0.3.0 gives new projects their own user model (users.User). A project generated
  before has tables that point at auth.User, and swapping AUTH_USER_MODEL under them would break
  its data: it keeps `django` unless its answers already say otherwise.
- `use_flower` with `broker: sqs`: Flower lists workers and tasks from worker events and remote
  control, which SQS does not carry, so it never showed anything there, and 0.3.0 refuses the
  pair. The answer becomes false: the update removes Flower's files and process.
"""

import re
import sys
from pathlib import Path


def answer(text: str, name: str) -> str | None:
    match = re.search(rf"""^{name}:[ \t]*(['"]?)([^'"\s]*)\1[ \t]*$""", text, re.MULTILINE)
    return match.group(2) if match else None


def migrate(text: str) -> tuple[str, list[str]]:
    """The answers file's text migrated, and what changed, one sentence each."""
    said = []
    if answer(text, "user_model") is None:
        text = text.rstrip("\n") + "\nuser_model: django\n"
        said.append(
            "user_model: django (this project keeps Django's auth.User; projects generated from"
            " 0.3.0 on get their own users.User)"
        )
    if answer(text, "broker") == "sqs" and answer(text, "use_flower") == "true":
        text = re.sub(r"^use_flower:.*$", "use_flower: false", text, count=1, flags=re.MULTILINE)
        said.append(
            "use_flower: false (Flower shows nothing on SQS, which carries no worker events or"
            " remote control: the update removes it; the metrics and alerts watch the queues)"
        )
    return text, said


def main(answers_file: str) -> None:
    path = Path(answers_file)
    migrated, said = migrate(path.read_text())
    if said:
        path.write_text(migrated)
        for line in said:
            print(f"{answers_file}: {line}", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:])
