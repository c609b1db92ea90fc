"""Boot every runtime-distinct combination and drive real work through its real processes.

Each combination is rendered, installed into the environment of its own dependency set, given
its own database, Redis database, RabbitMQ vhost or SQS queue prefix, migrated with the
Procfile's release command, and started with the Procfile's command lines. Never eager mode.
"""

import contextlib
import json
import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.boot.checks import (
    check_beat_sends_once,
    check_canvas,
    check_each_queue_runs_on_its_own_worker,
    check_flower,
    check_health_and_payment_pipeline,
    check_health_probes,
    check_readme_operator_commands,
    check_readme_purge_empties_queue,
    check_scenarios,
    check_stopped_worker_fails_its_probe,
    check_unconsumed_queue_turns_health_503,
    wait_until,
)
from support.boot.environment import environment
from support.boot.housekeeping import check_housekeeping_purges_expired_rows, seed_expired_rows
from support.boot.metrics import (
    check_beat_metrics,
    check_metrics_are_private,
    check_prometheus_scrapes_every_process,
    check_prometheus_sees_a_stopped_queue,
    check_queue_metrics_rise,
    check_task_counters,
    check_web_counts_what_it_sends,
    check_worker_says_what_it_consumes,
    metrics_ports,
    snapshot,
)
from support.boot.processes import ProcessGroup, procfile
from support.boot.prometheus import prometheus
from support.boot.sentry import check_failures_reported_once, sentry_endpoint
from support.boot.services import drop_all, wait_for_port
from support.boot.tracing import TRACING_ENV, check_request_trace_reaches_its_tasks
from support.compose import healthchecks
from support.matrix import (
    PROJECT_NAMES,
    TOPOLOGY_DEFAULT_QUEUE,
    TOPOLOGY_QUEUES,
    Combination,
    pairwise,
    runtime_combinations,
)
from support.project_env import project_requirements, venv_with

from .conftest import boot_mode

pytestmark = pytest.mark.boot

COMBINATIONS = runtime_combinations()
PAIRWISE = pairwise(COMBINATIONS)
BOOTED = PAIRWISE if boot_mode() == "quick" else COMBINATIONS
# The README's operator commands behave by broker and result backend only, and each `celery`
# start costs a second or more of CPU: they run in the first booted combination of each pair.
OPERATED = list({(c.broker, c.result_backend): c for c in reversed(BOOTED)}.values())
# Where a real Prometheus scrapes the processes and evaluates the project's alerts: one Redis
# combination (its queue metrics are the fullest) with Beat.
WATCHED = next(c for c in BOOTED if c.broker == "redis" and c.beat_scheduler != "none")


def suite_combinations(booted: list[Combination]) -> list[Combination]:
    """Where the project's own suite runs: the pairwise subset (every pair of values of any two
    axes meets there), and each broker, backend and scheduler triple the subset misses once, in
    the topologies taken in turn (37 of the 140 combinations).

    The suite's code is the same in every topology but for the queue names it routes to, and a
    run costs about 5 CPU-seconds; every combination is still booted and checked.
    """
    by_triple: dict[tuple, list[Combination]] = {}
    for combo in booted:
        by_triple.setdefault(combo.triple, []).append(combo)
    chosen = [combo for combo in PAIRWISE if combo in booted]
    turn = dict.fromkeys((combo.broker for combo in booted), 0)
    for triple, combos in by_triple.items():
        if not any(combo.triple == triple for combo in chosen):
            chosen.append(combos[turn[triple[0]] % len(combos)])
            turn[triple[0]] += 1
    return [combo for combo in booted if combo in chosen]


SUITE_RUN = suite_combinations(BOOTED)
# Settings the boot checks shorten; the project's own suite runs with their defaults.
BOOT_ONLY = (
    "TASK_RETRY_BACKOFF_SECONDS",
    "TASK_RETRY_JITTER",
    "QUEUE_HEALTH_MAX_PENDING",
    "RECONCILE_LEDGER_EVERY_SECONDS",
    "CELERY_SQS_WAIT_TIME_SECONDS",
)


