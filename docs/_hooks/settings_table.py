"""MkDocs hook: the setting tables of defaults.md, generated from docs/settings.yml at each build.

Each `<!-- settings: SECTION -->` line of the page becomes the table of that section of the
registry: setting (Django's name and Celery's), value, when (if some entry of the section is
conditional), why, source and the test that holds it, linked to its line in the repository. A
reason is written once, in the registry; the render tier holds the registry to the renders
(tests/support/settings_registry.py).

A marker naming no section, or a section no marker places, fails the build.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from mkdocs.exceptions import PluginError

PAGE = "defaults.md"
REGISTRY = "docs/settings.yml"
MARKER = re.compile(r"^<!-- settings: (?P<section>[\w-]+) -->$", re.M)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    root = Path(config["config_file_path"]).resolve().parent
    return render_markers(markdown, root)


def render_markers(markdown: str, root: Path) -> str:
    """The page with each marker replaced by its section's table."""
    registry = yaml.safe_load((root / REGISTRY).read_text(encoding="utf-8"))
    placed = [m["section"] for m in MARKER.finditer(markdown)]
    unknown = sorted(set(placed) - set(registry))
    missing = [s for s in registry if s not in placed]
    twice = sorted({s for s in placed if placed.count(s) > 1})
    if unknown or missing or twice:
        raise PluginError(
            f"{PAGE}: settings markers for no section {unknown}, sections with no marker "
            f"{missing}, sections placed twice {twice} ({REGISTRY})"
        )
    return MARKER.sub(lambda m: "\n".join(table(registry[m["section"]], root)), markdown)


def table(entries: list[dict], root: Path) -> list[str]:
    conditional = any(entry.get("when") for entry in entries)
    header = ["setting", "value", *(["when"] if conditional else []), "why", "source", "test"]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in entries:
        for row in rows(entry):
            cells = [
                row["setting"],
                row["value"],
                *([when(entry.get("when"))] if conditional else []),
                _oneline(row.get("why", "")),
                sources(row.get("source") or {}),
                test_link(row["test"], root),
            ]
            out.append("| " + " | ".join(cells) + " |")
    return out


def rows(entry: dict) -> list[dict]:
    """One row per entry, or one per option of a dict setting."""
    names = entry["name"] if isinstance(entry["name"], list) else [entry["name"]]
    celery = entry.get("celery") or []
    celery = celery if isinstance(celery, list) else [celery]
    if "options" in entry:
        [name] = names
        return [
            {**option, "setting": f'`{name}["{option["key"]}"]`', "value": value(option)}
            for option in entry["options"]
        ]
    setting = ", ".join(f"`{n}`" for n in names)
    if celery:
        setting += " (" + ", ".join(f"`{c}`" for c in celery) + ")"
    return [{**entry, "setting": setting, "value": value(entry)}]


def value(spec: dict) -> str:
    if "shown" in spec:
        return spec["shown"]
    if "value" in spec:
        return f"`{py(spec['value'])}`"
    if "same_as" in spec:
        return f"`{spec['same_as']}`"
    if "env" in spec:
        if "default" in spec:
            return f"`{spec['env']}`, default `{py(spec['default'])}`"
        return f"`{spec['env']}`, no default"
    raise PluginError(f"{REGISTRY}: {spec.get('name', spec.get('key'))} needs a value or `shown`")


def py(value) -> str:
    """A YAML value written as Python, as it reads in the settings module."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(py(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}": {py(v)}' for k, v in value.items()) + "}"
    return str(value)


def when(condition: dict | None) -> str:
    if not condition:
        return "any"
    parts = []
    for key, wanted in condition.items():
        wanted = wanted if isinstance(wanted, list) else [wanted]
        parts.append(f"`{key}={wanted[0]}`" + "".join(f" or `{w}`" for w in wanted[1:]))
    return ", ".join(parts)


def sources(source: dict) -> str:
    return ", ".join(f"[{label}]({url})" for label, url in source.items())


def test_link(test: str, root: Path) -> str:
    """The test as a link to the line that defines it (docs/ is one level below the root)."""
    path, _, function = test.partition("::")
    line = definition_line(root / path, function.split("::")[-1])
    if line is None:
        raise PluginError(f"{REGISTRY}: no test {test}")
    return f"[`{function}`](../{path}#L{line})"


def definition_line(path: Path, function: str) -> int | None:
    if not path.is_file():
        return None
    pattern = re.compile(rf"^\s*(?:async\s+)?def {re.escape(function)}\(")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def _oneline(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
