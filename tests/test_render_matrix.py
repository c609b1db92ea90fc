"""Every valid combination renders into a project that is clean, checked and holds the doctrine.

The checks are in sound_project.py. Combinations that differ only in deploy targets run on the
same xdist worker (`--dist loadgroup`) to share their Django and ruff checks.
"""

from pathlib import Path

import pytest

from matrix import Combination, all_combinations
from sound_project import assert_sound_project, checked_files_digest

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


def test_deploy_targets_change_no_checked_file(render, tmp_path: Path) -> None:
    """The four deploy variants of a combination share one set of Django and ruff checks (the
    matrix runs them once per checked-files digest): no *.py or pyproject.toml may differ."""
    combinations = all_combinations()
    variants = [c for c in combinations if c.runtime_id == combinations[-1].runtime_id]
    assert len(variants) == 4
    digests = {
        checked_files_digest(render(combo.answers(), tmp_path / combo.deploy), "3.12")
        for combo in variants
    }
    assert len(digests) == 1
