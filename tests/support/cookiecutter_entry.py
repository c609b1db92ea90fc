"""cookiecutter.json, derived from copier.yml's questions:
`python tests/support/cookiecutter_entry.py` prints it, and tests/test_cookiecutter.py fails when
the file and copier.yml disagree.

Each question keeps its name, its help as the prompt and its default. Cookiecutter has no
multiple choice and no YAML answers: those are asked as YAML text, which Copier parses. A
default that Copier derives from other answers becomes the choice "auto" (the hook leaves it to
Copier), except the slug, which Cookiecutter needs for the folder's name; a yes/no question with
such a default becomes the choice of "auto", "true" and "false".
"""

import sys
from pathlib import Path

if not __package__:  # run as a script: import the rest of tests/support as its package
    sys.path[0] = str(Path(__file__).resolve().parents[1])
    __package__ = "support"

import json

import yaml

from .releases import REPO

DERIVED = "auto"
# Cookiecutter names the project folder after the slug before Copier runs, so it derives one.
SLUG = "{{ cookiecutter.project_name | slugify(separator='_') }}"


def questions() -> dict[str, dict]:
    config = yaml.safe_load((REPO / "copier.yml").read_text())
    return {
        name: spec
        for name, spec in config.items()
        if not name.startswith("_") and spec.get("when") is not False
    }


def expected() -> dict:
    variables: dict = {}
    prompts: dict = {}
    for name, spec in questions().items():
        default = spec.get("default")
        templated = isinstance(default, str) and "{{" in default
        choices = spec.get("choices")
        if choices and spec.get("multiselect"):
            values = list(choices.values())
            variables[name] = "[" + ", ".join(default) + "]"
            prompts[name] = f"{spec['help']}: a YAML list of any of {', '.join(values)}"
        elif choices:
            labels = choices if isinstance(choices, dict) else {str(c): c for c in choices}
            values = list(labels.values())
            first = [DERIVED] if templated else [default]
            variables[name] = first + [v for v in values if v not in first]
            prompts[name] = {"__prompt__": spec["help"], **{v: k for k, v in labels.items()}}
            if templated:
                prompts[name][DERIVED] = "The template's default for the answers above"
        elif spec["type"] == "bool" and templated:
            # Cookiecutter's booleans take no template: true, false, or Copier's derived default.
            variables[name] = [DERIVED, "true", "false"]
            prompts[name] = {
                "__prompt__": spec["help"],
                DERIVED: "The template's default for the answers above",
                "true": "Yes",
                "false": "No",
            }
        elif spec["type"] == "yaml":
            variables[name] = default
            condition = spec["when"].strip("{} ")
            prompts[name] = f"{spec['help']}; used only when {condition}"
        elif name == "project_slug":
            variables[name] = SLUG
            prompts[name] = spec["help"]
        else:
            assert not templated, f"{name}: no Cookiecutter form for the default {default!r}"
            variables[name] = default
            prompts[name] = spec["help"]
    return {**variables, "__prompts__": prompts}


if __name__ == "__main__":
    print(json.dumps(expected(), indent=2, ensure_ascii=False))
