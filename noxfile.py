"""Sessions for working on the template: `nox -s tests` is what CI runs."""

import os

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "tests"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
# The suite's environment for its tests: uv never downloads an interpreter, and the session's own
# environment, which nox names to uv (UV_PYTHON, UV_PROJECT_ENVIRONMENT), never leaks into the
# rendered projects' uv commands (`uv lock`, `uv run`), which pick their own Python and .venv.
# Bytecode is written as on a user's machine: where PYTHONDONTWRITEBYTECODE is set, every Python
# process the suite starts (copier, mkdocs, a project's `uv run`) compiles each module it imports.
TEST_ENV = {
    "UV_PYTHON_DOWNLOADS": "never",
    "UV_PYTHON": None,
    "UV_PROJECT_ENVIRONMENT": None,
    "PYTHONDONTWRITEBYTECODE": None,
}
TEST_REQUIREMENTS = nox.project.dependency_groups(PYPROJECT, "test")
DOCS_REQUIREMENTS = nox.project.dependency_groups(PYPROJECT, "docs")


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite, both tiers in one pytest-xdist session (pytest args after --)."""
    session.install(*TEST_REQUIREMENTS)
    # One session rather than the render tier, then the boot tier: while a boot waits on its
    # processes, the render tier's CPU work runs on the same cores, and the order that
    # tests/conftest.py gives the tests (longest first, the matrix's short ones last) is kept.
    # --durations: the slowest tests' times in the log, where the next cut of the suite starts.
    args = session.posargs or [*_workers(), "--no-loadscope-reorder", "--durations=60"]
    session.run("pytest", *args, env=TEST_ENV | {"CDC_BOOT": "full"})


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark beside bare Celery, never a test: nox -s bench [-- --quick --brokers redis]."""
    session.install(*TEST_REQUIREMENTS)  # the `bench` group is part of `test`
    session.run("python", "tests/bench/run.py", *session.posargs, env=TEST_ENV)


@nox.session
def lint(session: nox.Session) -> None:
    """Lint and format-check the template's own Python (tests, noxfile, hooks)."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def render(session: nox.Session) -> None:
    """Render this checkout with the default answers: nox -s render -- DEST [copier args]."""
    session.install(*(r for r in TEST_REQUIREMENTS if r.startswith("copier")))
    dest, *extra = session.posargs or ["../my_project"]
    # --trust: the copy task locks the project's dependencies (uv.lock). An absolute source, so
    # that `copier update` in the project finds this checkout again.
    copy = ["copier", "copy", "--defaults", "--trust", "--vcs-ref", "HEAD"]
    session.run(*copy, *extra, os.getcwd(), dest)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs site, failing on any warning: nox -s docs [-- DEST] (default site/)."""
    session.install(*DOCS_REQUIREMENTS)
    dest = session.posargs[0] if session.posargs else "site"
    session.run("mkdocs", "build", "--strict", "--site-dir", dest)


@nox.session(name="docs-serve")
def docs_serve(session: nox.Session) -> None:
    """Serve the docs site on loopback, rebuilt on each change: nox -s docs-serve [-- HOST:PORT]."""
    session.install(*DOCS_REQUIREMENTS)
    address = session.posargs[0] if session.posargs else "127.0.0.1:8000"
    session.run("mkdocs", "serve", "--strict", "--dev-addr", address)


@nox.session(name="boot-quick")
def boot_quick(session: nox.Session) -> None:
    """Boot the pairwise subset of combinations (18) and run the delivery tests."""
    _boot(session, "quick")


@nox.session(name="boot-full")
def boot_full(session: nox.Session) -> None:
    """Boot every runtime combination (140) and run the delivery tests."""
    _boot(session, "full")


def _boot(session: nox.Session, mode: str) -> None:
    session.install(*TEST_REQUIREMENTS)
    args = session.posargs or _workers()
    session.run("pytest", "tests/boot", *args, env=TEST_ENV | {"CDC_BOOT": mode})


def _workers() -> list[str]:
    # A boot mostly waits: three at a time per core keeps the CPU busy (measured on 2 cores), and
    # eight at most keep PostgreSQL's connections well under its default limit of 100. Tests of
    # one xdist_group (the runbooks' one project, a combination's deploy variants) share a worker.
    return ["-n", str(min(8, 3 * (os.cpu_count() or 1))), "--dist", "loadgroup"]
