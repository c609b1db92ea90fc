"""The Dockerfile's build steps that need no Docker engine, run as the build would run them."""

import json
import shlex
import subprocess

import pytest

from dockerfile import stages
from matrix import Combination
from project_env import project_requirements, venv_with

# Each broker once; with and without a Redis result backend (which adds a required variable).
COMBINATIONS = [
    Combination("redis", "redis", "django-db", "priority"),
    Combination("rabbitmq", "django-db", "static", "single"),
    Combination("sqs", "none", "django-db", "workload"),
]


@pytest.mark.parametrize("combo", [pytest.param(c, id=c.runtime_id) for c in COMBINATIONS])
def test_collectstatic_step_runs_with_only_the_variables_it_sets(combo, render, tmp_path) -> None:
    answers = combo.answers()
    project = render(answers, tmp_path / "project")
    venv = venv_with(project_requirements(project), answers["python_version"])
    (step,) = [
        i.arguments
        for i in stages(project / "Dockerfile")["build"]
        if i.keyword == "RUN" and "collectstatic" in i.arguments
    ]
    words = shlex.split(step)
    assignments = [w for w in words if "=" in w and w.split("=")[0].isupper()]
    command = words[len(assignments) :]
    assert command[0] == "/app/.venv/bin/python", command
    # Nothing from this machine's environment: only what the step itself sets.
    env = dict(a.split("=", 1) for a in assignments) | {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [str(venv / "bin" / "python"), *command[1:]],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"{step}\n{result.stdout}{result.stderr}"
    # WhiteNoise's manifest: hashed names for the admin's files, served by gunicorn.
    manifest = json.loads((project / "staticfiles" / "staticfiles.json").read_text())
    assert "admin/css/base.css" in manifest["paths"]
