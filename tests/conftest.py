"""Fixtures shared by the template's tests: the template as released, and rendering from it."""

import functools
import os
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import copier
import copier._main as copier_main
import jinja2
import pytest

from support.project_env import project_requirements
from support.releases import GIT_IDENTITY, tagged_clone, working_tree_copy

# Copier commits in its own temporary repositories during an update: give git an identity where
# the machine has none.
for _name, _value in GIT_IDENTITY.items():
    os.environ.setdefault(_name, _value)

Render = Callable[..., Path]


@pytest.fixture(scope="session")
def template_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree as it would be released: tracked and new files, without .git.

    Rendering from a plain folder tests uncommitted work too, and spares Copier a clone per render.
    """
    return working_tree_copy(tmp_path_factory.mktemp("template-src"))


@pytest.fixture(scope="session")
def template_repo(template_src: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository tagged with every release, the working tree as the newest."""
    return tagged_clone(tmp_path_factory.mktemp("template-git") / "repo", template_src)


@pytest.fixture(scope="session")
def render(template_src: Path) -> Render:
    """Render the template with `answers` (defaults for the rest) into `dest`; return `dest`.

    Without the copy task that locks the dependencies: the matrix renders 560 projects with 81
    dependency sets, which tests/test_lock.py locks once each.
    """
    return functools.partial(render_fresh, template_src)


def render_fresh(template_src: Path, answers: dict, dest: Path) -> Path:
    """One render into a new folder, sharing Jinja's compiled templates with earlier renders.

    Copier builds a Jinja environment per render and compiles about 800 strings and files in it
    (paths, questions, file contents): over half of a render's time. The same source compiles to
    the same code in environments configured alike, so each is compiled once per process. Copier
    also asks git, once per file, whether the destination's index needs an executable bit; a new
    folder has no git index, so that call is skipped (Copier's own answer there is "nothing to do").
    """
    with (
        mock.patch.object(jinja2.Environment, "compile", _compile_once),
        mock.patch.object(copier_main.Worker, "_sync_git_index_executable_bit", _no_index),
    ):
        copier.run_copy(
            str(template_src),
            str(dest),
            data=answers,
            defaults=True,
            quiet=True,
            unsafe=False,
            skip_tasks=True,
        )
    return dest


_COMPILE = jinja2.Environment.compile
_compiled: dict[tuple, object] = {}


def _compile_once(self, source, name=None, filename=None, raw=False, defer_init=False):
    if not isinstance(source, str):  # an already parsed template
        return _COMPILE(self, source, name, filename, raw, defer_init)
    config = (
        type(self),
        self.block_start_string,
        self.block_end_string,
        self.variable_start_string,
        self.variable_end_string,
        self.comment_start_string,
        self.comment_end_string,
        self.line_statement_prefix,
        self.line_comment_prefix,
        self.trim_blocks,
        self.lstrip_blocks,
        self.newline_sequence,
        self.keep_trailing_newline,
        tuple(sorted(self.extensions)),
        self.optimized,
        self.autoescape,
        self.is_async,
        self.undefined,
    )
    key = (config, source, name, filename, raw, defer_init)
    if key not in _compiled:
        _compiled[key] = _COMPILE(self, source, name, filename, raw, defer_init)
    else:
        # Extensions' preprocess hooks run on every compile, and some keep state (Copier's yield
        # tag resets its context there): run them as compiling would.
        self.preprocess(source, name, filename)
    return _compiled[key]


def _no_index(self, dst_relpath: Path, src_mode: int) -> None:
    assert not (self.subproject.local_abspath / ".git").exists(), "render_fresh renders anew"


# Answers whose dependencies, together, cover every choice: the shared check environments.
SUPERSET_ANSWERS = [
    {
        "broker": "sqs",
        "result_backend": "redis",
        "beat_scheduler": "redbeat",
        "use_flower": False,  # refused with SQS
        "error_tracking": "sentry",
        "tracing": "opentelemetry",
    },
    # RabbitMQ needs nothing Celery lacks; a Redis broker's workload topology needs gevent.
    {
        "broker": "redis",
        "result_backend": "django-db",
        "beat_scheduler": "django-db",
        "queue_topology": "workload",
        "use_flower": True,
    },
]


@pytest.fixture(scope="session")
def shared_requirements(render, tmp_path_factory) -> dict[str, list[str]]:
    """Per Django version, the union of the dependencies of every combination."""
    union = {}
    for django_version in ("5.2", "6.0"):
        lines = set()
        for answers in SUPERSET_ANSWERS:
            dest = tmp_path_factory.mktemp("superset")
            project = render({**answers, "django_version": django_version}, dest / "p")
            lines |= set(project_requirements(project))
        union[django_version] = sorted(lines)
    return union


# --- the order the tests run in ------------------------------------------------------------------

# The boot tier's tests that run for minutes, mostly waiting (a worker killed mid-run, an
# outage, the runbooks on one project, the README's whole day-one path): they start first, so
# that none is still running alone at the end, and interleaved with the boots, so that the CPU
# work of the one fills the waits of the other.
LONG_BOOT_MODULES = (
    "test_bench.py",
    "test_delivery.py",
    "test_outages.py",
    "test_runbooks.py",
    "test_user_path.py",
)


def _rank(item: pytest.Item) -> int:
    if item.get_closest_marker("boot"):
        return 0 if item.path.name in LONG_BOOT_MODULES else 1
    # The render matrix's 560 short tests come last: they fill the cores while the rest finish.
    return 3 if item.get_closest_marker("matrix") else 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long boot tests first, each beside a boot; then the boots; the rest; the matrix last.

    pytest-xdist keeps this order with `--no-loadscope-reorder` (see noxfile.py).
    """
    ranked = {rank: [item for item in items if _rank(item) == rank] for rank in range(4)}
    long, boots = ranked[0], ranked[1]
    interleaved = [item for pair in zip(long, boots, strict=False) for item in pair]
    paired = min(len(long), len(boots))
    interleaved += long[paired:] + boots[paired:]
    items[:] = interleaved + ranked[2] + ranked[3]
