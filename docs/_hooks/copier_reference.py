"""MkDocs hook: the question reference page (reference.md), generated from copier.yml at each build.

Nothing in it is typed by hand: each question's help, type, choices, default, `when` condition and
its validator's refusal messages are read from copier.yml; what each choice renders (files,
processes, dependencies) is evaluated from the template's file names, `processes` and its
pyproject.toml; the queue and process tables are the computed values (`queue_specs`,
`processes`) rendered with Jinja for each topology, as Copier renders them, and the example routes
come from template/_partials/routes.jinja. A change to any of them changes the page at the next
build.

Run as a script (`python docs/_hooks/copier_reference.py readme`), it writes the README's table of
choices from the same copier.yml.
"""

from __future__ import annotations

import html
import re
import tomllib
from pathlib import Path

import jinja2
import yaml
from jinja2 import meta, nodes
from mkdocs.structure.files import File, Files

PAGE = "reference.md"
ROUTES = "template/_partials/routes.jinja"
QUEUE_TABLE = "template/_partials/queue_table.yml"
# Queue names to show the `custom` topology with (the `queues` help text's own example).
EXAMPLE_QUEUES = ["default", "reports"]
TYPE_NAMES = {"str": "text", "bool": "yes/no", "yaml": "YAML", "int": "integer", "float": "number"}


# The README's table of choices is written between these lines, by `python
# docs/_hooks/copier_reference.py readme`; tests/test_docs_site.py fails when it is out of date.
README_BEGIN = (
    "<!-- generated from copier.yml: choices (python docs/_hooks/copier_reference.py readme) -->"
)
README_END = "<!-- end of generated choices -->"


def on_files(files: Files, config) -> Files:
    root = Path(config["config_file_path"]).resolve().parent
    files.append(File.generated(config, PAGE, content=render_page(root)))
    return files


def render_page(root: Path) -> str:
    """The reference page for the template checked out at `root`."""
    text = (root / "copier.yml").read_text(encoding="utf-8")
    copier, env = load(root)
    lines = line_numbers(text)
    notes = {name: comment_above(text, line) for name, line in lines.items()}
    # The queue table's columns are explained where the table is: above its first row.
    table = (root / QUEUE_TABLE).read_text(encoding="utf-8")
    notes["queue_specs"] = comment_above(table, min(line_numbers(table).values()), QUEUE_TABLE)
    questions = {k: v for k, v in copier.items() if is_question(k, v)}
    out = [
        "# Question reference",
        "",
        "Generated from [`copier.yml`](../copier.yml) at each build of this site: each question in",
        "the order Copier asks it, then the computed values the queue and process files are",
        "rendered from. What each answer changes is explained in [Questions](questions.md).",
        "",
        "| question | type | default |",
        "|---|---|---|",
    ]
    for name, spec in questions.items():
        out.append(f"| [`{name}`](#{name}) | {_type(spec)} | {_code(spec.get('default'))} |")
    out.append("")
    for name, spec in questions.items():
        out += question_section(name, spec, lines.get(name)) + notes.get(name, [])
    out += renders_section(root, copier, env)
    out += computed_section(copier, env, lines, notes)
    return "\n".join(out) + "\n"


def load(root: Path) -> tuple[dict, jinja2.Environment]:
    copier = yaml.safe_load((root / "copier.yml").read_text(encoding="utf-8"))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(root), undefined=jinja2.StrictUndefined, **copier["_envops"]
    )
    # Copier's filters the computed values use (from jinja2-ansible-filters): Python's re.sub,
    # and YAML parsing (the queue table is a YAML partial).
    env.filters["regex_replace"] = regex_replace
    env.filters["from_yaml"] = yaml.safe_load
    return copier, env


def regex_replace(value: str, pattern: str = "", replacement: str = "", ignorecase=False) -> str:
    return re.sub(pattern, replacement, value, flags=re.IGNORECASE if ignorecase else 0)


