"""`copier update` carries a project generated at each earlier release to the one under test.

A temporary clone of this repository is tagged with every release in CHANGELOG.md, and the
working tree is committed on top as the version under work. Each project is generated at an
earlier release, committed, edited as a team would edit it, committed again, and updated.
"""

import importlib.util
from pathlib import Path

import pytest
import yaml

from support.locking import assert_locked
from support.matrix import DEPLOY_TARGETS, PROJECT_NAMES, Combination, flower_refusal, varied
from support.project_tree import assert_no_conflicts, assert_same_tree_as, tree
from support.releases import (
    REPO,
    assert_changelog_is_consistent,
    current_version,
)
from support.sound_project import assert_sound_project
from support.updating import (
    after_update,
    commit_all,
    copy_at,
    earlier_releases,
    release_answers,
    update,
)

pytestmark = pytest.mark.matrix

# Every broker, every Beat scheduler and every deploy answer at least once; the SQS project had
# Flower, which the 0.3.0 migration drops (Flower shows nothing on SQS).
REPRESENTATIVE = [
    Combination("redis", "redis", "redbeat", "priority", "both"),
    Combination("rabbitmq", "rpc", "django-db", "workload", "kubernetes"),
    Combination("sqs", "django-db", "static", "single", "compose", extra={"use_flower": True}),
    Combination("redis", "none", "none", "custom", "none"),
]


def make_user_edits(project: Path, slug: str) -> dict[str, tuple[str, ...]]:
    """A new app, a changed setting, an edited README line; returns path -> texts it must hold."""
    app = project / slug / "invoices"
    app.mkdir()
    (app / "__init__.py").write_text("")
    apps_py = (
        "from django.apps import AppConfig\n\n\n"
        "class InvoicesConfig(AppConfig):\n"
        f'    name = "{slug}.invoices"\n'
    )
    (app / "apps.py").write_text(apps_py)
    settings = project / "config" / "settings" / "base.py"
    text = settings.read_text()
    payments = f'    "{slug}.payments",\n'
    assert payments in text and 'LANGUAGE_CODE = "en-us"' in text
    text = text.replace(payments, payments + f'    "{slug}.invoices",\n')
    settings.write_text(text.replace('LANGUAGE_CODE = "en-us"', 'LANGUAGE_CODE = "en-gb"'))
    readme = project / "README.md"
    lines = readme.read_text().splitlines(keepends=True)
    lines[0] = lines[0].rstrip("\n") + ": the billing team's service\n"
    readme.write_text("".join(lines))
    return {
        f"{slug}/invoices/apps.py": (apps_py,),
        f"{slug}/invoices/__init__.py": ("",),
        "config/settings/base.py": (f'    "{slug}.invoices",\n', 'LANGUAGE_CODE = "en-gb"'),
        "README.md": (lines[0],),
    }


def assert_edits_survive(files: dict[str, bytes], edits: dict[str, tuple[str, ...]]) -> None:
    for name, expected in edits.items():
        text = files[name].decode()
        for piece in expected:
            assert piece in text, f"{name} lost the user's edit {piece!r}"


def generate_and_edit(repo: Path, version: str, answers: dict, slug: str, dest: Path):
    """A project generated at `version` and committed, then edited by its team and committed;
    returns it, the team's edits, and its .env."""
    project = copy_at(repo, version, answers, dest)
    commit_all(project, "generated")
    edits = make_user_edits(project, slug)
    commit_all(project, "the team's edits")
    return project, edits, (project / ".env").read_bytes()


def assert_updated_like_a_fresh_copy(
    project: Path, edits: dict, env: bytes, repo: Path, combo: Combination, shared, dest: Path
) -> None:
    """No conflicts, the edits and .env kept, a fresh lock, a fresh copy's tree (uv.lock
    included), the render-tier checks."""
    assert (project / ".env").read_bytes() == env, "an update must never rewrite .env"
    files = tree(project)
    assert_no_conflicts(files)
    # Re-locked after the diff was applied: it matches the merged pyproject.toml.
    assert_locked(project)
    assert_edits_survive(files, edits)
    fresh = copy_at(repo, current_version(), combo.answers(), dest)
    assert_same_tree_as(files, tree(fresh), set(edits))
    assert_sound_project(project, combo, shared)


