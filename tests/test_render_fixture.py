"""The suite's render (tests/conftest.py: render_fresh) writes what Copier itself writes.

render_fresh shares Jinja's compiled templates between renders and skips Copier's per-file git
index call; every tier renders through it, so it must not change a byte or a file mode.
"""

import re
from pathlib import Path

import copier
import pytest

from conftest import render_fresh
from matrix import all_combinations

COMBINATIONS = all_combinations()
# A generated secret: 64 hex digits after `=` in .env, random in every render.
SECRET = re.compile(rb"=[0-9a-f]{64}$", re.M)


def files(root: Path) -> dict[str, tuple[bytes, int]]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            found[str(path.relative_to(root))] = (path.read_bytes(), path.stat().st_mode)
    return found


@pytest.mark.parametrize("combo", [COMBINATIONS[0], COMBINATIONS[-1]], ids=lambda combo: combo.id)
def test_the_suites_render_writes_what_copier_writes(combo, template_src, tmp_path) -> None:
    answers = combo.answers()
    render_fresh(template_src, answers, tmp_path / "warm")  # fills the compile cache
    ours = files(render_fresh(template_src, answers, tmp_path / "ours"))
    copier.run_copy(
        str(template_src),
        str(tmp_path / "copier"),
        data=answers,
        defaults=True,
        quiet=True,
        unsafe=False,
        skip_tasks=True,
    )
    theirs = files(tmp_path / "copier")
    assert ours.keys() == theirs.keys()
    secrets = ours.pop(".env")[0], theirs.pop(".env")[0]
    assert ours == theirs
    # The secrets are rendered, not compiled: each render still draws its own.
    assert SECRET.sub(b"=", secrets[0]) == SECRET.sub(b"=", secrets[1])
    assert set(SECRET.findall(secrets[0])).isdisjoint(SECRET.findall(secrets[1]))
    assert SECRET.findall(secrets[0])
