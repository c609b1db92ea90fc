"""Where a generated project's CI files are, and what its scheduled template-update check runs."""

from pathlib import Path

import yaml

CI_FILES = {"github": ".github/workflows/ci.yml", "gitlab": ".gitlab-ci.yml"}
TEMPLATE_UPDATE_WORKFLOW = ".github/workflows/template-update.yml"


def check_update_commands(project: Path) -> list[str]:
    """The commands of the scheduled template-update check, from whichever CI file exists."""
    github = project / TEMPLATE_UPDATE_WORKFLOW
    if github.exists():
        steps = yaml.safe_load(github.read_text())["jobs"]["check-update"]["steps"]
        return [step["run"] for step in steps if "run" in step]
    return yaml.safe_load((project / CI_FILES["gitlab"]).read_text())["template-update"]["script"]
