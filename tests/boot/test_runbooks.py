"""The runbooks' commands (docs/runbooks/), run as written against a booted project.

One project with the default answers (Redis broker and results, django-db Beat, priority
queues, Flower) is rendered, migrated and started with its Procfile's lines. Each runbook block
runs in the project's folder and environment, with the variables its page tells the reader to
set, and each test checks that the block did what its page says.
"""

import json
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.boot.checks import http, run_block, succeeded, task_events, wait_until
from support.boot.environment import environment
from support.boot.processes import ProcessGroup, procfile
from support.boot.services import REDIS_DB, drop_all, require_rabbitmq, wait_for_port
from support.matrix import TOPOLOGY_QUEUES, Combination
from support.project_env import project_requirements, venv_with
from support.readme_blocks import tested_block

# One booted project for the module: its tests run on one pytest-xdist worker (--dist loadgroup).
pytestmark = [pytest.mark.boot, pytest.mark.xdist_group("runbooks")]

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks"
COMBINATION = Combination("redis", "redis", "django-db", "priority")
QUEUES = TOPOLOGY_QUEUES[COMBINATION.queue_topology]
# A queue's hard time limit on its worker's command line, in seconds.
TIME_LIMIT = re.compile(r"--time-limit (\d+)")


@pytest.fixture(scope="module")
def stack(render, boot_services, tmp_path_factory) -> Iterator[ProcessGroup]:
    """The project's processes, running: web, a worker per queue, Beat, Flower, the driver."""
    boot_dir = tmp_path_factory.mktemp("runbooks")
    (boot_dir / "logs").mkdir()
    answers = {**COMBINATION.answers(), "use_flower": True}
    project = render(answers, boot_dir / "project")
    venv = venv_with(project_requirements(project), answers["python_version"])
    # Numbered after the Redis database of its broker, which no combination uses: its own
    # PostgreSQL database and Redis databases (services.REDIS_DB).
    env = environment(COMBINATION, REDIS_DB["runbooks broker"], boot_services, boot_dir)
    redis = boot_services["redis"].url
    env["CELERY_BROKER_URL"] = f"{redis}/{REDIS_DB['runbooks broker']}"
    env["CELERY_RESULT_BACKEND"] = f"{redis}/{REDIS_DB['runbooks results']}"
    group = ProcessGroup(project=project, venv=venv, env=env, logs=boot_dir / "logs")
    table = procfile(project)
    with group.running(lambda: drop_all(env["DATABASE_URL"].rsplit("/", 1)[1])):
        group.run("release", table["release"])
        for name, command in table.items():
            if name != "release":
                group.start(name, command)
        group.start_driver()
        wait_for_port(int(env["PORT"]), "gunicorn", group.processes["web"].popen)
        wait_for_port(int(env["FLOWER_PORT"]), "flower", group.processes["flower"].popen)
        for queue in QUEUES:
            log = group.processes[f"worker-{queue}"].log
            wait_until(lambda log=log: " ready." in log.read_text(), f"worker-{queue} ready", group)
        yield group


def run(group: ProcessGroup, page: str, name: str, **env: str) -> list[tuple[str, str]]:
    ran, _ = run_block(group, RUNBOOKS / page, name, **env)
    return ran


def slug(group: ProcessGroup) -> str:
    """The project's package: the folder holding core/tasks.py."""
    return next(group.project.glob("*/core/tasks.py")).parent.parent.name


def letter_ids(listed: str) -> set[str]:
    """The ids `list_dead_letters` printed: the first field of each tab-separated line."""
    return {line.split("\t")[0] for line in listed.splitlines() if "\t" in line}


def test_dead_letters_are_listed_replayed_once_and_purged(stack: ProcessGroup) -> None:
    task = f"{slug(stack)}.core.tasks.fail"
    sent = stack.driver("scenarios", "default")
    letters = f"SELECT count(*) FROM core_deadletter WHERE task_name = '{task}'"
    wait_until(lambda: stack.driver.sql(letters) == "1", "the dead letter", stack)

    [(_, listed)] = run(stack, "dead-letters.md", "runbook-dead-letters-list")
    assert f"\t{task}\tqueue=default\t" in listed, listed
    assert f"1 dead letter(s) of {task}" in listed, listed

    before, replayed, after = (
        out for _, out in run(stack, "dead-letters.md", "runbook-dead-letters-replay", TASK=task)
    )
    assert before.strip().endswith("1 dead letter(s) to replay"), before
    assert "1 dead letter(s) replayed" in replayed, replayed
    # The replayed letter is no longer listed (this task fails always: its replay may already
    # be a new letter).
    assert letter_ids(before) and not letter_ids(before) & letter_ids(after), (before, after)
    replay_id = re.search(r" as (\S+)", replayed)[1]
    log = stack.processes["worker-default"].log
    # The replay ran (and, this task failing always, failed again into a new letter).
    wait_until(lambda: stack.driver.sql(letters) == "2", "the replay's own dead letter", stack)
    assert replay_id != sent["dead"] and task_events(log, replay_id), replay_id

    replayed_only, older = (
        out for _, out in run(stack, "dead-letters.md", "runbook-dead-letters-purge")
    )
    assert "1 dead letter(s) purged" in replayed_only, replayed_only
    assert "0 dead letter(s) purged" in older, older
    assert stack.driver.sql(letters) == "1"


