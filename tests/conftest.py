"""Fixtures shared by the template's tests: the template as released, and rendering from it."""

import os
from collections.abc import Callable
from pathlib import Path

import copier
import pytest

from project_env import project_requirements
from releases import GIT_IDENTITY, tagged_clone, working_tree_copy

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

    def _render(answers: dict, dest: Path) -> Path:
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

    return _render


# Answers whose dependencies, together, cover every choice: the shared check environments.
SUPERSET_ANSWERS = [
    {"broker": "sqs", "result_backend": "redis", "beat_scheduler": "redbeat", "use_flower": True},
    {"broker": "rabbitmq", "result_backend": "django-db", "beat_scheduler": "django-db"},
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