def test_changelog_lists_pep440_releases_newest_first() -> None:
    assert_changelog_is_consistent()


def test_each_migration_is_for_a_listed_release_and_its_script_exists() -> None:
    config = yaml.safe_load((REPO / "copier.yml").read_text())
    versions = {current_version(), *earlier_releases()}
    for migration in config["_migrations"]:
        # Without a version: every update (the re-lock, tests/test_lock.py).
        assert "version" not in migration or migration["version"] in versions, migration
        script = migration["command"][1].replace("{{ _copier_conf.src_path }}/", "")
        assert (REPO / script).is_file(), script


@pytest.mark.parametrize("combo", REPRESENTATIVE, ids=lambda c: c.id)
@pytest.mark.parametrize("release", earlier_releases(), ids=lambda r: f"from:{r}")
def test_update_from_an_earlier_release_keeps_user_edits(
    release: str, combo: Combination, template_repo: Path, shared_requirements, tmp_path: Path
) -> None:
    updated = after_update(template_repo, release, combo)
    slug = PROJECT_NAMES[combo.answers()["project_name"]]
    project, edits, env = generate_and_edit(
        template_repo, release, release_answers(template_repo, release, combo), slug, tmp_path / "p"
    )

    update(project)

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == current_version()
    # The 0.2.0 migration moved the answer.
    assert "deploy" not in answers
    assert answers["deploy_targets"] == DEPLOY_TARGETS[combo.deploy]
    # The 0.3.0 migration: Django's user model kept under the existing data; no Flower on SQS.
    assert answers["user_model"] == "django"
    assert answers["use_flower"] is (
        combo.answers()["use_flower"] and not flower_refusal(combo.broker)
    )
    assert_updated_like_a_fresh_copy(
        project, edits, env, template_repo, updated, shared_requirements, tmp_path / "fresh"
    )


def test_changing_answers_through_update_gives_a_fresh_copy(
    template_repo: Path, shared_requirements, tmp_path: Path
) -> None:
    # The same varied answers (Python, Django, name...) on both sides.
    pinned = varied("redis-redis-django_db-priority")
    before = Combination("redis", "redis", "django-db", "priority", "compose", extra=pinned)
    after = Combination("rabbitmq", "redis", "django-db", "priority", "both", extra=pinned)
    slug = PROJECT_NAMES[pinned["project_name"]]
    project, edits, env = generate_and_edit(
        template_repo, current_version(), before.answers(), slug, tmp_path / "p"
    )

    update(
        project,
        vcs_ref=current_version(),  # the same release: only the answers change
        data={"broker": "rabbitmq", "deploy_targets": ["compose", "kubernetes"]},
    )

    # .env keeps its secrets and its URLs: the message after the update says to edit them.
    assert_updated_like_a_fresh_copy(
        project, edits, env, template_repo, after, shared_requirements, tmp_path / "fresh"
    )


def load_migration(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("compose", "[compose]"),
        ("kubernetes", "[kubernetes]"),
        ("both", "[compose, kubernetes]"),
        ("'none'", "[]"),
    ],
)
def test_deploy_migration_rewrites_that_answer_only(old: str, new: str) -> None:
    migrate = load_migration("migrate_0_2_0_deploy_targets").migrate
    text = f"# header\n_commit: 0.1.0\nbroker: redis\ndeploy: {old}\nuse_flower: true\n"
    migrated = migrate(text)
    assert migrated == text.replace(f"deploy: {old}", f"deploy_targets: {new}")
    assert yaml.safe_load(migrated)["deploy_targets"] == yaml.safe_load(new)
    # Run again (or on a newer answers file): nothing to do.
    assert migrate(migrated) == migrated


def test_deploy_migration_refuses_an_unknown_answer() -> None:
    migrate = load_migration("migrate_0_2_0_deploy_targets").migrate
    with pytest.raises(SystemExit, match="deploy_targets: \\[compose\\]"):
        migrate("deploy: helm\n")