class Phases:
    """Wall-clock and CPU seconds of each phase of a boot, printed with the test's output and
    appended as a JSON line to the file $CDC_BOOT_TIMINGS names, if set.

    CPU counts this test process and the processes it has waited for: a long-running process
    counts in the phase that stops it.
    """

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.cpu_last = self.cpu()
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}
        # Each long-running process's own CPU seconds, read just before they are stopped.
        self.processes: dict[str, float] = {}

    @staticmethod
    def cpu() -> float:
        usages = map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        return sum(usage.ru_utime + usage.ru_stime for usage in usages)

    @contextlib.contextmanager
    def check(self, name: str) -> Iterator[None]:
        """One named check of the boot: a failure inside says which, and its time is recorded."""
        try:
            yield
        except BaseException as error:
            error.add_note(f"boot check that failed: {name}")
            raise
        self.done(name)

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = round(now - self.last, 2)
        self.last = now
        cpu = self.cpu()
        self.cpu_seconds[name] = round(cpu - self.cpu_last, 2)
        self.cpu_last = cpu

    def report(self, combination: str) -> None:
        print(f"phases of {combination}: wall {self.seconds}, cpu {self.cpu_seconds}")
        print(f"processes of {combination}: cpu {self.processes}")
        if path := os.environ.get("CDC_BOOT_TIMINGS"):
            line = {"combination": combination, "wall": self.seconds, "cpu": self.cpu_seconds}
            line["processes"] = self.processes
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as timings:
                timings.write(json.dumps(line) + "\n")


