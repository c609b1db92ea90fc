"""MkDocs hook: performance.md's tables, generated from the benchmark's results at each build.

`nox -s bench` (tests/bench/run.py) writes docs/performance/results.json; each
`<!-- bench: BROKER -->` line of the page becomes that broker's table, and `<!-- bench: machine -->`
the machine and versions it ran on. A figure is written once, in the JSON: the page never
restates one. A marker naming a broker the results do not hold fails the build.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mkdocs.exceptions import PluginError

PAGE = "performance.md"
RESULTS = "docs/performance/results.json"
MARKER = re.compile(r"^<!-- bench: (?P<name>[\w-]+) -->$", re.M)
VARIANTS = ("generated", "bare-safety", "bare-defaults")
WORKLOAD_LABELS = {
    "noop": "short tasks (`add(1, 2)`)",
    "io": "50 ms I/O-bound tasks (`pause(0.05)`)",
    "cpu": "CPU-bound tasks (`spin(300000)`)",
}


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    root = Path(config["config_file_path"]).resolve().parent
    return render_markers(markdown, root)


def load(root: Path) -> dict:
    return json.loads((root / RESULTS).read_text(encoding="utf-8"))


def render_markers(markdown: str, root: Path) -> str:
    results = load(root)
    unknown = [m["name"] for m in MARKER.finditer(markdown)]
    unknown = [n for n in unknown if n not in ("machine", "render") and n not in results["brokers"]]
    if unknown:
        raise PluginError(f"{PAGE}: bench markers for brokers {RESULTS} does not hold: {unknown}")

    def replace(match: re.Match) -> str:
        name = match["name"]
        if name in ("machine", "render"):
            lines = machine(results) if name == "machine" else render_table(results)
        else:
            lines = broker_table(results["brokers"][name])
        return "\n".join(lines)

    return MARKER.sub(replace, markdown)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "–"


def broker_table(figures: dict) -> list[str]:
    """One row per measure: generated, bare with the same safety settings, bare with Celery's
    defaults, and the two ratios (higher is better for throughput, lower for the rest)."""
    out = [
        "| measure | generated | bare, same safety | bare, defaults "
        "| generated / same safety | generated / defaults |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def row(label: str, values: list[float], fmt: str) -> None:
        g, s, d = values
        cells = [fmt.format(v) for v in values]
        out.append(f"| {label} | {' | '.join(cells)} | {_ratio(g, s)} | {_ratio(g, d)} |")

    for workload, label in WORKLOAD_LABELS.items():
        if workload not in figures:
            continue
        by = figures[workload]
        count = by["tasks"]
        row(
            f"{label}, {count} tasks: tasks/s",
            [by[v]["tasks_per_second"] for v in VARIANTS],
            "{:.0f}",
        )
    noop = figures["noop"]
    row("worker CPU per short task, ms", [noop[v]["cpu_ms_per_task"] for v in VARIANTS], "{:.2f}")
    row("log bytes per short task", [noop[v]["log_bytes_per_task"] for v in VARIANTS], "{:.0f}")
    row("worker start → ready, s", [noop[v]["start_seconds"] for v in VARIANTS], "{:.2f}")
    latency = figures["latency"]
    row("enqueue → start p50, ms", [latency[v]["p50_ms"] for v in VARIANTS], "{:.1f}")
    row("enqueue → start p99, ms", [latency[v]["p99_ms"] for v in VARIANTS], "{:.1f}")
    out += [
        "",
        "The generated worker lines measured (the Procfile's, with `--include bench_tasks`):",
        "",
    ]
    commands: dict[str, list[str]] = {}
    for workload in (*WORKLOAD_LABELS, "latency"):
        if workload in figures:
            topology = figures[workload].get("queue_topology", "priority")
            name = workload if topology == "priority" else f"{workload} (`{topology}` topology)"
            commands.setdefault(figures[workload]["generated_command"], []).append(name)
    for command, workloads in commands.items():
        out.append(f"- {', '.join(workloads)}: `{command}`")
    return out


def render_table(results: dict) -> list[str]:
    """`copier copy` of the default answers, beside cookiecutter-django's render if measured."""
    render = results.get("render")
    if not render:
        return ["Not measured in this run."]
    runs = f"median of {render['runs']}" if render["runs"] > 1 else "1 run"
    out = [
        f"| template | files written | seconds ({runs}) |",
        "|---|---:|---:|",
        f"| copier-django-celery (`copier copy --defaults --trust --skip-tasks`) "
        f"| {render['copier_files']} | {render['copier_seconds']:.2f} |",
    ]
    if "cookiecutter_django_seconds" in render:
        files, seconds = render["cookiecutter_django_files"], render["cookiecutter_django_seconds"]
        out.append(
            f"| cookiecutter-django {render['cookiecutter_django']} "
            f"(`cookiecutter --no-input --accept-hooks no`) | {files} | {seconds:.2f} |"
        )
    return out


def machine(results: dict) -> list[str]:
    m = results["machine"]
    runs = "1 run (--quick)" if results["quick"] else f"medians of {results['repetitions']} runs"
    return [
        f"Measured on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}; "
        f"Python {m['python']}, Celery {m['celery']}, kombu {m['kombu']}, redis-py "
        f"{m['redis_py']}; {m['redis_server']}; RabbitMQ {m['rabbitmq']}; {runs}, "
        f"{results.get('date', 'date not recorded')}.",
    ]