def choices_table(root: Path) -> list[str]:
    """The README's table: every question with choices (or yes/no), its choices, its default.

    A default that depends on another answer is shown per value of that answer; the queue
    topologies with the queues `queue_specs` gives each.
    """
    copier, env = load(root)
    answers = default_answers(copier, env)
    out = ["| question | choices | default |", "|---|---|---|"]
    for name, spec in copier.items():
        if not is_question(name, spec) or not (spec.get("choices") or spec.get("type") == "bool"):
            continue
        choices = spec.get("choices") or {"yes": "yes", "no": "no"}
        if isinstance(choices, list):
            choices = {str(value): value for value in choices}
        shown = []
        for label, value in choices.items():
            # A label that adds to its value ("5.2 (LTS)"): the addition; a topology: its queues.
            extra = (
                label.removeprefix(str(value)).lstrip(": ") if label.startswith(str(value)) else ""
            )
            extra = f"({extra})" if extra and not extra.startswith("(") else extra
            if name == "queue_topology" and value != "custom":
                context = answers | {"queue_topology": value}
                queues = computed(copier, env, "queue_specs", context)
                extra = "(" + " / ".join(q["name"] for q in queues) + ")"
            shown.append(f"{_code(value)} {_escape(extra)}".strip())
        prefix = "any of " if spec.get("multiselect") else ""
        out.append(f"| `{name}` | {prefix}{', '.join(shown)} | {default_cell(copier, env, spec)} |")
    return out


def default_cell(copier: dict, env: jinja2.Environment, spec: dict) -> str:
    """The default; one that depends on an earlier answer, per value of that answer."""
    default = spec.get("default")
    templated = isinstance(default, str) and "{" in default
    if spec.get("type") == "bool" and not templated:
        return "yes" if default else "no"
    if not templated:
        return _code(default)
    answers = default_answers(copier, env)
    [depends_on] = meta.find_undeclared_variables(env.parse(default))
    values = copier[depends_on]["choices"]
    values = values.values() if isinstance(values, dict) else values
    by_value = {v: env.from_string(default).render(answers | {depends_on: v}) for v in values}
    if spec.get("type") == "bool":  # rendered as Python's True and False
        by_value = {v: "yes" if d == "True" else "no" for v, d in by_value.items()}
    usual = max(set(by_value.values()), key=list(by_value.values()).count)
    special = [
        f"{_code(d)} with `{depends_on}` {_code(v)}" for v, d in by_value.items() if d != usual
    ]
    return ", ".join([*special, f"{_code(usual)} otherwise"])


def readme_with_table(readme: str, root: Path) -> str:
    """README's text with the generated table between its markers."""
    if README_BEGIN not in readme or README_END not in readme:
        raise ValueError(f"README.md has no {README_BEGIN} ... {README_END} block")
    head, rest = readme.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    return head + README_BEGIN + "\n" + "\n".join(choices_table(root)) + "\n" + README_END + tail


def question_section(name: str, spec: dict, line: int | None) -> list[str]:
    out = [f"## `{name}`", "", _escape(spec.get("help", "")), ""]
    out.append(f"- type: {_type(spec)}")
    out.append(f"- default: {_code(spec.get('default'))}")
    if "when" in spec:
        out.append(f"- asked only when: {_code(spec['when'])}")
    if line is not None:
        out.append(f"- defined in [`copier.yml`, line {line}](../copier.yml#L{line})")
    out.append("")
    choices = spec.get("choices")
    if choices:
        pairs = choices.items() if isinstance(choices, dict) else ((c, c) for c in choices)
        out += ["| answer | shown as |", "|---|---|"]
        out += [f"| {_code(value)} | {_escape(str(label))} |" for label, value in pairs]
        out.append("")
    if "validator" in spec:
        messages = validator_messages(spec["validator"])
        out.append("Refused, with one of these messages (`{…}` stands for a value of the answers):")
        out.append("")
        out += [f"- {_escape(message)}" for message in messages]
        out.append("")
    return out


def validator_messages(source: str) -> list[str]:
    """The messages a Copier validator can return, in the order they are checked.

    A validator is a Jinja template whose output is the refusal: each branch of its `if` blocks
    that writes text, and each string it assigns to a namespace (built in a loop), is a message.
    """
    out: list[str] = []
    _collect(jinja2.Environment().parse(source).body, out)
    return [" ".join(m.split()) for m in out if m.strip()]


def _collect(body: list[nodes.Node], out: list[str]) -> None:
    for node in body:
        if isinstance(node, nodes.If):
            for branch in [node.body, *(elif_.body for elif_ in node.elif_), node.else_]:
                outputs = [n for n in branch if isinstance(n, nodes.Output)]
                # Text of its own, not only a value computed elsewhere (`{{ ns.error }}`).
                if any(d.data.strip() for o in outputs for d in o.find_all(nodes.TemplateData)):
                    out.append("".join(_text(n) for n in outputs))
                _collect(branch, out)
        elif isinstance(node, nodes.For):
            _collect(node.body, out)
            _collect(node.else_, out)
        elif isinstance(node, nodes.Assign) and isinstance(node.target, nodes.NSRef):
            out.append(_expr(node.node))


