"""The docs site (mkdocs.yml over docs/): a strict build with no warning, and pages generated
from copier.yml that follow it.

`mkdocs build --strict` fails on a link to a missing page, file or anchor (the `validation`
settings of mkdocs.yml); the hooks in docs/_hooks/ generate the home page (README.md), the
changelog, the question reference and the setting tables of defaults.md (from docs/settings.yml)
at each build.
"""

import base64
import hashlib
import html
import io
import json
import re
import shutil
import tarfile
from pathlib import Path

import material
import pytest
import yaml

from support.boot.processes import procfile
from support.docs_site import REPO_URL, build, load_hook, warnings
from support.project_env import project_requirements
from support.releases import REPO


def text_of(page: Path) -> str:
    """The page's visible text, one space for each run of whitespace."""
    text = re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))
    return " ".join(html.unescape(text).split())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    result = build(REPO, site)
    assert result.returncode == 0, result.stderr
    assert warnings(result) == [], "\n".join(warnings(result))
    return site


def test_question_reference_lists_every_question_of_copier_yml(site: Path) -> None:
    copier = yaml.safe_load((REPO / "copier.yml").read_text())
    page = (site / "reference" / "index.html").read_text(encoding="utf-8")
    text = text_of(site / "reference" / "index.html")
    asked = [k for k, v in copier.items() if not k.startswith("_") and v.get("when") is not False]
    assert asked, "no question read from copier.yml"
    for name in asked:
        assert f'id="{name}"' in page, f"no section for {name}"
        assert " ".join(copier[name]["help"].split()) in text, f"help of {name} missing"
        choices = copier[name].get("choices") or []
        for value in choices.values() if isinstance(choices, dict) else choices:
            assert value in text, f"choice {value} of {name} missing"
    # A validator's message, with the answer it names as a placeholder.
    assert "needs broker=rabbitmq; with broker={broker} choose" in text


def test_queue_tables_are_the_rendered_queue_specs(site: Path) -> None:
    text = text_of(site / "reference" / "index.html")
    # The workload topology's middle queue, as copier.yml defines it: 8 children, prefetch 4,
    # and its alerts' thresholds (1000 messages, 300 s).
    assert "workload communications default, io 8 4 120 180 1000 300" in text
    # On Redis the same queue's worker runs the gevent pool instead.
    assert "workload communications default, io 32 2 120 180 1000 300 gevent redis" in text
    assert "worker-bulk worker celery -A config worker --queues bulk --hostname" in text


def test_links_out_of_docs_reach_the_repository(site: Path) -> None:
    testing = (site / "testing" / "index.html").read_text(encoding="utf-8")
    assert f'href="{REPO_URL}/blob/main/tests/conftest.py"' in testing
    assert f'href="{REPO_URL}/tree/main/tests"' in testing
    # README.md is the home page: its links to docs/ reach the site's own pages.
    home = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="questions/"' in home and 'href="changelog/"' in home
    changelog = text_of(site / "changelog" / "index.html")
    first_release = re.search(r"^## (.+)$", (REPO / "CHANGELOG.md").read_text(), re.M)[1]
    assert first_release in changelog


def copy_site_sources(root: Path) -> None:
    """What the docs build reads, copied to `root`."""
    shutil.copytree(REPO / "docs", root / "docs")
    shutil.copytree(REPO / "overrides", root / "overrides")
    for name in ("mkdocs.yml", "README.md", "CHANGELOG.md", "copier.yml"):
        shutil.copy2(REPO / name, root / name)
    # The template: the reference's "What each choice renders" reads its file names and its
    # pyproject.toml, and the defaults page links to the generated tests the registry names.
    shutil.copytree(REPO / "template", root / "template")
    # The tests the settings registry names: the defaults page links to their lines.
    shutil.copytree(REPO / "tests", root / "tests", ignore=shutil.ignore_patterns("__pycache__"))


