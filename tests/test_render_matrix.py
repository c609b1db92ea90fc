"""Every valid combination renders into a project that is clean, checked and holds the doctrine.

The checks are in sound_project.py. Combinations that differ only in deploy targets run on the
same xdist worker (`--dist loadgroup`) to share their Django and ruff checks.
"""

from pathlib import Path

import pytest

from matrix import Combination, all_combinations
from sound_project import assert_sound_project

pytestmark = pytest.mark.matrix


def _params() -> list:
    return [
        pytest.param(combo, id=combo.id, marks=pytest.mark.xdist_group(combo.runtime_id))
        for combo in all_combinations()
    ]


@pytest.mark.parametrize("combo", _params())
def test_combination_renders_a_sound_project(
    combo: Combination, render, shared_requirements, tmp_path: Path
) -> None:
    project = render(combo.answers(), tmp_path / "project")
    assert_sound_project(project, combo, shared_requirements)
