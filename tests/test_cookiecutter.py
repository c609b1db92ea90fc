"""The Cookiecutter entry gives the same project as `copier copy` for the same answers.

cookiecutter.json mirrors copier.yml (tests/support/cookiecutter_entry.py derives it); its
post-generation hook hands the answers to Copier. Both sides render from the tagged clone of
this repository.
"""

import json
from pathlib import Path

import copier
import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

from support.cookiecutter_entry import expected
from support.matrix import CUSTOM_QUEUES
from support.project_tree import assert_same_tree_as, tree
from support.releases import REPO

pytestmark = pytest.mark.matrix

ANSWER_SETS = {
    "defaults": {},  # Cookiecutter's defaults are Copier's
    # Flower's default is derived from the broker: "auto" leaves it to Copier (no Flower on SQS).
    "sqs": {"broker": "sqs"},
    "rabbitmq-rpc-custom": {
        "project_name": "Northwind Payments Ledger Sync",
        "broker": "rabbitmq",
        "result_backend": "rpc",
        "beat_scheduler": "static",
        "queue_topology": "custom",
        "queues": "[" + ", ".join(CUSTOM_QUEUES) + "]",
        "deploy_targets": "[compose, kubernetes]",
        "use_flower": "false",
        "ci": "gitlab",
        "python_version": "3.12",
    },
}


def run_cookiecutter(template: Path, answers: dict, out: Path) -> Path:
    """`cookiecutter --no-input TEMPLATE key=value...`, with its caches kept under `out`."""
    config = out / "cookiecutter-config.yaml"
    out.mkdir(parents=True, exist_ok=True)
    config.write_text(f"cookiecutters_dir: {out / 'cache'}\nreplay_dir: {out / 'replay'}\n")
    return Path(
        cookiecutter(
            str(template),
            no_input=True,
            extra_context=answers,
            output_dir=str(out),
            config_file=str(config),
        )
    )


def test_cookiecutter_json_mirrors_copier_yml() -> None:
    written = json.loads((REPO / "cookiecutter.json").read_text())
    assert written == expected(), (
        "regenerate: python tests/support/cookiecutter_entry.py > cookiecutter.json"
    )


@pytest.mark.parametrize("name", ANSWER_SETS)
def test_cookiecutter_gives_the_copier_tree(name, template_repo: Path, tmp_path: Path) -> None:
    answers = ANSWER_SETS[name]
    project = run_cookiecutter(template_repo, answers, tmp_path / "cookiecutter")
    copied = tmp_path / "copier"
    copier.run_copy(
        str(template_repo),
        str(copied),
        data=answers,
        vcs_ref="HEAD",
        defaults=True,
        quiet=True,
        unsafe=True,  # --trust: both sides lock the dependencies
    )
    ours, theirs = tree(project), tree(copied)
    assert_same_tree_as(ours, theirs, edited=set())
    # The hook hands Copier --trust: its task locked the dependencies, as on the Copier side.
    assert "uv.lock" in ours
    # Only the secrets generated for each copy differ.
    assert ours[".env"] != theirs[".env"]
    env_names = [
        [line.split("=", 1)[0] for line in text.splitlines()]
        for text in (ours[".env"].decode(), theirs[".env"].decode())
    ]
    assert env_names[0] == env_names[1]
    # Cookiecutter names the folder after the slug, as Copier's answers record it.
    assert f"project_slug: {project.name}\n" in ours[".copier-answers.yml"].decode()


def test_an_answer_copier_refuses_leaves_nothing(template_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "cookiecutter"
    with pytest.raises(FailedHookException):
        run_cookiecutter(template_repo, {"result_backend": "rpc"}, out)
    assert not (out / "my_project").exists()