def test_drained_worker_takes_nothing_until_undrained(stack: ProcessGroup) -> None:
    node = f"worker-default@{socket.gethostname()}"
    cancel, active = (
        out for _, out in run(stack, "drain-worker.md", "runbook-drain", QUEUE="default", NODE=node)
    )
    assert "no longer consuming from" in cancel and "default" in cancel, cancel
    assert node in active, active
    [[_, task_id]] = stack.driver("ping", "default")
    web = f"http://127.0.0.1:{stack.env['PORT']}"

    def waiting() -> bool:
        return json.loads(http(f"{web}/health/queues/")[1])["queues"]["default"]["pending"] >= 1

    wait_until(waiting, "the task waiting in the drained queue", stack)
    log = stack.processes["worker-default"].log
    assert stack.processes["worker-default"].running() and not succeeded(log, task_id)

    [(_, added)] = run(stack, "drain-worker.md", "runbook-undrain", QUEUE="default", NODE=node)
    assert f"{node}: OK" in added and "add consumer default" in added, added
    wait_until(lambda: succeeded(log, task_id), "the waiting task, once undrained", stack)


def test_pool_grows_by_two_children(stack: ProcessGroup) -> None:
    node = f"worker-critical@{socket.gethostname()}"
    grown, _ = (out for _, out in run(stack, "scale-queue.md", "runbook-pool-grow", NODE=node))
    assert f"{node}: OK" in grown and "pool will grow" in grown, grown
    concurrency = int(
        re.search(r"--concurrency (\d+)", procfile(stack.project)["worker-critical"])[1]
    )
    # The pool starts the new children on its next maintenance pass: ask again until it did.
    [_, stats_line] = tested_block(RUNBOOKS / "scale-queue.md", "runbook-pool-grow")
    wait_until(
        lambda: len(pool_processes(stack, stats_line, NODE=node)) == concurrency + 2,
        lambda: f"{concurrency + 2} children: {pool_processes(stack, stats_line, NODE=node)}",
        stack,
        30,
    )


def pool_processes(group: ProcessGroup, line: str, **env: str) -> list[int]:
    """The process ids `inspect stats` (LINE, run as written) lists in the node's pool."""
    stats = subprocess.run(
        ["bash", "-c", line],
        cwd=group.project,
        env=group.environment() | env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # The node's line, its statistics as JSON, then a count of nodes.
    report, _ = json.JSONDecoder().raw_decode(stats.split(": OK", 1)[1].lstrip())
    return report["pool"]["processes"]


def test_exactly_one_beat_answers(stack: ProcessGroup) -> None:
    [(_, count)] = run(stack, "beat.md", "runbook-beat-count")
    assert count.strip() == "1", count


def test_visibility_timeout_outlasts_every_time_limit(stack: ProcessGroup) -> None:
    options, limits = (
        out for _, out in run(stack, "broker-timeouts.md", "runbook-visibility-timeout")
    )
    timeout = int(re.search(r"'visibility_timeout': (\d+)", options)[1])
    hard = [int(seconds) for seconds in TIME_LIMIT.findall(limits)]
    assert len(hard) == len(QUEUES) and max(hard) < timeout, (hard, timeout)
    assert hard == [
        int(TIME_LIMIT.search(procfile(stack.project)[f"worker-{q}"])[1]) for q in QUEUES
    ]


def test_consumer_timeout_is_read_from_the_server(stack: ProcessGroup) -> None:
    require_rabbitmq()
    [(_, answer)] = run(stack, "broker-timeouts.md", "runbook-consumer-timeout")
    value = re.fullmatch(r"\{ok,(\d+)\}|undefined", answer.strip())
    assert value, answer
    # The server's timeout, or RabbitMQ's 30-minute default, outlasts every hard time limit.
    milliseconds = int(value[1]) if value[1] else 30 * 60 * 1000
    table = procfile(stack.project)
    hard = max(int(TIME_LIMIT.search(table[f"worker-{q}"])[1]) for q in QUEUES)
    assert hard * 1000 < milliseconds, (hard, answer)


def test_queue_health_and_flower_report_every_queue_and_worker(stack: ProcessGroup) -> None:
    [(_, health)] = run(stack, "queue-health.md", "runbook-queue-health")
    report = json.loads(health)
    assert report["status"] in ("ok", "overloaded") and list(report["queues"]) == QUEUES, report

    def every_worker_answered() -> dict | None:
        # Flower asks the workers as the page's command runs, waiting 1 s for their replies: on a
        # busy machine a worker answers late, and the reader runs the command again, as here.
        [(_, flower)] = run(stack, "queue-health.md", "runbook-flower")
        workers = json.loads(flower)
        nodes = {
            queue: [n for n in workers if n.startswith(f"worker-{queue}@")] for queue in QUEUES
        }
        answered = all(len(n) == 1 and workers[n[0]].get("active_queues") for n in nodes.values())
        return workers if answered else None

    workers = wait_until(every_worker_answered, "Flower lists every worker's queues", stack, 30)
    for queue in QUEUES:
        [node] = [name for name in workers if name.startswith(f"worker-{queue}@")]
        consumed = [q["name"] for q in workers[node]["active_queues"]]
        assert consumed == [queue], workers[node]["active_queues"]


def test_new_secret_is_accepted_and_a_weak_one_refused(stack: ProcessGroup) -> None:
    [(_, secret)] = run(stack, "rotate-secrets.md", "runbook-new-secret")
    secret = secret.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", secret), secret
    [(_, checked)] = run(stack, "rotate-secrets.md", "runbook-check-secret", NEW_SECRET=secret)
    assert "System check identified" in checked or checked == "", checked
    # The same line with a placeholder fails: the check is the one the release step runs.
    [line] = tested_block(RUNBOOKS / "rotate-secrets.md", "runbook-check-secret")
    weak = subprocess.run(
        ["bash", "-c", line],
        cwd=stack.project,
        env=stack.environment() | {"NEW_SECRET": "change-me"},
        capture_output=True,
        text=True,
    )
    assert weak.returncode != 0 and "DJANGO_SECRET_KEY" in weak.stdout + weak.stderr, weak