def _text(output: nodes.Output) -> str:
    return "".join(_expr(n) for n in output.nodes)


def _expr(expr: nodes.Node) -> str:
    """Text for an expression in a message: strings as they are, values as `{name}`."""
    if isinstance(expr, nodes.TemplateData):
        return expr.data
    if isinstance(expr, nodes.Const):
        return str(expr.value)
    if isinstance(expr, nodes.Concat):
        return "".join(_expr(n) for n in expr.nodes)
    return "{" + _name(expr) + "}"


def _name(expr: nodes.Node) -> str:
    if isinstance(expr, nodes.Name):
        return expr.name
    if isinstance(expr, nodes.Getattr):
        return f"{_name(expr.node)}.{expr.attr}"
    if isinstance(expr, nodes.Filter):
        return f"{_name(expr.node)} | {expr.name}"
    return "…"


# The questions whose choices change which files, processes and dependencies a project gets.
RENDERING_QUESTIONS = (
    "user_model",
    "broker",
    "result_backend",
    "beat_scheduler",
    "queue_topology",
    "deploy_targets",
    "use_flower",
    "ci",
)


def renders_section(root: Path, copier: dict, env: jinja2.Environment) -> list[str]:
    """What each choice adds: files (from the template's conditional paths), processes (from
    `processes`), dependencies (from the rendered pyproject.toml), the other answers at their
    defaults. Only what differs between a question's choices is shown."""
    out = [
        "## What each choice renders",
        "",
        "For each question, what each choice adds to the project that another choice of the",
        "same question does not: files (the template's conditional file names, evaluated),",
        "long-running processes (`processes`) and dependencies (the rendered `pyproject.toml`),",
        "with every other answer at its default. What all choices share is left out.",
        "",
    ]
    for name in RENDERING_QUESTIONS:
        rendered = {}
        for value in choice_values(copier[name]):
            given, note = valid_answers(copier, env, {name: value})
            if value == "custom":
                note += f" (`queues` = `[{', '.join(EXAMPLE_QUEUES)}]`)"
            rendered[_label(value) + note] = project_outline(root, copier, env, given)
        common = {key: set.intersection(*(r[key] for r in rendered.values())) for key in KEYS}
        out += [f"### `{name}`", "", "| choice | files | processes | dependencies |"]
        out.append("|---|---|---|---|")
        for label, outline in rendered.items():
            cells = [
                ", ".join(_code(item) for item in sorted(outline[key] - common[key])) or "none"
                for key in KEYS
            ]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
    return out


def choice_values(spec: dict) -> list:
    """A question's choices; for a multiple choice: none, each alone, all."""
    choices = spec.get("choices") or {"yes": True, "no": False}
    values = list(choices.values()) if isinstance(choices, dict) else list(choices)
    return [[], *([v] for v in values), values] if spec.get("multiselect") else values


def valid_answers(copier: dict, env: jinja2.Environment, given: dict) -> tuple[dict, str]:
    """`given`, or, where the other defaults refuse it (`rpc` with the default broker), `given`
    with the first other choice that makes it valid; and a note naming that choice."""
    if not refusal(copier, env, given):
        return given, ""
    for other in RENDERING_QUESTIONS:
        if other in given:
            continue
        for value in choice_values(copier[other]):
            if not refusal(copier, env, given | {other: value}):
                return given | {other: value}, f" (with `{other}` {_label(value)})"
    raise ValueError(f"no valid answers with {given}")


def refusal(copier: dict, env: jinja2.Environment, given: dict) -> str:
    """The refusal of the first rendering question's validator that refuses these answers."""
    answers = default_answers(copier, env, given)
    for name in RENDERING_QUESTIONS:
        validator = copier[name].get("validator", "")
        if validator and "_copier_conf" not in validator:
            message = env.from_string(validator).render(answers).strip()
            if message:
                return message
    return ""


KEYS = ("files", "processes", "dependencies")


def _label(value) -> str:
    if isinstance(value, list):
        return "`[" + ", ".join(value) + "]`"
    return "yes" if value is True else "no" if value is False else _code(value)


