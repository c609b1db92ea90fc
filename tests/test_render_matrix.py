"""Every valid combination renders into a project that is clean, checked and holds the doctrine.

One test per behaviour and combination (ids such as
`test_settings_hold_the_doctrine[broker:redis,backend:redis,beat:django-db,topology:priority,
deploy:compose]`), each over the combination's one render, made by the first of them on a worker.
The checks are in support/sound_project.py. Combinations that differ only in deploy targets run on
the same xdist worker (`--dist loadgroup`) to share their render-independent Django and ruff checks.
"""

from pathlib import Path

import pytest

from support.matrix import Combination, all_combinations
from support.sound_project import BEHAVIOURS, checked_files_digest

pytestmark = pytest.mark.matrix

COMBINATIONS = all_combinations()
_rendered: dict[str, Path] = {}


def combinations(behaviour: str) -> list:
    """The combinations a behaviour applies to, as parameters grouped by runtime combination."""
    applies = BEHAVIOURS[behaviour][1]
    return [
        pytest.param(combo, id=combo.id, marks=pytest.mark.xdist_group(combo.runtime_id))
        for combo in COMBINATIONS
        if applies(combo)
    ]


@pytest.fixture
def project(combo: Combination, render, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The combination rendered once per worker; every behaviour test reads the same files."""
    if combo.id not in _rendered:
        _rendered[combo.id] = render(combo.answers(), tmp_path_factory.mktemp("matrix") / "p")
    return _rendered[combo.id]


def check(behaviour: str, project: Path, combo: Combination, shared: dict) -> None:
    BEHAVIOURS[behaviour][0](project, combo, shared)


@pytest.mark.parametrize("combo", combinations("files"))
def test_renders_its_files_and_answers_only(combo, project, shared_requirements) -> None:
    check("files", project, combo, shared_requirements)


@pytest.mark.parametrize("combo", combinations("processes"))
def test_process_table_follows_the_queue_table(combo, project, shared_requirements) -> None:
    check("processes", project, combo, shared_requirements)


@pytest.mark.parametrize("combo", combinations("dependencies"))
def test_dependencies_are_declared_and_pinned(combo, project, shared_requirements) -> None:
    check("dependencies", project, combo, shared_requirements)


@pytest.mark.parametrize("combo", combinations("settings"))
def test_settings_pass_the_checks_and_hold_the_doctrine(combo, project, shared_requirements):
    check("settings", project, combo, shared_requirements)


@pytest.mark.parametrize("combo", combinations("readme"))
def test_readme_documents_routes_and_operator_commands(combo, project, shared_requirements):
    check("readme", project, combo, shared_requirements)


@pytest.mark.parametrize("combo", combinations("image"))
def test_image_files_build_and_run_the_procfile(combo, project, shared_requirements) -> None:
    check("image", project, combo, shared_requirements)


@pytest.mark.parametrize("combo", combinations("compose"))
def test_compose_files_run_the_procfile(combo, project, shared_requirements) -> None:
    check("compose", project, combo, shared_requirements)


@pytest.mark.parametrize("combo", combinations("kubernetes"))
def test_kubernetes_manifests_run_the_procfile(combo, project, shared_requirements) -> None:
    check("kubernetes", project, combo, shared_requirements)


@pytest.mark.parametrize("combo", combinations("monitoring"))
def test_alerts_and_dashboard_watch_every_queue(combo, project, shared_requirements) -> None:
    check("monitoring", project, combo, shared_requirements)


def test_every_behaviour_has_its_test() -> None:
    source = Path(__file__).read_text()
    untested = [name for name in BEHAVIOURS if f'check("{name}", ' not in source]
    assert not untested, f"behaviours of sound_project.py with no test here: {untested}"


def test_deploy_targets_change_no_checked_file(render, tmp_path: Path) -> None:
    """The four deploy variants of a combination share one set of Django and ruff checks (the
    matrix runs them once per checked-files digest): no *.py or pyproject.toml may differ."""
    variants = [c for c in COMBINATIONS if c.runtime_id == COMBINATIONS[-1].runtime_id]
    assert len(variants) == 4
    digests = {
        checked_files_digest(render(combo.answers(), tmp_path / combo.deploy), "3.12")
        for combo in variants
    }
    assert len(digests) == 1
