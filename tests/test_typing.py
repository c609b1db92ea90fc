"""The generated project type-checks: mypy with django-stubs, as its own CI runs it.

mypy is slow, so it runs on one project per broker (each with other answers varied), not on the
whole matrix; the matrix shows the code differs between combinations only in settings and routes.
"""

import subprocess

import pytest

from support.project_env import offline_env, project_requirements, venv_with

PROJECTS = {
    "redis": {"broker": "redis", "beat_scheduler": "redbeat", "django_version": "6.0"},
    "rabbitmq": {"broker": "rabbitmq", "result_backend": "rpc", "queue_topology": "workload"},
    "sqs": {"broker": "sqs", "result_backend": "none", "beat_scheduler": "none", "ci": "none"},
}


@pytest.mark.parametrize("answers", PROJECTS.values(), ids=PROJECTS.keys())
def test_generated_project_passes_mypy(render, tmp_path, answers) -> None:
    project = render(answers, tmp_path / "project")
    venv = venv_with(project_requirements(project), "3.13")
    result = subprocess.run(
        [venv / "bin" / "mypy", "--cache-dir", tmp_path / "mypy-cache", "."],
        cwd=project,
        env=offline_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
