"""Copier migration to 0.2.0: the `deploy` answer becomes the `deploy_targets` list.

Runs before the update renders anything (see `_migrations` in copier.yml), with the project as
working directory and the answers file's path as argument, under Copier's own Python: standard
library only. It rewrites the one answer in place, so the rest of the file stays as it was, and
it does nothing on an answers file that has no `deploy` answer (already migrated, or newer).
"""

import re
import sys
from pathlib import Path

TARGETS = {
    "compose": ["compose"],
    "kubernetes": ["kubernetes"],
    "both": ["compose", "kubernetes"],
    "none": [],
}
DEPLOY_LINE = re.compile(r"""^deploy:[ \t]*(['"]?)([^'"\s]*)\1[ \t]*$""", re.MULTILINE)


def migrate(text: str) -> str:
    """The answers file's text with `deploy: X` replaced by the matching `deploy_targets`."""
    match = DEPLOY_LINE.search(text)
    if match is None:
        return text
    old = match.group(2)
    if old not in TARGETS:
        choices = ", ".join(TARGETS)
        raise SystemExit(
            f"cannot migrate the answer deploy={old!r}: it is none of {choices}. Replace the line"
            " `deploy: ...` in the answers file with `deploy_targets: [compose]` (any of compose,"
            " kubernetes, or []) and run the update again."
        )
    targets = TARGETS[old]
    replacement = "deploy_targets: " + ("[" + ", ".join(targets) + "]" if targets else "[]")
    return text[: match.start()] + replacement + text[match.end() :]


def main(answers_file: str) -> None:
    path = Path(answers_file)
    text = path.read_text()
    migrated = migrate(text)
    if migrated != text:
        path.write_text(migrated)
        print(f"{answers_file}: moved the deploy answer to deploy_targets", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:])
