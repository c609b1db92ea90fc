"""A generated project's suite never hangs its CI: a test that stops making progress fails,
with the stack of every thread, after the per-test timeout its pyproject.toml sets.

Seen in the boot tier before the guard: one project's suite ran past the tier's 300 s limit and
was killed, leaving nothing that said which test hung or where.
"""

import subprocess

from support.project_env import offline_env, project_requirements, venv_with

HANGING_TEST = """
import threading


def test_waits_forever():
    threading.Event().wait()  # a lock never released, as a worker thread that never stops
"""


def test_a_hung_project_test_fails_with_its_stack(render, tmp_path) -> None:
    # The answers of test_typing.py's Redis project: its environment is built once for both.
    project = render(
        {"broker": "redis", "beat_scheduler": "redbeat", "django_version": "6.0"},
        tmp_path / "project",
    )
    (project / "tests" / "test_hangs.py").write_text(HANGING_TEST)
    venv = venv_with(project_requirements(project), "3.13")
    pytest = [venv / "bin" / "python", "-m", "pytest", "-p", "no:cacheprovider"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*pytest, *args, "tests/test_hangs.py"],
            cwd=project,
            env=offline_env(),
            capture_output=True,
            text=True,
            timeout=120,  # were the guard missing, this would end the test instead
        )

    # What the project's pyproject.toml sets, as pytest-timeout reads it.
    settings = run("--collect-only").stdout
    assert "timeout: 120.0s" in settings and "timeout method: thread" in settings, settings
    # Those settings, but for the length of the timeout.
    result = run("-o", "timeout=2")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Timeout" in output, output
    assert 'test_hangs.py", line 6, in test_waits_forever' in output, output