def project_outline(root: Path, copier: dict, env: jinja2.Environment, answers: dict) -> dict:
    """The files, process names and dependency names of a project with these answers."""
    answers = default_answers(copier, env, answers)
    answers["queues"] = EXAMPLE_QUEUES
    # Every computed value, in copier.yml's order (a later one may read an earlier one).
    for name, spec in copier.items():
        if is_computed(name, spec):
            answers[name] = computed(copier, env, name, answers)
    processes = answers["processes"]
    pyproject = tomllib.loads(env.get_template("template/pyproject.toml.jinja").render(answers))
    requirements = pyproject["project"]["dependencies"] + pyproject["dependency-groups"]["dev"]
    return {
        "files": conditional_files(root / "template", env, answers),
        "processes": {p["name"] for p in processes},
        "dependencies": {re.split(r"[=<>~!;]", r, maxsplit=1)[0] for r in requirements},
    }


def conditional_files(template: Path, env: jinja2.Environment, answers: dict) -> set[str]:
    """Each file or folder whose name is conditional, as it renders; nothing for an empty name.

    A folder that renders is shown once (`kubernetes/`), not file by file."""
    found = set()
    for path in template.rglob("*"):
        parts = path.relative_to(template).parts
        if "_partials" in parts or "{%" not in str(path.relative_to(template)):
            continue
        rendered = []
        for part in parts:
            text = env.from_string(part).render(answers).removesuffix(".jinja")
            if not text:
                break
            rendered.append(text)
            if "{%" in part:
                # The first conditional part decides: a folder is shown as itself.
                found.add(
                    "/".join(rendered)
                    + ("/" if path.is_dir() or len(rendered) < len(parts) else "")
                )
                break
    return found


