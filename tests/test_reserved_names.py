"""template/_partials/reserved_names.yml, which copier.yml's validators read, is what
tests/support/reserved_names.py derives from the interpreters and the shared check environments
today: it fails when a Python, a pin or the template's own names changed and the file was not
regenerated."""

import yaml

from support.reserved_names import DATA, derive, render_file


def test_reserved_names_are_up_to_date(shared_requirements) -> None:
    expected = render_file(derive(shared_requirements))
    assert DATA.read_text() == expected, (
        "template/_partials/reserved_names.yml is stale: run"
        " `python tests/support/reserved_names.py` and commit it"
    )


def test_reserved_names_hold_what_the_review_found() -> None:
    data = yaml.safe_load(DATA.read_text())
    found = {"asyncio", "string", "abc", "billiard", "vine", "tornado", "celery", "kombu", "config"}
    assert found <= set(data["slugs"])
    assert {"api", "billing", "accounts", "my_project"}.isdisjoint(data["slugs"])
    assert data["queues"] == ["unacked", "unacked_index", "unacked_mutex"]
