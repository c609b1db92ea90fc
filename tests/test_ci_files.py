"""The generated CI and pre-commit files are valid for the tools that read them.

GitHub Actions and GitLab CI files are validated offline against the schemas check-jsonschema
vendors; the pre-commit config by pre-commit itself. One project per broker and result backend
family covers every variation these files have.
"""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from support.brokers import BROKERS
from support.ci_files import CI_FILES, TEMPLATE_UPDATE_WORKFLOW, template_update_job
from support.releases import REPO

VARIANTS = [
    {"broker": "redis", "result_backend": "redis", "python_version": "3.12"},
    {"broker": "rabbitmq", "result_backend": "rpc", "beat_scheduler": "static"},
    {"broker": "rabbitmq", "result_backend": "redis", "beat_scheduler": "redbeat"},
    {"broker": "sqs", "result_backend": "none", "django_version": "6.0"},
]
SCHEMAS = {"github": "vendor.github-workflows", "gitlab": "vendor.gitlab-ci"}


@pytest.fixture(scope="module")
def rendered(render, tmp_path_factory) -> dict[str, list[Path]]:
    projects: dict[str, list[Path]] = {"github": [], "gitlab": []}
    for ci in projects:
        for number, answers in enumerate(VARIANTS):
            dest = tmp_path_factory.mktemp(f"{ci}-{number}") / "project"
            projects[ci].append(render({**answers, "ci": ci}, dest))
    return projects


def tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.mark.parametrize("ci", CI_FILES)
def test_ci_file_matches_its_schema(rendered, ci) -> None:
    files = [str(project / CI_FILES[ci]) for project in rendered[ci]]
    if ci == "github":
        files += [str(project / TEMPLATE_UPDATE_WORKFLOW) for project in rendered[ci]]
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", SCHEMAS[ci], *files],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("ci", CI_FILES)
def test_ci_syncs_the_lock_and_runs_lint_types_migrations_and_tests(rendered, ci) -> None:
    for project in rendered[ci]:
        text = (project / CI_FILES[ci]).read_text()
        for step in (
            "ruff check",
            "ruff format --check",
            "mypy",
            "makemigrations --check",
            "pytest",
        ):
            assert f"uv run {step}" in text or f"uv run python manage.py {step}" in text, step
        # Installs exactly uv.lock: a missing or stale lock fails CI, as it fails the image build.
        syncs = re.findall(r"uv sync\b[^\n#]*", text)
        assert syncs and all(s.split()[2:] == ["--locked"] for s in syncs), syncs
        config = yaml.safe_load(text)
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        # The broker's server, and Redis where it keeps the results.
        expected = {BROKERS[answers["broker"]].ci_service}
        if answers["result_backend"] == "redis":
            expected.add(BROKERS["redis"].ci_service)
        services = str(config)
        for service in {broker.ci_service for broker in BROKERS.values()}:
            assert (service in services) == (service in expected), (ci, service)


@pytest.mark.parametrize("ci", CI_FILES)
def test_ci_tests_against_the_server_images_compose_runs(rendered, ci) -> None:
    """The CI services are the PostgreSQL, Redis and RabbitMQ that Compose runs, same tags."""
    for project in rendered[ci]:
        compose = yaml.safe_load((project / "compose.yaml").read_text())["services"]
        servers = {"postgres", "redis", "rabbitmq"}
        expected = sorted(service["image"] for name, service in compose.items() if name in servers)
        config = yaml.safe_load((project / CI_FILES[ci]).read_text())
        if ci == "github":
            declared = config["jobs"]["test"]["services"].values()
            images = sorted(service["image"] for service in declared)
        else:
            images = sorted(service["name"] for service in config["test"]["services"])
        assert images == expected, project


def test_pre_commit_config_is_valid_and_refuses_rej_files(rendered) -> None:
    project = rendered["github"][0]
    config = project / ".pre-commit-config.yaml"
    result = subprocess.run(
        [tool("pre-commit"), "validate-config", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    hooks = {
        h["id"]: h for repo in yaml.safe_load(config.read_text())["repos"] for h in repo["hooks"]
    }
    assert {"check-merge-conflict", "ruff-check", "ruff-format", "django-upgrade"} <= hooks.keys()
    refuse = hooks["no-rej-files"]
    assert refuse["language"] == "fail" and re.search(refuse["files"], "app/models.py.rej")
    assert not re.search(refuse["files"], "app/models.py")


def test_template_update_job_is_scheduled_and_runs_the_pinned_copier(rendered) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    copier_pin = next(r for r in pyproject["dependency-groups"]["test"] if r.startswith("copier=="))
    for ci in CI_FILES:
        for project in rendered[ci]:
            lines, _ = template_update_job(project)
            assert lines[-1] == f"python3 scripts/template_update.py --push --open {ci}", lines
            # The copier the suite runs the job with (tests/test_template_update_job.py).
            script = (project / "scripts" / "template_update.py").read_text()
            assert f'"uvx --from {copier_pin} copier"' in script
    github = yaml.safe_load((rendered["github"][0] / TEMPLATE_UPDATE_WORKFLOW).read_text())
    # PyYAML reads the bare key `on` as True.
    assert github[True]["schedule"] and "workflow_dispatch" in github[True]
    assert github["permissions"] == {"contents": "write", "pull-requests": "write"}
    checkout = github["jobs"]["template-update"]["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0, "copier update needs the project's history"
    gitlab = yaml.safe_load((rendered["gitlab"][0] / CI_FILES["gitlab"]).read_text())
    job = gitlab["template-update"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert "slim" not in job["image"], "copier needs git"
    assert job["variables"]["GIT_DEPTH"] == "0", "copier update needs the project's history"
