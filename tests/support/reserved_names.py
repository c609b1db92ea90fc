"""The names a project_slug or a queue may not take, derived from the interpreters and the installed
dependencies; copier.yml's validators read them from template/_partials/reserved_names.yml.

    python tests/support/reserved_names.py   # rewrites template/_partials/reserved_names.yml

A slug is imported as a top-level package next to everything else on the path, so it may not be
the name of a standard-library module (on every Python the project can target), of a top-level
module of any distribution a generated project can install (the union of the environments of
every combination: tests/conftest.py's superset answers), a Python keyword, or a top-level name
of the project itself. A queue on Redis is a Redis key beside kombu's own keys: it may not be one.
tests/test_reserved_names.py derives the file again and fails when it is stale.
"""

import sys
from pathlib import Path

if not __package__:  # run as a script: import the rest of tests/support as its package
    sys.path[0] = str(Path(__file__).resolve().parents[1])
    __package__ = "support"

import json
import keyword
import re
import subprocess
import tempfile
from collections.abc import Iterable

import copier
import yaml

from .project_env import find_python, project_requirements, venv_with
from .releases import REPO

DATA = REPO / "template" / "_partials" / "reserved_names.yml"
PYTHONS = ("3.12", "3.13")
DJANGO_VERSIONS = ("5.2", "6.0")
# Only names a slug could take are listed (the validator refuses every other shape anyway).
SLUG_SHAPE = re.compile(r"[a-z][a-z0-9_]*\Z")
# kombu's Redis channel keeps its unacknowledged messages in keys named by these attributes, in
# the same database as the queues (kombu/transport/redis.py: Channel).
KOMBU_REDIS_KEYS = ("unacked_key", "unacked_index_key", "unacked_mutex_key")
# Folders a generated project has at its top level that Python or Django could import as a
# package: names the layout reserves beyond the template's own files.
PROJECT_FOLDERS = ("docs", "static", "templates", "site")
# CPython's own test package: installed with most Pythons, yet left out of stdlib_module_names.
UNLISTED_STDLIB = ("test",)

# Run by each environment's Python: the top-level import names of every installed distribution,
# from top_level.txt or else the first part of each path in RECORD, and kombu's Redis key names.
_INSTALLED = r"""
import importlib.metadata as md, json
names = set()
for dist in md.distributions():
    listed = dist.read_text("top_level.txt")
    if listed:
        names.update(line.strip() for line in listed.splitlines())
    for path in dist.files or ():
        first = path.parts[0]
        if first in ("..", "__pycache__") or first.endswith((".dist-info", ".data", ".pth")):
            continue
        names.add(first.split(".")[0])
from kombu.transport.redis import Channel
print(json.dumps({"modules": sorted(n for n in names if n),
                  "redis_keys": sorted(getattr(Channel, a) for a in %r)}))
"""


def stdlib_modules(python_version: str) -> set[str]:
    """sys.stdlib_module_names of that Python (3.10+), asked of the interpreter itself."""
    code = "import json, sys; print(json.dumps(sorted(sys.stdlib_module_names)))"
    out = subprocess.run(
        [find_python(python_version), "-c", code], check=True, capture_output=True, text=True
    )
    return set(json.loads(out.stdout))


def installed(venv: Path) -> dict[str, list[str]]:
    out = subprocess.run(
        [venv / "bin" / "python", "-c", _INSTALLED % (KOMBU_REDIS_KEYS,)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def project_names() -> set[str]:
    """The template's own top-level modules and packages, and the project's app packages (a
    Django app label is its package's last name, which must stay unique)."""
    template = REPO / "template"
    names = {
        _unconditional(p.name).removesuffix(".jinja").removesuffix(".py")
        for p in template.iterdir()
    }
    names |= {
        _unconditional(p.name) for p in (template / "{{project_slug}}").iterdir() if p.is_dir()
    }
    return names | set(PROJECT_FOLDERS)


def _unconditional(name: str) -> str:
    """A file name as rendered where its condition holds: `{% if x %}users{% endif %}`, users."""
    return re.sub(r"\{%.*?%\}", "", name)


def derive(requirements: dict[str, list[str]]) -> dict[str, list[str]]:
    """The data file's content; `requirements` maps a Django version to the superset's pins."""
    modules: set[str] = set()
    redis_keys: set[str] = set()
    for python_version in PYTHONS:
        modules |= stdlib_modules(python_version)
        for django_version in DJANGO_VERSIONS:
            found = installed(venv_with(requirements[django_version], python_version))
            modules |= set(found["modules"])
            redis_keys |= set(found["redis_keys"])
    modules |= set(keyword.kwlist) | set(UNLISTED_STDLIB) | project_names()
    return {
        "slugs": sorted(_slug_shaped(name.lower() for name in modules)),
        "queues": sorted(redis_keys),
    }


def _slug_shaped(names: Iterable[str]) -> set[str]:
    return {name for name in names if SLUG_SHAPE.match(name)}


HEADER = """\
# Generated by `python tests/support/reserved_names.py`: do not edit
# (tests/test_reserved_names.py fails when it is stale). Read by copier.yml's validators.
# slugs: standard-library modules of Python {pythons}, top-level modules of every distribution a
#   generated project can install, Python keywords, and the project's own top-level names.
# queues: kombu's own Redis keys, which share the database with the queues.
"""


def render_file(content: dict[str, list[str]]) -> str:
    body = yaml.safe_dump(content, default_flow_style=None, width=100, sort_keys=False)
    return HEADER.format(pythons=" and ".join(PYTHONS)) + body


def superset_requirements(render_dir: Path) -> dict[str, list[str]]:
    """What the shared_requirements fixture computes, without pytest: the supersets rendered."""
    from conftest import SUPERSET_ANSWERS

    union = {}
    for django_version in DJANGO_VERSIONS:
        lines: set[str] = set()
        for index, answers in enumerate(SUPERSET_ANSWERS):
            dest = render_dir / f"{django_version}-{index}"
            copier.run_copy(
                str(REPO),
                str(dest),
                data={**answers, "django_version": django_version},
                defaults=True,
                quiet=True,
                skip_tasks=True,
                vcs_ref="HEAD",
            )
            lines |= set(project_requirements(dest))
        union[django_version] = sorted(lines)
    return union


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        content = derive(superset_requirements(Path(tmp)))
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_text(render_file(content))
    print(f"{DATA.relative_to(REPO)}: {len(content['slugs'])} slugs, {content['queues']}")
    sys.exit(0)
