"""Where a generated project's CI files are, and what its scheduled template-update job runs."""

from pathlib import Path

import yaml

CI_FILES = {"github": ".github/workflows/ci.yml", "gitlab": ".gitlab-ci.yml"}
TEMPLATE_UPDATE_WORKFLOW = ".github/workflows/template-update.yml"


def template_update_job(project: Path) -> tuple[list[str], dict[str, str]]:
    """The scheduled template-update job's shell lines and the environment it sets, from
    whichever CI file exists."""
    github = project / TEMPLATE_UPDATE_WORKFLOW
    if github.exists():
        steps = yaml.safe_load(github.read_text())["jobs"]["template-update"]["steps"]
        runs = [step for step in steps if "run" in step]
        return [step["run"] for step in runs], {
            name: value for step in runs for name, value in step.get("env", {}).items()
        }
    job = yaml.safe_load((project / CI_FILES["gitlab"]).read_text())["template-update"]
    return job["script"], job.get("variables", {})
