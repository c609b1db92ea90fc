"""`nox -s bench`: what the generated stack's defaults cost, beside a bare Celery app, in one run.

A benchmark, never a test: it renders the template (default answers, one project per broker, with
Redis results so every variant stores its results in the same place), starts real workers and
counts. Three variants run the same tasks from the same queue, alternated within each repetition:

    generated       the Procfile's worker line for the queue the task's role is routed to, as
                    rendered, plus `--include bench_tasks`
    bare-safety     a bare Celery app with the generated project's delivery guarantees and limits
                    (bare_app.py), same concurrency, prefetch 1, the same time limits
    bare-defaults   the same bare app with Celery's defaults, same concurrency

Workloads (tasks are queued first, then the worker starts; timed from its worker_ready signal to the
last stored result): short no-op tasks, 50 ms I/O-like waits, CPU-bound loops; then enqueue → start
latency on an idle worker, one task at a time. Medians over the repetitions; CPU of the worker's
process tree and log bytes per task; worker start → ready.

    python tests/bench/run.py [--quick] [--brokers redis,rabbitmq] [--output FILE] [--keep]

Writes FILE (default docs/performance/results.json), from which the docs build generates the
tables of docs/performance.md (docs/_hooks/bench_table.py).
"""

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import copier
import psutil

TESTS = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(TESTS), str(TESTS.parent / "docs" / "_hooks")]

import copier_reference  # noqa: E402
from bench_table import RESULTS, VARIANTS  # noqa: E402

from support.boot.processes import procfile, tree_cpu  # noqa: E402
from support.boot.services import (  # noqa: E402
    drop_all,
    postgres_database,
    rabbitmq_vhost,
    redis_server,
)
from support.project_env import project_requirements, venv_with  # noqa: E402
from support.releases import REPO, working_tree_copy  # noqa: E402

HERE = Path(__file__).resolve().parent
# Both bare variants run the generated queue worker's pool and concurrency, so that only settings
# differ; the safety variant adds the generated line's prefetch and time limits.
BARE_COMMAND = "celery -A bare_app worker --queues {queue} --hostname bare@%h --concurrency {c}"
BARE_SAFETY_OPTIONS = (
    "--prefetch-multiplier {prefetch} --soft-time-limit {soft} --time-limit {hard}"
)


# name: (role whose queue runs it, task, arguments, count, count with --quick)
WORKLOADS = {
    "noop": ("default", "bench_tasks.add", [1, 2], 3000, 600),
    "io": ("io", "bench_tasks.pause", [0.05], 2000, 400),
    "cpu": ("heavy", "bench_tasks.spin", [300_000], 300, 30),
}
LATENCY_ROLE, LATENCY_SAMPLES, LATENCY_SAMPLES_QUICK = "critical", 200, 40
# The queue topology each workload runs on: the default answers' (priority), except the I/O-bound
# tasks, which run on the workload topology's queue made for them (its gevent worker).
TOPOLOGIES = ("priority", "workload")
TOPOLOGY = dict.fromkeys(WORKLOADS, TOPOLOGIES[0]) | {"io": "workload"}


class Redis:
    """Just enough of the Redis protocol to count stored results and empty a database."""

    def __init__(self, port: int, db: int) -> None:
        self.port, self.db = port, db

    def command(self, *words: str) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            parts = [("SELECT", str(self.db)), words]
            for part in parts:
                encoded = [w.encode() for w in part]
                frame = f"*{len(encoded)}\r\n".encode() + b"".join(
                    f"${len(w)}\r\n".encode() + w + b"\r\n" for w in encoded
                )
                sock.sendall(frame)
                reply = sock.recv(65536)
            return reply

    def dbsize(self) -> int:
        return int(self.command("DBSIZE")[1:].split(b"\r\n")[0])

    def flush(self) -> None:
        self.command("FLUSHDB")