def computed_section(copier: dict, env: jinja2.Environment, lines: dict, notes: dict) -> list[str]:
    """Tables of the computed values, rendered for each queue topology."""
    answers = default_answers(copier, env)
    topologies = list(copier["queue_topology"]["choices"].values())
    out = [
        "## Computed values",
        "",
        "Never asked and never stored in the answers file (`when: false`): derived from the",
        "answers at each render, and the only place queue names, worker settings and command",
        "lines are defined.",
        "",
        "### Queues per topology",
        "",
        f"`queue_specs` ([`copier.yml`, line {lines['queue_specs']}](../copier.yml#L"
        f"{lines['queue_specs']})), picked from [`queue_table.yml`](../{QUEUE_TABLE}) for",
        "each `queue_topology`; the default queue",
        "(`default_queue`, the queue of every task without a route) is in bold. `custom` is shown",
        f"with `queues` = `[{', '.join(EXAMPLE_QUEUES)}]`.",
        "",
        *notes["queue_specs"],
        "| topology | queue | roles | concurrency | prefetch | soft limit (s) | hard limit (s) "
        "| alert: waiting | alert: age (s) | pool | brokers |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    brokers = list(copier["broker"]["choices"].values())
    routes_by_topology = {}
    for topology in topologies:
        # A row per queue, and per broker where a queue's worker differs by broker: rows are
        # rendered for each broker and those alike are merged, in the table's queue order.
        rows: dict[str, tuple[int, list[str]]] = {}
        for broker in brokers:
            context = answers | {"queue_topology": topology, "queues": EXAMPLE_QUEUES}
            context["broker"] = broker
            specs = computed(copier, env, "queue_specs", context)
            default = computed(copier, env, "default_queue", context | {"queue_specs": specs})
            for index, q in enumerate(specs):
                name = f"**`{q['name']}`**" if q["name"] == default else f"`{q['name']}`"
                roles = ", ".join(q["roles"]) or "none"
                limits = f"{q['concurrency']} | {q['prefetch']} | {q['soft']} | {q['hard']}"
                limits += f" | {q['alert_pending']} | {q['alert_age']}"
                row = f"| `{topology}` | {name} | {roles} | {limits} | {q['pool']} |"
                rows.setdefault(row, (index, []))[1].append(broker)
            if broker == answers["broker"]:
                with_specs = context | {"queue_specs": specs}
                routes_by_topology[topology] = routes(env, with_specs, default)
        for row, (_, on) in sorted(rows.items(), key=lambda item: item[1][0]):
            which = "all" if on == brokers else ", ".join(f"`{b}`" for b in on)
            out.append(f"{row} {which} |")
    out += [
        "",
        "### Routes of the example tasks",
        "",
        f"From [`{ROUTES}`](../{ROUTES}): each task goes to the queue whose roles hold its role.",
        "",
        "| example task | role | " + " | ".join(f"`{t}`" for t in topologies) + " |",
        "|---|---|" + "---|" * len(topologies),
    ]
    first = routes_by_topology[topologies[0]]
    for index, (task, role, _) in enumerate(first):
        queues = [f"`{routes_by_topology[t][index][2]}`" for t in topologies]
        label = f"`{task}`" if task else "any task without a route"
        out.append(f"| {label} | {role} | " + " | ".join(queues) + " |")
    context = answers | {"queues": EXAMPLE_QUEUES}
    context["metrics_base_port"] = computed(copier, env, "metrics_base_port", context)
    specs = computed(copier, env, "queue_specs", context)
    processes = computed(copier, env, "processes", context | {"queue_specs": specs})
    shown = ", ".join(
        f"`{k}={answers[k]}`".replace("True", "true").replace("False", "false")
        for k in ("queue_topology", "broker", "beat_scheduler", "use_flower")
    )
    out += [
        "",
        "### Processes",
        "",
        f"`processes` ([`copier.yml`, line {lines['processes']}](../copier.yml#L"
        f"{lines['processes']})), the process table the Procfile, the compose files and the",
        f"Kubernetes manifests are rendered from, for the default answers ({shown}).",
        "",
        *notes["processes"],
        "| name | kind | command | health check | grace (s) | metrics port |",
        "|---|---|---|---|---|---|",
    ]
    for p in processes:
        row = [f"`{p['name']}`", p["kind"], _code(p["command"]), _code(p["health"]), p["grace"]]
        row.append(p["metrics_port"] or "")
        out.append("| " + " | ".join(str(cell) for cell in row) + " |")
    default = computed(copier, env, "default_queue", context | {"queue_specs": specs})
    out += [
        "",
        "### Architecture",
        "",
        f"The same process and queue tables, for the same answers ({shown}, `result_backend="
        f"{answers['result_backend']}`), as a diagram: what each process sends to or reads from",
        "the broker's queues, the result backend and the database.",
        "",
        *architecture(answers, specs, processes, default),
        "",
    ]
    return out


BROKERS = {"redis": "Redis", "rabbitmq": "RabbitMQ", "sqs": "Amazon SQS"}


def architecture(answers: dict, specs: list, processes: list, default: str) -> list[str]:
    """A Mermaid flowchart of the processes, the broker's queues, the result backend and the
    database, from the computed tables (`queue_specs`, `processes`) and the answers."""
    broker, backend = answers["broker"], answers["result_backend"]
    out = ["```mermaid", "flowchart LR"]
    for p in processes:
        label = p["name"] if p["name"] == p["kind"] else f"{p['name']}<br/>{p['kind']}"
        out.append(f'  {_node("p", p["name"])}["{label}"]')
    out.append(f'  subgraph broker["broker: {BROKERS[broker]}"]')
    for q in specs:
        mark = "<br/>and tasks without a route" if q["name"] == default else ""
        roles = ", ".join(q["roles"]) or "none"
        out.append(f'    {_node("q", q["name"])}[["queue {q["name"]}<br/>roles: {roles}{mark}"]]')
    out.append("  end")
    out.append('  database[("database<br/>PostgreSQL")]')
    if backend in ("redis", "rpc"):
        label = {"redis": "Redis", "rpc": f"RPC replies over {BROKERS[broker]}"}[backend]
        out.append(f'  results[("result backend<br/>{label}")]')
    results = {"redis": "results", "rpc": "results", "django-db": "database"}.get(backend)
    for p in processes:
        node = _node("p", p["name"])
        if p["kind"] in ("web", "beat"):
            verb = "sends tasks" if p["kind"] == "web" else "sends scheduled tasks"
            out.append(f"  {node} -->|{verb}| broker")
        if p["kind"] == "worker":
            out.append(f"  {_node('q', p['queue'])} -->|consumes| {node}")
            if results:
                out.append(f"  {node} -->|results| {results}")
        if p["kind"] in ("web", "worker", "release"):
            out.append(f"  {node} --- database")
        if p["kind"] == "beat" and answers["beat_scheduler"] == "django-db":
            out.append(f"  {node} -->|reads the schedule| database")
        if p["kind"] == "beat" and answers["beat_scheduler"] == "redbeat":
            redis = "broker" if broker == "redis" else "results"
            out.append(f"  {node} -->|schedule and lock| {redis}")
        if p["kind"] == "flower":
            out.append(f"  broker -->|events| {node}")
    out.append("```")
    return out


def _node(kind: str, name: str) -> str:
    """A Mermaid node id for a process (`p`) or a queue (`q`): letters, digits, underscores."""
    return f"{kind}_" + re.sub(r"\W", "_", name)


def default_answers(copier: dict, env: jinja2.Environment, given: dict | None = None) -> dict:
    """Each asked question's default, rendered in order as Copier does (where plain Jinja can);
    the `given` answers instead of their defaults, and in the defaults that depend on them."""
    answers: dict = {}
    for name, spec in copier.items():
        if not is_question(name, spec):
            continue
        if given and name in given:
            answers[name] = given[name]
            continue
        default = spec.get("default")
        if isinstance(default, str) and "{" in default:
            try:
                default = env.from_string(default).render(answers)
            except jinja2.TemplateError:
                continue  # a default only Copier can render: not needed for the tables
        if spec.get("type") == "yaml" and isinstance(default, str):
            default = yaml.safe_load(default)
        if spec.get("type") == "bool" and isinstance(default, str):  # as Copier casts it
            default = default.strip().lower() in {"y", "yes", "t", "true", "on", "1"}
        answers[name] = default
    return answers


def computed(copier: dict, env: jinja2.Environment, name: str, context: dict):
    spec = copier[name]
    rendered = env.from_string(str(spec["default"])).render(context)
    kind = spec.get("type")
    if kind == "bool":  # as Copier casts it: the text "False" is false
        return rendered.strip().lower() in {"y", "yes", "t", "true", "on", "1"}
    if kind == "int":
        return int(rendered)
    return yaml.safe_load(rendered) if kind == "yaml" else rendered


def is_computed(name: str, spec) -> bool:
    """A value derived at each render (`when: false`), never asked, never stored."""
    return not name.startswith("_") and isinstance(spec, dict) and spec.get("when") is False


def routes(env: jinja2.Environment, context: dict, default: str) -> list[tuple]:
    """(task, role, queue) for each example route, then (None, ...) for a task without one."""
    module = env.get_template(ROUTES).make_module(context)
    table = [(task, role, str(module.queue_for(role))) for task, role in module.example_routes]
    return table + [(None, "default", default)]


def is_question(name: str, spec) -> bool:
    """A question Copier asks (not a setting such as `_envops`, not a computed value)."""
    return not name.startswith("_") and spec.get("when") is not False


def comment_above(text: str, line: int, source: str = "copier.yml") -> list[str]:
    """The comment right above a key of copier.yml (or of `source`), as Markdown: its paragraph,
    then one item per `field: explanation` line (a line indented further continues the one
    before)."""
    above: list[str] = []
    for raw in reversed(text.splitlines()[: line - 1]):
        if not raw.startswith("#") or raw.startswith("# ==="):
            break
        above.insert(0, raw[1:].removeprefix(" "))
    if not above:
        return []
    blocks: list[str] = []
    for comment in above:
        item = re.match(r"[a-z_/]+: ", comment)
        if blocks and (comment.startswith(" ") or not item and not blocks[-1].startswith("- ")):
            blocks[-1] += " " + comment.strip()
        else:
            blocks.append(f"- {comment}" if item and blocks else comment)
    paragraph, *items = blocks
    return [f"From the comment in `{source}`:", "", _escape(paragraph), ""] + (
        [f"- {_escape(i[2:])}" for i in items] + [""] if items else []
    )


def line_numbers(text: str) -> dict[str, int]:
    """The line of copier.yml where each top-level key is defined."""
    lines = enumerate(text.splitlines(), start=1)
    return {m[1]: n for n, line in lines if (m := re.match(r"([a-z][a-z0-9_]*):", line))}


def _type(spec: dict) -> str:
    kind = TYPE_NAMES.get(spec.get("type", "str"), spec.get("type"))
    if spec.get("multiselect"):
        return "multiple choice"
    return "choice" if spec.get("choices") else kind


def _code(value) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, bool | list | dict):
        # YAML as in copier.yml (`[compose]`, `true`), not Python's repr.
        value = yaml.safe_dump(value, default_flow_style=True, width=1000)
        value = value.removesuffix("\n").removesuffix("...").strip()
    text = str(value)
    ticks = "``" if "`" in text else "`"
    return f"{ticks}{text}{ticks}"


def _escape(text: str) -> str:
    """Text shown as written, code spans (`...`) kept as code."""
    parts = re.split(r"(`[^`]+`)", text)
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"([\\*_\[\]|])", r"\\\1", html.escape(parts[i], quote=False))
    return "".join(parts)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["readme"]:
        sys.exit("usage: python docs/_hooks/copier_reference.py readme")
    repo = Path(__file__).resolve().parents[2]
    readme = repo / "README.md"
    readme.write_text(readme_with_table(readme.read_text(encoding="utf-8"), repo), encoding="utf-8")