@pytest.mark.parametrize("combo", [pytest.param(c, id=c.label) for c in BOOTED])
def test_combination_boots_and_runs_real_work(combo, render, boot_services, boot_dir) -> None:
    index = COMBINATIONS.index(combo)
    answers = combo.answers()
    phases = Phases()
    project = render(answers, boot_dir / "project")
    venv = venv_with(project_requirements(project), answers["python_version"])
    env = environment(combo, index, boot_services, boot_dir)
    stack = contextlib.ExitStack()
    reported = None
    if answers["error_tracking"] == "sentry":
        env["SENTRY_DSN"], reported = stack.enter_context(sentry_endpoint())
    if answers["tracing"] == "opentelemetry":
        env |= TRACING_ENV
    phases.done("render, install, services")
    group = ProcessGroup(project=project, venv=venv, env=env, logs=boot_dir / "logs")
    table = procfile(project)
    queues = TOPOLOGY_QUEUES[combo.queue_topology]
    default = TOPOLOGY_DEFAULT_QUEUE[combo.queue_topology]
    database = env["DATABASE_URL"]

    def cleanup() -> None:
        drop_all(database.rsplit("/", 1)[1])
        phases.report(combo.runtime_id)

    with stack, group.running(cleanup):
        group.run("release", table["release"])
        # Celery's cleanup of expired results is Beat's own; without Beat the worker sends it.
        cleans_results = combo.result_backend == "django-db" and combo.beat_scheduler == "none"
        seed_expired_rows(database, cleans_results)
        phases.done("release")
        for name, command in table.items():
            if name != "release":
                group.start(name, command)
        group.start_driver()
        web = f"http://127.0.0.1:{env['PORT']}"
        wait_for_port(int(env["PORT"]), "gunicorn", group.processes["web"].popen)
        for queue in queues:
            log = group.processes[f"worker-{queue}"].log
            wait_until(lambda log=log: " ready." in log.read_text(), f"worker-{queue} ready", group)
        phases.done("start")
        slug = PROJECT_NAMES[answers["project_name"]]
        ports = metrics_ports(project, int(env["METRICS_BASE_PORT"]))
        watcher = None
        if combo == WATCHED:
            targets = {name: port for name, port in ports.items() if name in table}
            rules = project / "monitoring" / "alerts.yml"
            watcher = stack.enter_context(prometheus(targets, rules, boot_dir / "prometheus"))
        # compose.yaml's health commands, run against the running processes: in the pairwise
        # subset only, as each Celery ping costs a second or two of CPU.
        probes = healthchecks(project, table) if combo in PAIRWISE else {}
        with phases.check("probes"):
            check_health_probes(group, probes)
        with phases.check("ping"):
            check_each_queue_runs_on_its_own_worker(group, queues)
        with phases.check("metrics are private"):
            check_metrics_are_private(group, web, ports)
            check_worker_says_what_it_consumes(group, ports, queues)
            if watcher:
                check_prometheus_scrapes_every_process(group, watcher, list(targets))
        with phases.check("health, pipeline"):
            check_health_and_payment_pipeline(group, web, queues)
            check_web_counts_what_it_sends(group, ports, slug)
        with phases.check("housekeeping"):
            check_housekeeping_purges_expired_rows(group, database, cleans_results)
        if answers["tracing"] == "opentelemetry":
            with phases.check("trace"):
                check_request_trace_reaches_its_tasks(group, web, slug)
        before = snapshot(group, ports, default, slug)
        with phases.check("retry, dead letter, on-commit"):
            check_scenarios(group, default, answers["project_name"])
            check_task_counters(group, ports, default, slug, before)
            if reported:
                check_failures_reported_once(group, reported)
        if combo.result_backend != "none":
            with phases.check("canvas"):
                check_canvas(group, default, chords=combo.result_backend != "rpc")
        operated = combo in OPERATED
        if operated:
            with phases.check("README operator commands"):
                check_readme_operator_commands(
                    group, queues, default, combo.broker, combo.result_backend
                )
        if "flower" in table:
            with phases.check("flower"):
                check_flower(group, env, queues, combo.broker)
        if "beat" in table:
            with phases.check("beat"):
                check_beat_metrics(group, ports, slug)
                check_beat_sends_once(group)
        with phases.check("health 503"):
            check_unconsumed_queue_turns_health_503(group, web, queues[-1], combo.broker)
            check_queue_metrics_rise(group, ports, queues[-1], combo.broker == "redis")
            if watcher:
                seconds = check_prometheus_sees_a_stopped_queue(group, watcher, queues[-1])
                print(f"prometheus: {queues[-1]}'s alert pending {seconds:.1f} s after the check")
            if operated:
                # The README's purge empties the queue whose worker the check above stopped.
                check_readme_purge_empties_queue(group, web, queues[-1])
            if probes:
                stopped = probes[f"worker-{queues[-1]}"]
                check_stopped_worker_fails_its_probe(group, queues[-1], stopped)
        for process in group.processes.values():
            assert "rolled-back" not in process.log.read_text(), "a rolled-back task was sent"
        phases.processes = group.cpu_seconds()
        group.stop_all()
        phases.done("stop")
        if combo not in SUITE_RUN:
            return
        # The generated project's own suite, integration tests included (they start a worker of
        # their own on the same broker, so the project's processes are stopped first).
        own_queues = {}
        if operated and combo.broker == "sqs":
            # SQS allows one purge of a queue a minute, and the README's purge just used it: the
            # suite, which purges its queues first, gets queues of its own.
            own_queues["CELERY_SQS_QUEUE_PREFIX"] = f"{env['CELERY_SQS_QUEUE_PREFIX']}tests-"
        # Its webhook fuzz never reaches the broker (each request rolls back) and is the same code
        # in every combination but for Python and Django: it runs in the pairwise subset, which
        # holds every pair of those (and in the user-path tier); the others skip its 3 s.
        fuzz = "" if combo in PAIRWISE else " --ignore=tests/test_webhook_fuzz.py"
        with phases.check("project's own tests"):
            group.run(
                "project-tests",
                "python -m pytest -q -p no:cacheprovider" + fuzz,
                300,
                without=BOOT_ONLY,
                DJANGO_SETTINGS_MODULE="config.settings.test",
                **own_queues,
            )


def test_a_failing_boot_check_says_which() -> None:
    phases = Phases()
    with pytest.raises(AssertionError) as failed, phases.check("canvas"):
        raise AssertionError("the chord never finished")
    assert failed.value.__notes__ == ["boot check that failed: canvas"]
    with phases.check("ping"):
        pass
    assert "ping" in phases.seconds and "canvas" not in phases.seconds
