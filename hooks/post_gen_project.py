"""Cookiecutter entry: hand the answers to Copier, which renders the project from template/.

Cookiecutter renders this file with its answers, then runs it inside the new project folder with
its own Python. Copier stays the one renderer, so `cookiecutter` and `copier copy` give the same
tree for the same answers (tests/test_cookiecutter.py). Only Copier can update the project later.
"""

import json
import sys
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | jsonify }}""")
# cookiecutter.json's stand-in for a default Copier derives from other answers.
DERIVED = "auto"
PLACEHOLDER = ".rendered-by-copier"


def copier_data(answers: dict) -> dict:
    """The answers as Copier takes them: no Cookiecutter internals, no stand-ins."""
    data = {k: v for k, v in answers.items() if not k.startswith("_") and v != DERIVED}
    if data.get("queue_topology") != "custom":
        data.pop("queues", None)
    return data


def main() -> None:
    try:
        import copier
    except ImportError:
        sys.exit(
            "copier-django-celery is rendered by Copier: install it beside Cookiecutter"
            " (pip install copier), or run `uvx --with copier cookiecutter <this template>`."
        )
    project = Path.cwd()
    (project / PLACEHOLDER).unlink(missing_ok=True)
    try:
        copier.run_copy(
            ANSWERS["_repo_dir"],
            str(project),
            data=copier_data(ANSWERS),
            vcs_ref="HEAD",  # the checkout Cookiecutter chose, not the newest tag
            defaults=True,
            overwrite=True,
            quiet=True,
            # Copier's --trust: its task locks the dependencies into uv.lock, as `copier copy
            # --trust` does. Cookiecutter has run this template's own hook already.
            unsafe=True,
        )
    except ValueError as error:  # an answer refused by copier.yml's validators
        sys.exit(f"copier-django-celery refused an answer: {error}")


if __name__ == "__main__":
    main()
