"""Start a rendered project's processes from its Procfile, with the Procfile's command lines.

Each process runs in its own process group with its output in a log file, from the project's
folder and its virtual environment; stopping sends SIGTERM to the group, then SIGKILL.
"""

import contextlib
import json
import os
import select
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

# Run inside a project to send tasks and read its database (see its docstring).
DRIVER = Path(__file__).with_name("driver.py")


def procfile(project: Path, name: str = "Procfile") -> dict[str, str]:
    """The process table (or Procfile.dev's development one): name -> command line."""
    table = {}
    for line in (project / name).read_text().splitlines():
        if line and not line.startswith("#"):
            name, command = line.split(":", 1)
            table[name.strip()] = command.strip()
    return table


@dataclass
class Process:
    name: str
    command: str
    log: Path
    popen: subprocess.Popen

    def running(self) -> bool:
        return self.popen.poll() is None

    def signal(self, signum: int) -> None:
        if self.running():
            os.killpg(self.popen.pid, signum)

    def stop(self, timeout: float = 20.0) -> None:
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(timeout=10)
        # Children the group leader left behind (prefork pool processes) go too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)


class Driver:
    """One `driver.py serve` process in a project: commands in, JSON results out."""

    def __init__(self, process: Process, report: Callable[[], str]) -> None:
        self.process = process
        self.report = report

    def __call__(self, *command: str, timeout: float = 120.0):
        popen = self.process.popen
        popen.stdin.write(json.dumps(command) + "\n")
        popen.stdin.flush()
        ready, _, _ = select.select([popen.stdout], [], [], timeout)
        line = popen.stdout.readline() if ready else ""
        if not line:
            raise AssertionError(f"driver {command}: no answer within {timeout} s\n{self.report()}")
        reply = json.loads(line)
        if "error" in reply:
            raise AssertionError(f"driver {command} failed:\n{reply['error']}\n{self.report()}")
        return reply["result"]

    def sql(self, query: str) -> str | None:
        return self("sql", query)


@dataclass
class ProcessGroup:
    """The processes of one rendered project."""

    project: Path
    venv: Path
    env: dict[str, str]
    logs: Path
    processes: dict[str, Process] = field(default_factory=dict)
    driver: Driver | None = None

    def environment(self) -> dict[str, str]:
        path = f"{self.venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
        return {
            "PATH": path,
            "HOME": os.environ.get("HOME", "/tmp"),
            "VIRTUAL_ENV": str(self.venv),
        } | self.env

    def run(
        self, name: str, command: str, timeout: float = 120.0, without: tuple[str, ...] = (), **env
    ) -> str:
        """Run a one-off command (like the release step) to completion; fail with its output.

        `without` names variables of the group's environment to leave out; `env` adds some.
        """
        environment = {k: v for k, v in self.environment().items() if k not in without} | env
        try:
            result = subprocess.run(
                shlex.split(command),
                cwd=self.project,
                env=environment,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as expired:
            # What it printed before it was killed says where it hung.
            output = "\n".join(decoded(part) for part in (expired.stdout, expired.stderr))
            (self.logs / f"{name}.log").write_text(output)
            message = f"{name} ({command}) still running after {timeout} s:\n{output}"
            raise AssertionError(message) from None
        (self.logs / f"{name}.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise AssertionError(f"{name} ({command}) failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def probe(self, command: str) -> subprocess.CompletedProcess:
        """Run a health command as a container's shell would: `sh -c`, with $HOSTNAME set."""
        return subprocess.run(
            ["sh", "-c", command],
            cwd=self.project,
            env=self.environment() | {"HOSTNAME": socket.gethostname()},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start(self, name: str, command: str) -> Process:
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                shlex.split(command),
                cwd=self.project,
                env=self.environment(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name=name, command=command, log=log, popen=popen)
        self.processes[name] = process
        return process

    def start_driver(self) -> Driver:
        """The project's driver: one process that sends tasks and reads the database."""
        log = self.logs / "driver.log"
        with log.open("ab") as err:
            popen = subprocess.Popen(
                ["python", str(DRIVER), "serve"],
                cwd=self.project,
                env=self.environment(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                start_new_session=True,
            )
        process = Process(name="driver", command=f"python {DRIVER} serve", log=log, popen=popen)
        self.driver = Driver(process, self.log_report)
        return self.driver

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds so far of each running process (tree_cpu: with its pool children)."""
        processes = dict(self.processes)
        if self.driver is not None:
            processes["driver"] = self.driver.process
        used = {}
        for name, process in processes.items():
            with contextlib.suppress(psutil.NoSuchProcess):
                used[name] = round(tree_cpu(psutil.Process(process.popen.pid)), 2)
        return used

    def stop_all(self) -> None:
        if self.driver is not None:
            self.driver.process.popen.stdin.close()
            self.driver.process.stop(timeout=10)
            self.driver = None
        for process in self.processes.values():
            process.signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            remaining = max(0.1, deadline - time.monotonic())
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=remaining)
            process.stop(timeout=1)

    @contextlib.contextmanager
    def running(self, cleanup: Callable[[], None] = lambda: None) -> Iterator["ProcessGroup"]:
        """Stop every process on the way out (and run `cleanup`); on a failure, print the logs."""
        try:
            yield self
        except BaseException:
            print(self.log_report())
            raise
        finally:
            self.stop_all()
            cleanup()

    def log_report(self) -> str:
        """Every log of this project, for a failing test's output."""
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            text = log.read_text(errors="replace")
            parts.append(f"----- {log.name} (last 4000 chars) -----\n{text[-4000:]}")
        return "\n".join(parts)


def decoded(output: str | bytes | None) -> str:
    """A killed command's output as TimeoutExpired holds it (bytes, even with text=True)."""
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def tree_cpu(process: psutil.Process) -> float:
    """CPU seconds of a process tree: the process, the children it reaped, the ones running."""
    times = process.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in process.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += child_times.user + child_times.system
    return total