def test_a_broken_link_or_anchor_fails_the_build(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    copy_site_sources(root)
    questions = root / "docs" / "questions.md"
    questions.write_text(
        questions.read_text()
        + "\n[gone](defaults.md#no-such-anchor) [missing](../no-such-file.py)\n"
    )
    result = build(root, tmp_path / "site")
    assert result.returncode == 1
    found = "\n".join(warnings(result))
    assert "does not contain an anchor '#no-such-anchor'" in found
    assert "'../no-such-file.py', but the target is not found" in found


def test_defaults_tables_are_the_settings_registry(site: Path) -> None:
    registry = yaml.safe_load((REPO / "docs" / "settings.yml").read_text())
    page = (site / "defaults" / "index.html").read_text(encoding="utf-8")
    text = text_of(site / "defaults" / "index.html")
    for entry in (e for section in registry.values() for e in section):
        names = entry["name"] if isinstance(entry["name"], list) else [entry["name"]]
        for name in names:
            assert f"<code>{name}" in page, f"{name} not on the defaults page"
        for spec in entry.get("options", [entry]):
            # Up to the first Markdown link or code span, which the page shows as such.
            plain = re.split(r"[\[`]", " ".join(spec["why"].split()))[0]
            assert plain in text, f"reason of {names} not shown"
    # A row: names, value, reason, source, and its test linked to the line that defines it.
    line = next(
        n
        for n, code in enumerate((REPO / "tests" / "boot" / "test_delivery.py").open(), start=1)
        if code.startswith("def test_worker_killed_mid_run_loses_no_task(")
    )
    assert f'href="{REPO_URL}/blob/main/tests/boot/test_delivery.py#L{line}"' in page
    assert "CELERY_TASK_ACKS_LATE ( task_acks_late ) True A message is acknowledged" in text
    assert f'href="{REPO_URL}/blob/main/docs/settings.yml"' in page
    assert "<!-- settings:" not in page


def test_a_settings_marker_without_its_section_fails_the_build(tmp_path: Path) -> None:
    tables = load_hook("settings_table")
    page = (REPO / "docs" / "defaults.md").read_text()
    with pytest.raises(Exception, match=r"no section \['nowhere'\].*no marker \['beat'\]"):
        tables.render_markers(
            page.replace("<!-- settings: beat -->", "<!-- settings: nowhere -->"), REPO
        )


def test_performance_tables_are_the_benchmark_results(site: Path) -> None:
    results = json.loads((REPO / "docs" / "performance" / "results.json").read_text())
    text = text_of(site / "performance" / "index.html")
    assert "<!-- bench:" not in (site / "performance" / "index.html").read_text()
    assert f"Celery {results['machine']['celery']}" in text
    for broker, figures in results["brokers"].items():
        noop = figures["noop"]
        generated, defaults = (noop[v]["tasks_per_second"] for v in ("generated", "bare-defaults"))
        # Each broker's row of short tasks: the three figures, then the two ratios.
        row = f"{generated:.0f} {noop['bare-safety']['tasks_per_second']:.0f} {defaults:.0f}"
        assert row in text, f"{broker}: {row} not on the page"
        assert f"{generated / defaults:.2f}" in text
        assert figures["noop"]["generated_command"] in text
    # The results file itself is published beside the page.
    assert json.loads((site / "performance" / "results.json").read_text()) == results


def test_a_bench_marker_for_an_unmeasured_broker_fails_the_build() -> None:
    tables = load_hook("bench_table")
    page = (REPO / "docs" / "performance.md").read_text() + "\n<!-- bench: sqs -->\n"
    with pytest.raises(Exception, match=r"does not hold: \['sqs'\]"):
        tables.render_markers(page, REPO)


def test_a_change_to_copier_yml_changes_the_reference(tmp_path: Path) -> None:
    reference = load_hook("copier_reference")
    copier = yaml.safe_load((REPO / "copier.yml").read_text())
    copier["broker"]["help"] = "Which broker carries the tasks (changed)"
    copier["result_backend"]["validator"] = copier["result_backend"]["validator"].replace(
        "needs broker=rabbitmq", "needs RabbitMQ (changed)"
    )
    shutil.copytree(REPO / "template", tmp_path / "template")
    table = tmp_path / "template" / "_partials" / "queue_table.yml"
    table.write_text(
        table.read_text()
        .replace("concurrency: 8, prefetch: 4", "concurrency: 16, prefetch: 4")
        .replace("{name: bulk, roles: [heavy]", "{name: batch, roles: [heavy]")
    )
    (tmp_path / "copier.yml").write_text(yaml.safe_dump(copier, sort_keys=False))
    page = reference.render_page(tmp_path)
    assert "Which broker carries the tasks (changed)" in page
    assert "needs RabbitMQ (changed)" in page
    assert "| `workload` | **`communications`** | default, io | 16 | 4 | 120 | 180 |" in page
    assert "Message broker that carries the tasks" not in page
    # The architecture diagram (default answers: the priority topology) follows the queue table.
    diagram = page.split("```mermaid", 1)[1].split("```", 1)[0]
    assert 'q_batch[["queue batch<br/>roles: heavy"]]' in diagram
    assert "q_batch -->|consumes| p_worker_batch" in diagram
    assert "bulk" not in diagram
    # What each choice renders follows the changed topology too.
    assert "`worker-batch`, `worker-critical`, `worker-default`" in page


def test_readme_choices_table_is_generated_from_copier_yml() -> None:
    reference = load_hook("copier_reference")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert reference.readme_with_table(readme, REPO) == readme, (
        "README.md's table of choices differs from copier.yml: run "
        "`python docs/_hooks/copier_reference.py readme` and commit README.md"
    )


def test_the_choices_table_follows_copier_yml(tmp_path: Path) -> None:
    reference = load_hook("copier_reference")
    copier = yaml.safe_load((REPO / "copier.yml").read_text())
    copier["broker"]["choices"]["NATS"] = "nats"
    copier["result_backend"]["default"] = "{{ 'rpc' if broker == 'rabbitmq' else 'django-db' }}"
    (tmp_path / "copier.yml").write_text(yaml.safe_dump(copier, sort_keys=False))
    shutil.copytree(REPO / "template" / "_partials", tmp_path / "template" / "_partials")
    table = tmp_path / "template" / "_partials" / "queue_table.yml"
    table.write_text(
        table.read_text().replace("{name: bulk, roles: [heavy]", "{name: batch, roles: [heavy]")
    )
    table = "\n".join(reference.choices_table(tmp_path))
    assert "| `broker` | `redis`, `rabbitmq`, `sqs`, `nats` | `redis` |" in table
    assert "`rpc` with `broker` `rabbitmq`, `django-db` otherwise |" in table
    assert "`priority` (critical / default / batch)" in table


def test_what_each_choice_renders_is_what_copier_renders(render, tmp_path: Path) -> None:
    """Each row of the reference's "What each choice renders", rendered by Copier: the
    conditional files it lists are there and the others not, and its processes and dependency
    names are the Procfile's and pyproject.toml's."""
    reference = load_hook("copier_reference")
    copier, env = reference.load(REPO)
    projects: dict[str, Path] = {}
    for name in reference.RENDERING_QUESTIONS:
        rows = []
        for value in reference.choice_values(copier[name]):
            given, _ = reference.valid_answers(copier, env, {name: value})
            rows.append((given, reference.project_outline(REPO, copier, env, given)))
        every_file = set().union(*(outline["files"] for _, outline in rows))
        for given, outline in rows:
            if given.get("queue_topology") == "custom":
                given = given | {"queues": reference.EXAMPLE_QUEUES}
            key = json.dumps(given, sort_keys=True)
            if key not in projects:  # the default answers come back once per question
                projects[key] = render(given, tmp_path / str(len(projects)))
            project = projects[key]
            present = {f for f in every_file if (project / f.rstrip("/")).exists()}
            assert present == outline["files"], (given, present, outline["files"])
            assert set(procfile(project)) == outline["processes"], given
            declared = {
                re.split(r"[=<>~!;]", r, maxsplit=1)[0] for r in project_requirements(project)
            }
            assert declared == outline["dependencies"], (given, declared ^ outline["dependencies"])


def test_validator_messages_are_every_branch_that_writes_text() -> None:
    reference = load_hook("copier_reference")
    source = (
        "{% if not x %}x must be set{% elif x | length > 3 %}x {{ x }} is too long{% else %}"
        "{% set ns = namespace(error='') %}{% for q in x %}{% if q == 'a' %}"
        "{% set ns.error = 'item ' ~ q ~ ' is reserved' %}{% endif %}{% endfor %}"
        "{{ ns.error }}{% endif %}"
    )
    assert reference.validator_messages(source) == [
        "x must be set",
        "x {x} is too long",
        "item {q} is reserved",
    ]


def test_the_comment_above_a_key_is_its_note() -> None:
    reference = load_hook("copier_reference")
    text = (
        "# ====\n"
        "# One row per queue, with `name` first.\n"
        "# soft/hard: limits in seconds; every hard limit\n"
        "#   stays under 30 min.\n"
        "queue_specs:\n"
    )
    assert reference.comment_above(text, 5) == [
        "From the comment in `copier.yml`:",
        "",
        "One row per queue, with `name` first.",
        "",
        "- soft/hard: limits in seconds; every hard limit stays under 30 min.",
        "",
    ]
    assert reference.comment_above("# ====\nbroker:\n", 2) == []


def test_the_site_serves_the_pinned_mermaid(site: Path) -> None:
    """The built site's mermaid.min.js is the one in the npm tarball whose sha512 is pinned."""
    hook = load_hook("mermaid")
    tarball = hook.tarball().read_bytes()
    algorithm, digest = hook.INTEGRITY.split("-", 1)
    assert algorithm == "sha512"
    assert base64.b64encode(hashlib.sha512(tarball).digest()).decode() == digest
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        expected = archive.extractfile("package/dist/mermaid.min.js").read()
        assert f'"version":"{hook.VERSION}"'.encode() in archive.extractfile(
            "package/package.json"
        ).read().replace(b" ", b"")
    script = site / "assets" / "mermaid" / "mermaid.min.js"
    assert script.read_bytes() == expected
    assert f'"{hook.VERSION}"' in script.read_text(encoding="utf-8")
    assert "MIT License" in (script.parent / "LICENSE").read_text(encoding="utf-8")
    # mkdocs.yml's extra_javascript names the path the hook writes to.
    assert f"  - {hook.SCRIPT}\n" in (REPO / "mkdocs.yml").read_text()


def test_mermaid_is_the_major_material_expects() -> None:
    """Material loads Mermaid from a CDN unless the page defines it: the pin keeps that major."""
    version = load_hook("mermaid").VERSION
    bundle = next(
        (Path(material.__file__).parent / "templates/assets/javascripts").glob("bundle.*.js")
    )
    expected = re.search(r"unpkg\.com/mermaid@(\d+)/", bundle.read_text(encoding="utf-8"))[1]
    assert version.split(".")[0] == expected, f"Material loads Mermaid {expected}, not {version}"


def test_a_tarball_that_does_not_match_the_pin_fails_the_build(tmp_path: Path) -> None:
    """A wrong integrity in a copy of the hook: the cached tarball no longer matches it."""
    load_hook("mermaid").tarball()  # the verified tarball is in the cache (downloaded at most once)
    root = tmp_path / "repo"
    copy_site_sources(root)
    hook = root / "docs" / "_hooks" / "mermaid.py"
    text = hook.read_text()
    pinned = re.search(r'"(sha512-[^"]+)"', text)[1]
    wrong = "sha512-" + base64.b64encode(hashlib.sha512(b"not mermaid").digest()).decode()
    hook.write_text(text.replace(pinned, wrong))
    result = build(root, tmp_path / "site")
    assert result.returncode == 1
    assert "does not match the integrity pinned in docs/_hooks/mermaid.py" in result.stderr
    assert not (tmp_path / "site" / "assets" / "mermaid" / "mermaid.min.js").exists()
