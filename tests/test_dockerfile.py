"""The image build, run step by step without an engine, from the context an engine would send.

For one project per broker: the build context is computed from .dockerignore by the Docker SDK's
own matcher, copied to a folder that stands for /app, and the Dockerfile's instructions run in
order on the image's Python version: the COPY of pyproject.toml and uv.lock, `uv sync --locked`
from the lock the copy task wrote, the COPY of the code, collectstatic with only the variables its
step sets; then each Procfile process's command must import in that environment. Where a
container engine answers, the README's own build command builds the real image as well.
"""

import hashlib
import json
import os
import shlex
import shutil
import subprocess
from itertools import takewhile
from pathlib import Path

import pytest
from docker.utils.build import exclude_paths

from support import readme_blocks
from support.boot.processes import procfile as read_procfile
from support.compose import SECRET_NAME
from support.dockerfile import Instruction, stages
from support.locking import run_lock_hook
from support.matrix import Combination
from support.project_env import find_python
from support.releases import git

# Each broker once; with and without a Redis result backend (which adds a required variable);
# both deploy targets, so that the Kubernetes overlay's secrets file exists too.
COMBINATIONS = [
    Combination("redis", "redis", "django-db", "priority", "both"),
    Combination("rabbitmq", "django-db", "static", "single", "both"),
    Combination("sqs", "none", "django-db", "workload", "both"),
]
# What a team's checkout holds besides the generated files, none of which may reach an image:
# secrets (.env was generated at copy), a local environment, git's history.
LOCAL_FILES = {
    ".env.production": "DJANGO_SECRET_KEY=a-production-secret\n",
    ".env.local": "DJANGO_SECRET_KEY=a-local-secret\n",
    "kubernetes/overlays/production/secrets.env": "DJANGO_SECRET_KEY=a-cluster-secret\n",
    # A second overlay a team adds beside the generated one.
    "kubernetes/overlays/staging/secrets.env": "DJANGO_SECRET_KEY=a-staging-secret\n",
    ".venv/pyvenv.cfg": "home = /usr/bin\n",
}
SECRET_FILES = {name for name in LOCAL_FILES if "secret" in LOCAL_FILES[name].lower()} | {".env"}
APP = "/app"
# The image holds no secret: the runtime environment brings them (the build step's are random and
# thrown away). The production settings and Flower refuse placeholders, so these are real-length.
RUNTIME_SECRETS = {
    "DJANGO_SECRET_KEY": hashlib.sha256(b"runtime-key").hexdigest(),
    "PAYMENTS_WEBHOOK_SECRET": hashlib.sha256(b"runtime-webhook").hexdigest(),
    "FLOWER_BASIC_AUTH": "admin:" + hashlib.sha256(b"runtime-flower").hexdigest(),
}
# Imports the Celery app as `celery -A APP` finds it, with every task module, and lists its tasks.
LOAD_CELERY_APP = (
    "import json; from celery.app.utils import find_app; app = find_app({app!r});"
    " app.loader.import_default_modules(); print(json.dumps(sorted(app.tasks)))"
)