class Stack:
    """One rendered project on one broker, and the bare app beside it, sharing one environment."""

    def __init__(
        self, broker: str, topology: str, template: Path, work: Path, redis_port: int, index: int
    ):
        self.broker = broker
        answers = {"broker": broker, "result_backend": "redis", "queue_topology": topology}
        self.project = work / f"project-{broker}-{topology}"
        copier.run_copy(
            str(template), str(self.project), data=answers, defaults=True, quiet=True,
            skip_tasks=True,
        )  # fmt: skip
        shutil.copy(HERE / "bench_tasks.py", self.project)
        self.bare = work / f"bare-{broker}-{topology}"
        self.bare.mkdir()
        for name in ("bench_tasks.py", "bare_app.py", "client.py"):
            shutil.copy(HERE / name, self.bare)
        shutil.copy(HERE / "client.py", self.project)
        copier_yml, env = copier_reference.load(REPO)
        answers = copier_reference.default_answers(copier_yml, env, answers)
        self.venv = venv_with(project_requirements(self.project), answers["python_version"])
        self.specs = copier_reference.computed(copier_yml, env, "queue_specs", answers)
        self.procfile = procfile(self.project)
        self.results = Redis(redis_port, 2 * index + 1)
        broker_redis = Redis(redis_port, 2 * index)
        self.name = f"cdc_bench_{broker}_{topology}_{os.getpid()}"
        if broker == "redis":
            broker_redis.flush()
            broker_url = f"redis://127.0.0.1:{redis_port}/{2 * index}"
        else:
            broker_url = rabbitmq_vhost(self.name)
        self.env = {
            "PATH": f"{self.venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "HOME": os.environ.get("HOME", "/tmp"),
            "VIRTUAL_ENV": str(self.venv),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": f"redis://127.0.0.1:{redis_port}/{2 * index + 1}",
        }
        # The project's own settings: the bare app must not see them (DJANGO_SETTINGS_MODULE
        # would switch on Celery's Django fixup).
        self.project_env = {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": os.urandom(32).hex(),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": postgres_database(self.name),
            "PAYMENTS_WEBHOOK_SECRET": os.urandom(32).hex(),
            "EMAIL_URL": "consolemail://",
        }
        self.run(self.project, *shlex.split(self.procfile["release"]))

    def environment(self, cwd: Path) -> dict:
        return self.env | (self.project_env if cwd == self.project else {})

    def run(self, cwd: Path, *command: str, **env: str) -> dict:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=self.environment(cwd) | env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{done.stdout}{done.stderr}")
        lines = done.stdout.strip().splitlines()
        return json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}

    def queue(self, role: str) -> dict:
        return next(spec for spec in self.specs if role in spec["roles"])

    def worker_command(self, variant: str, role: str) -> tuple[Path, str, dict]:
        spec = self.queue(role)
        if variant == "generated":
            name = "worker-" + spec["name"].replace("_", "-")
            return self.project, self.procfile[name] + " --include bench_tasks", {}
        command = BARE_COMMAND.format(queue=spec["name"], c=spec["concurrency"])
        # The same pool as the generated worker's; on gevent, the bare app raises kombu's Redis
        # pool past the concurrency (BENCH_POOL_SLOTS), without which acknowledgements fail.
        env = {}
        if spec["pool"] != "prefork":
            command += f" --pool {spec['pool']}"
            env = {"BENCH_POOL_SLOTS": str(spec["concurrency"])}
        if variant == "bare-safety":
            command += " " + BARE_SAFETY_OPTIONS.format(**spec)
            return self.bare, command + " --loglevel INFO", env | {"BENCH_SETTINGS": "safety"}
        return self.bare, command + " --loglevel INFO", env | {"BENCH_SETTINGS": "defaults"}

    def client(self, variant: str, *args: str) -> dict:
        kind = "generated" if variant == "generated" else "bare"
        cwd = self.project if kind == "generated" else self.bare
        settings = "safety" if variant != "bare-defaults" else "defaults"
        return self.run(cwd, "python", "client.py", kind, *args, BENCH_SETTINGS=settings)

    def start_worker(self, variant: str, role: str, log: Path):
        cwd, command, env = self.worker_command(variant, role)
        ready_file = log.with_suffix(".ready")
        ready_file.unlink(missing_ok=True)
        env = env | {"BENCH_READY_FILE": str(ready_file)}
        started = time.monotonic()
        with log.open("wb") as out:
            popen = subprocess.Popen(
                shlex.split(command), cwd=cwd, env=self.environment(cwd) | env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = started + 60
        while not ready_file.exists():
            if popen.poll() is not None or time.monotonic() > deadline:
                self.stop_worker(popen)
                raise SystemExit(f"{command} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.005)
        return popen, time.monotonic() - started

    def stop_worker(self, popen: subprocess.Popen) -> None:
        os.killpg(popen.pid, signal.SIGTERM)
        try:
            popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()

    def throughput(self, variant: str, workload: str, count: int, log: Path) -> dict:
        role, task, args, _, _ = WORKLOADS[workload]
        queue = self.queue(role)["name"]
        self.client(variant, "purge", queue)
        self.client(variant, "enqueue", queue, task, str(count), json.dumps(args))
        popen, start_seconds = self.start_worker(variant, role, log)
        try:
            ready = time.monotonic()
            worker = psutil.Process(popen.pid)
            cpu_ready, log_ready = tree_cpu(worker), log.stat().st_size
            deadline = ready + 600
            while self.results.dbsize() < count:
                if popen.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{workload} on {variant} stalled:\n{log.read_text()[-3000:]}")
                time.sleep(0.01)
            seconds = time.monotonic() - ready
            cpu = tree_cpu(worker) - cpu_ready
            log_bytes = log.stat().st_size - log_ready
        finally:
            self.stop_worker(popen)
        return {
            "seconds": seconds,
            "tasks_per_second": count / seconds,
            "cpu_ms_per_task": 1000 * cpu / count,
            "log_bytes_per_task": log_bytes / count,
            "start_seconds": start_seconds,
        }

    def latency(self, variant: str, samples: int, log: Path) -> dict:
        queue = self.queue(LATENCY_ROLE)["name"]
        self.client(variant, "purge", queue)
        popen, _ = self.start_worker(variant, LATENCY_ROLE, log)
        try:
            time.sleep(1)  # the worker's pool settles after "ready"
            delays = self.client(variant, "latency", queue, str(samples))["latency_ms"]
        finally:
            self.stop_worker(popen)
        cuts = statistics.quantiles(delays, n=100)
        return {"p50_ms": statistics.median(delays), "p99_ms": cuts[98]}

    def close(self) -> None:
        drop_all(self.name)
        if self.broker == "rabbitmq":
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", self.name], capture_output=True)


def medians(runs: list[dict]) -> dict:
    return {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0]}


def bench_broker(stacks: dict[str, Stack], repetitions: int, quick: bool, logs: Path) -> dict:
    stack = stacks[TOPOLOGIES[0]]
    measured: dict = {workload: {v: [] for v in VARIANTS} for workload in WORKLOADS}
    measured["latency"] = {v: [] for v in VARIANTS}
    for rep in range(repetitions):
        # Variants alternate, each repetition in a rotated order: drift hits all of them alike.
        order = VARIANTS[rep % 3 :] + VARIANTS[: rep % 3]
        for workload, (_, _, _, count, quick_count) in WORKLOADS.items():
            for variant in order:
                log = logs / f"{stack.broker}-{workload}-{variant}-{rep}.log"
                on = stacks[TOPOLOGY[workload]]
                run = on.throughput(variant, workload, quick_count if quick else count, log)
                measured[workload][variant].append(run)
                print(f"{stack.broker} {workload} {variant} #{rep}: {json.dumps(run)}", flush=True)
        for variant in order:
            log = logs / f"{stack.broker}-latency-{variant}-{rep}.log"
            samples = LATENCY_SAMPLES_QUICK if quick else LATENCY_SAMPLES
            run = stack.latency(variant, samples, log)
            measured["latency"][variant].append(run)
            print(f"{stack.broker} latency {variant} #{rep}: {json.dumps(run)}", flush=True)
    result = {}
    for workload, by_variant in measured.items():
        result[workload] = {variant: medians(runs) for variant, runs in by_variant.items()}
        if workload in WORKLOADS:
            role, task, args, count, quick_count = WORKLOADS[workload]
            result[workload]["tasks"] = quick_count if quick else count
            result[workload]["task"] = f"{task}({', '.join(map(str, args))})"
            _, command, _ = stacks[TOPOLOGY[workload]].worker_command("generated", role)
            result[workload]["generated_command"] = command
            result[workload]["queue_topology"] = TOPOLOGY[workload]
        else:
            _, command, _ = stack.worker_command("generated", LATENCY_ROLE)
            result[workload]["generated_command"] = command
    return result


def render_times(template: Path, work: Path, cookiecutter_django: Path | None, runs: int) -> dict:
    """Median wall seconds of `copier copy` with the default answers, each run a fresh process into
    a fresh folder (the copy task, `uv lock`, skipped: it waits on the package index), and of
    cookiecutter-django's `cookiecutter --no-input` with its hooks off, if a checkout is given."""
    tools = Path(sys.executable).parent

    def timed(name: str, command: list[str]) -> tuple[float, int]:
        seconds = []
        for run in range(runs):
            dest = work / "renders" / f"{name}-{run}"
            started = time.monotonic()
            subprocess.run([*command, str(dest)], check=True, capture_output=True)
            seconds.append(time.monotonic() - started)
        files = sum(1 for path in dest.rglob("*") if path.is_file())
        return round(statistics.median(seconds), 3), files

    copier_cli = [str(tools / "copier"), "copy", "--defaults", "--trust", "--skip-tasks", "--quiet"]
    seconds, files = timed("copier", [*copier_cli, str(template)])
    result = {"runs": runs, "copier_seconds": seconds, "copier_files": files}
    if cookiecutter_django is not None:
        version = tomllib.loads((cookiecutter_django / "pyproject.toml").read_text())["project"]
        cookiecutter = [str(tools / "cookiecutter"), "--no-input", "--accept-hooks", "no"]
        seconds, files = timed("ccd", [*cookiecutter, str(cookiecutter_django), "-o"])
        result |= {
            "cookiecutter_django": version["version"],
            "cookiecutter_django_seconds": seconds,
            "cookiecutter_django_files": files,
        }
    return result


def machine(venv: Path) -> dict:
    def version(*command: str) -> str:
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=30).stdout
        except OSError:
            return "unknown"
        return out.strip().splitlines()[0] if out.strip() else "unknown"

    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    python = str(venv / "bin" / "python")
    modules = ("celery", "kombu", "redis")
    libraries = (
        f"import {', '.join(modules)}; print({', '.join(m + '.__version__' for m in modules)})"
    )
    celery_v, kombu_v, redis_v = version(python, "-c", libraries).split()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": version(python, "-c", "import sys; print(sys.version.split()[0])"),
        "celery": celery_v,
        "kombu": kombu_v,
        "redis_py": redis_v,
        "redis_server": version("redis-server", "--version"),
        "rabbitmq": version("rabbitmqctl", "-q", "version"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks, one repetition")
    parser.add_argument("--brokers", default="redis,rabbitmq")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the rendered projects and logs")
    parser.add_argument("--output", type=Path, default=REPO / RESULTS)
    parser.add_argument(
        "--cookiecutter-django",
        type=Path,
        help="a checkout of cookiecutter-django (a release tag), to time its render beside ours",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="time the renders only, and replace just those figures in the output file",
    )
    options = parser.parse_args()
    repetitions = 1 if options.quick else options.repetitions
    work = Path(tempfile.mkdtemp(prefix="cdc-bench-"))
    template = working_tree_copy(work / "template")
    print(f"bench: working in {work}", flush=True)
    runs = 1 if options.quick else 5
    render = render_times(template, work, options.cookiecutter_django, runs)
    print(f"bench: render {json.dumps(render)}", flush=True)
    if options.render_only:
        report = json.loads(options.output.read_text()) | {"render": render}
    else:
        report = {
            "date": time.strftime("%Y-%m-%d"),
            "repetitions": repetitions,
            "quick": options.quick,
            "render": render,
        }
        report["brokers"], venv = bench_brokers(options, template, work, repetitions)
        report["machine"] = machine(venv)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"bench: wrote {options.output}", flush=True)
    if not options.keep:
        shutil.rmtree(work)


def bench_brokers(options, template: Path, work: Path, repetitions: int) -> tuple[dict, Path]:
    """Each broker's figures, and the environment of the last (whose versions the report names:
    every project pins the same Celery, kombu and redis-py)."""
    logs = work / "logs"
    logs.mkdir()
    (work / "redis").mkdir()
    figures = {}
    with redis_server(work / "redis") as redis:
        for index, broker in enumerate(options.brokers.split(",")):
            stacks = {}
            try:
                for offset, topology in enumerate(TOPOLOGIES):
                    at = len(TOPOLOGIES) * index + offset
                    stacks[topology] = Stack(broker, topology, template, work, redis.port, at)
                figures[broker] = bench_broker(stacks, repetitions, options.quick, logs)
            finally:
                for stack in stacks.values():
                    stack.close()
    return figures, stacks[TOPOLOGIES[0]].venv


if __name__ == "__main__":
    main()
