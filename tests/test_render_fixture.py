"""The suite's render (tests/conftest.py: render_fresh) writes what Copier itself writes.

render_fresh shares Jinja's compiled templates between renders and skips Copier's per-file git
index call; every tier renders through it, so it must not change a byte or a file mode.
"""

import re
from pathlib import Path

import copier
import pytest

from conftest import render_fresh
from support.matrix import all_combinations
from support.project_tree import tree

COMBINATIONS = all_combinations()
# A generated secret: 64 hex digits after `=` in .env, random in every render.
SECRET = re.compile(rb"=[0-9a-f]{64}$", re.M)


def modes(root: Path, names: list[str]) -> dict[str, int]:
    return {name: (root / name).stat().st_mode for name in names}


@pytest.mark.parametrize("combo", [COMBINATIONS[0], COMBINATIONS[-1]], ids=lambda combo: combo.id)
def test_the_suites_render_writes_what_copier_writes(combo, template_src, tmp_path) -> None:
    answers = combo.answers()
    render_fresh(template_src, answers, tmp_path / "warm")  # fills the compile cache
    ours_root = render_fresh(template_src, answers, tmp_path / "ours")
    theirs_root = tmp_path / "copier"
    copier.run_copy(
        str(template_src),
        str(theirs_root),
        data=answers,
        defaults=True,
        quiet=True,
        unsafe=False,
        skip_tasks=True,
    )
    ours, theirs = tree(ours_root), tree(theirs_root)
    assert ours.keys() == theirs.keys()
    assert modes(ours_root, list(ours)) == modes(theirs_root, list(theirs))
    secrets = ours.pop(".env"), theirs.pop(".env")
    assert ours == theirs
    # The secrets are rendered, not compiled: each render still draws its own.
    assert SECRET.sub(b"=", secrets[0]) == SECRET.sub(b"=", secrets[1])
    assert set(SECRET.findall(secrets[0])).isdisjoint(SECRET.findall(secrets[1]))
    assert SECRET.findall(secrets[0])