def build_context(project: Path) -> set[str]:
    """The files `docker build` sends: .dockerignore applied by the Docker SDK's matcher."""
    lines = (project / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return {p for p in exclude_paths(str(project), patterns) if (project / p).is_file()}


def assignments(words: list[str]) -> dict[str, str]:
    """The leading NAME=value words of a RUN or ENV instruction."""
    leading = takewhile(lambda w: "=" in w and w.split("=")[0].isupper(), words)
    return dict(w.split("=", 1) for w in leading)


def on_disk(value: str, app: Path) -> str:
    return value.replace(APP, str(app))


class Build:
    """The build stage's instructions, run in order in `app` (the image's /app)."""

    def __init__(self, project: Path, context: set[str], app: Path, python_version: str):
        self.project, self.context, self.app = project, context, app
        self.python = find_python(python_version)
        self.env: dict[str, str] = {}
        self.collectstatic_env: dict[str, str] = {}

    def run(self, instruction: Instruction) -> None:
        steps = {
            "FROM": self.base_image,
            "COPY": self.copy,
            "ENV": self.set_env,
            "WORKDIR": self.workdir,
            "RUN": self.run_step,
        }
        assert instruction.keyword in steps, f"no stand-in for {instruction.keyword} here"
        if instruction.keyword == "RUN":
            self.run_step(instruction.arguments)
        else:
            steps[instruction.keyword](shlex.split(instruction.arguments))

    def base_image(self, words: list[str]) -> None:
        assert words[0].startswith("python:"), words  # the image's Python: self.python

    def copy(self, words: list[str]) -> None:
        if words[0].startswith("--from="):
            # uv's own image: this machine's uv stands for it.
            assert words[-1] == "/usr/local/bin/uv", words
            return
        *sources, _ = words
        names = sorted(self.context) if sources == ["."] else sources
        for name in names:
            assert name in self.context, f"COPY {name}: not in the build context"
            target = self.app / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.project / name, target)

    def set_env(self, words: list[str]) -> None:
        self.env |= {k: on_disk(v, self.app) for k, v in assignments(words).items()}

    def workdir(self, words: list[str]) -> None:
        assert words == [APP], words

    def run_step(self, arguments: str) -> None:
        words = [w for w in shlex.split(arguments) if not w.startswith("--mount=")]
        if words[0] == "uv":
            # The image's environment, its only Python, the machine's uv cache (a cache mount).
            env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
            env |= self.env | {"UV_PYTHON": self.python}
            command = [shutil.which("uv"), *words[1:]]
        else:
            # A shell, as Docker runs a RUN line, with nothing from this machine's environment:
            # only what the step itself sets.
            env = {"PATH": "/usr/bin:/bin"}
            command = ["sh", "-c", on_disk(arguments, self.app)]
            if "collectstatic" in words:
                self.collectstatic_env = assignments(words)
        result = subprocess.run(command, cwd=self.app, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"RUN {arguments}\n{result.stdout}{result.stderr}"


def import_checks(command: str) -> list[list[str]]:
    """Commands that import what a Procfile line runs, derived from the line itself."""
    program, *args = shlex.split(command)
    if program == "gunicorn":
        # Its settings module (--config python:MODULE), then the WSGI application (MODULE:NAME).
        values = {args[i + 1] for i, a in enumerate(args[:-1]) if a.startswith("-")}
        settings = [a.removeprefix("python:") for a in values if a.startswith("python:")]
        module, attribute = next(a for a in args if ":" in a and a not in values).split(":")
        checks = [["python", "-c", f"import {m}"] for m in settings]
        return [
            *checks,
            ["python", "-c", f"import {module}; assert callable({module}.{attribute})"],
        ]
    if program == "celery":
        app, subcommand = args[args.index("-A") + 1 : args.index("-A") + 3]
        # Celery's command line loads the app, then finds the subcommand (flower's is a plugin).
        checks = [["celery", "-A", app, subcommand, "--help"]]
        checks.append(["python", "-c", LOAD_CELERY_APP.format(app=app)])
        for conf in (a.split("=", 1)[1] for a in args if a.startswith("--conf=")):
            checks.append(["python", "-c", f"import runpy; runpy.run_path({conf!r})"])
        return checks
    if program == "python":
        # The script and its subcommand (manage.py migrate), asked for its help.
        return [["python", *takewhile(lambda a: not a.startswith("-"), args), "--help"]]
    raise AssertionError(f"no import check for the program {program!r} of {command!r}")


def container_engine() -> str | None:
    """docker or podman, where one is installed and its engine answers."""
    for name in ("docker", "podman"):
        binary = shutil.which(name)
        if binary and subprocess.run([binary, "info"], capture_output=True).returncode == 0:
            return binary
    return None


@pytest.mark.parametrize("combo", [pytest.param(c, id=c.label) for c in COMBINATIONS])
def test_image_builds_from_its_context_and_runs_every_process(combo, render, tmp_path) -> None:
    answers = combo.answers()
    project = render(answers, tmp_path / "project")
    hook = run_lock_hook(project)  # what `copier copy --trust` runs
    assert hook.returncode == 0 and (project / "uv.lock").is_file(), hook.stderr
    for name, text in LOCAL_FILES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    git("init", "--quiet", cwd=project)

    context = build_context(project)
    assert not context & SECRET_FILES, sorted(context & SECRET_FILES)
    assert not [n for n in context if n.split("/")[0] in (".git", ".venv")]
    assert {"pyproject.toml", "uv.lock", ".env.example", "manage.py"} <= context

    app = tmp_path / "app"
    app.mkdir()
    dockerfile = stages(project / "Dockerfile")
    build = Build(project, context, app, answers["python_version"])
    for instruction in dockerfile["build"]:
        build.run(instruction)
    # WhiteNoise's manifest: hashed names for the admin's files, served by gunicorn.
    manifest = json.loads((app / "staticfiles" / "staticfiles.json").read_text())
    assert "admin/css/base.css" in manifest["paths"]
    # Only the locked runtime dependencies: no dev tools in the image.
    assert (app / ".venv" / "bin" / "gunicorn").exists() and not (app / ".venv/bin/ruff").exists()

    # The runtime stage takes /app whole; its ENV sets PATH and the settings module.
    runtime = dockerfile["runtime"]
    assert [i.arguments for i in runtime if i.keyword == "COPY"] == [f"--from=build {APP} {APP}"]
    image_env = {}
    for instruction in (i for i in runtime if i.keyword == "ENV"):
        image_env |= assignments(shlex.split(instruction.arguments))
    # The build step's secrets are random, generated in the step: no literal secret in the image.
    generated = {k: v for k, v in build.collectstatic_env.items() if SECRET_NAME.search(k)}
    assert generated and all(v.startswith("$(") for v in generated.values()), generated
    # Its other values stand for the runtime environment (.env is not in the image).
    env = build.collectstatic_env | RUNTIME_SECRETS
    env |= {k: on_disk(v, app).replace("$PATH", "/usr/bin:/bin") for k, v in image_env.items()}
    procfile = read_procfile(app)
    assert procfile and procfile.keys() >= {"release", "web"}
    for name, command in procfile.items():
        for check in import_checks(command):
            program = shutil.which(check[0], path=env["PATH"])
            assert program and Path(program).parent == app / ".venv" / "bin", (name, check)
            result = subprocess.run(
                [program, *check[1:]], cwd=app, env=env, capture_output=True, text=True
            )
            assert result.returncode == 0, f"{name}: {shlex.join(check)}\n{result.stderr}"
            if "find_app" in check[-1]:
                assert any(t.endswith(".core.tasks.ping") for t in json.loads(result.stdout))

    # The README's build commands: `uv lock` leaves the copy's lock as it is; where an engine
    # answers, `docker build` builds the real image from the project's folder.
    lock = (project / "uv.lock").read_bytes()
    engine = container_engine()
    for line in readme_blocks.tested_block(project / "README.md", "container-image"):
        words = shlex.split(line, comments=True)
        if words[0] == "docker":
            if engine is None:
                continue
            words[0] = engine
        result = subprocess.run(words, cwd=project, capture_output=True, text=True)
        assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
    assert (project / "uv.lock").read_bytes() == lock
