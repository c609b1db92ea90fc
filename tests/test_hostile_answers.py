"""Hostile answers: every set is refused without writing anything, or renders a project that passes
its own ruff check, ruff format --check, compileall and manage.py check, whose text answers read
back as given from TOML and Markdown, and whose Kubernetes names are DNS-1123 labels.

The hand-written sets are the review's (issue 13); the Hypothesis test generates more. Both run in
the render tier, in the shared check environments (tests/conftest.py).
"""

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from support.hostile_answers import assert_sound, attempt

pytestmark = pytest.mark.matrix

K8S = {"deploy_targets": ["compose", "kubernetes"]}
CUSTOM = {"queue_topology": "custom", **K8S}

# (answers, the refusal's words, or None: must render a sound project).
HOSTILE = [
    # Slugs naming modules of the standard library or of a dependency (derived list).
    *[({"project_slug": s}, "would shadow a module") for s in ("asyncio", "string", "abc")],
    *[({"project_slug": s}, "would shadow a module") for s in ("billiard", "vine", "tornado")],
    *[
        ({"project_slug": s}, "would shadow a module")
        for s in ("config", "tests", "manage", "core")
    ],
    ({"project_slug": "class"}, "is a Python keyword"),
    # Anchored: a trailing newline is no identifier.
    ({"project_slug": "abc\n"}, "must be a Python identifier"),
    ({"project_slug": "shop\n"}, "must be a Python identifier"),
    ({"project_slug": "Shop"}, "must be a Python identifier"),
    ({"project_slug": "shop_"}, "must not end with an underscore"),
    ({"project_slug": "s" * 31}, "longer than 30 characters"),
    ({"project_name": "😀"}, "must be a Python identifier"),
    # Text that cannot stay one line.
    ({"project_name": "Two\nLines"}, "one line of text"),
    ({"description": "tab\there"}, "one line of text"),
    ({"description": "line\u2028separator"}, "one line of text"),
    ({"author_name": "nul\x00"}, "one line of text"),
    ({"author_name": " "}, "must not be empty"),
    # Emails an env file or Django's validator would not take as written.
    *[
        ({"author_email": e}, "must be an email address")
        for e in (
            "you@example.com\n",
            'a"b@example.com',
            "a#b@example.com",
            "a$b@example.com",
            "ü@example.com",
            "a@-example.com",
            "a@example.c",
            "a..b@example.com",
        )
    ],
    # Queues: kombu's Redis keys, names Kubernetes cannot take, anchoring.
    *[({**CUSTOM, "queues": ["default", q]}, "kombu keeps in Redis") for q in ("unacked",)],
    ({**CUSTOM, "queues": ["unacked_index"]}, "kombu keeps in Redis"),
    ({**CUSTOM, "queues": ["unacked_mutex"]}, "kombu keeps in Redis"),
    ({**CUSTOM, "queues": ["default", "reports_"]}, 'queue name "reports_" is not valid'),
    ({**CUSTOM, "queues": ["default", "re-ports"]}, 'queue name "re-ports" is not valid'),
    ({**CUSTOM, "queues": ["default\n"]}, "is not valid"),
    # Booleans are true or false, nothing Copier would guess.
    *[({"use_flower": v}, "use_flower must be true or false") for v in ("maybe", "yes", "1", "")],
    # Accepted: slugs sorting before and after `config`, emoji, quotes, markup, underscores.
    ({"project_slug": "api", **K8S}, None),
    ({"project_slug": "billing", "description": 'Bills 🧾 and "quotes" \\ too'}, None),
    ({"project_slug": "accounts", "author_name": 'Zoë O\'Brien 😀 "Z"'}, None),
    ({"project_slug": "zeta", "project_name": "# Shop *bold* <b>&amp;</b> [x](y) `z`"}, None),
    ({"project_slug": "config_tools", "description": "- not a list | not a table"}, None),
    ({"project_slug": "ordered", "description": "1. no list", "project_name": "    Code?"}, None),
    (
        {"project_slug": "a1", "description": "", "author_email": "first.last+tag@mail.example.co"},
        None,
    ),
    ({**CUSTOM, "queues": ["default", "reports_daily", "a__b"], "project_slug": "ledger"}, None),
    ({**CUSTOM, "queues": ["x" * 40], "use_flower": "false"}, None),
    # Words YAML reads as booleans or null are queue names like any other (the queue table is YAML).
    (
        {**CUSTOM, "queues": ["default", "on", "null", "no", "true"], "project_slug": "yamlish"},
        None,
    ),
    ({"use_flower": "true", "project_name": "日本語のプロジェクト", "project_slug": "nihon"}, None),
    (
        {
            **CUSTOM,
            "project_slug": "match",
            "queues": ["celery", "q"],
            "author_email": "A.B@Ex.COM",
        },
        None,
    ),
    ({"project_slug": "a", "author_name": "\u202eevil\u202c", "description": "\ufeffBOM"}, None),
    ({"project_name": "n" * 101}, "longer than 100 characters"),
    ({"description": "d" * 301}, "longer than 300 characters"),
    ({"author_name": "a" * 101}, "longer than 100 characters"),
]


def _id(case: tuple) -> str:
    answers, expected = case
    return ("refused-" if expected else "sound-") + "-".join(
        f"{k}={v!r}"[:40] for k, v in answers.items() if k not in ("deploy_targets",)
    )


@pytest.mark.parametrize(("answers", "expected"), HOSTILE, ids=[_id(c) for c in HOSTILE])
def test_hostile_answers_are_refused_or_sound(
    render, shared_requirements, tmp_path, answers, expected
) -> None:
    refusal = attempt(render, answers, tmp_path / "project")
    if expected is None:
        assert refusal is None, refusal
        assert_sound(tmp_path / "project", answers, shared_requirements["5.2"])
    else:
        assert refusal is not None and expected in refusal, refusal


# --- generated answer sets ---------------------------------------------------------------------

_identifier = st.from_regex(r"[a-z][a-z0-9_]{0,14}[a-z0-9]", fullmatch=True)
_near_misses = st.sampled_from(["api", "abc\n", "asyncio", "vine", "shop_", "unacked", "Ab", ""])
# Names YAML 1.1 reads as something other than a string when unquoted.
_yaml_words = st.sampled_from(["on", "off", "yes", "no", "y", "n", "true", "false", "null"])
# One line of any Unicode (every category but controls, surrogates and line separators) ...
_line = st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30)
# ... or anything at all.
_any_text = st.text(max_size=30)
_emails = st.from_regex(
    r"[a-z0-9_%+-]{1,8}(\.[a-z0-9]{1,4})?@[a-z0-9]{1,8}\.[a-z]{2,4}", fullmatch=True
)


def _mostly(draw, usual, hostile):
    """Four draws in five from `usual`: enough answer sets are accepted to be checked."""
    return draw(hostile if draw(st.integers(0, 4)) == 4 else usual)


@st.composite
def answer_sets(draw) -> dict:
    answers = {
        "project_name": _mostly(draw, _line.filter(str.strip), _any_text),
        "description": _mostly(draw, _line, _any_text),
        "author_name": _mostly(draw, _line.filter(str.strip), _any_text),
        "author_email": _mostly(draw, _emails, st.one_of(st.emails(), _any_text)),
        **K8S,
    }
    # None: the slug Copier derives from the name.
    slug = _mostly(draw, _identifier, st.one_of(st.none(), _near_misses, _any_text))
    if slug is not None:
        answers["project_slug"] = slug
    if draw(st.booleans()):
        queue = st.one_of(_identifier, _identifier, _near_misses, _yaml_words, st.text(max_size=6))
        queues = _mostly(draw, st.lists(_identifier, min_size=1, max_size=3), st.lists(queue))
        answers.update(queue_topology="custom", queues=queues)
    answers["use_flower"] = _mostly(
        draw, st.booleans(), st.sampled_from(["maybe", "true", "false", "no", 0])
    )
    return answers


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(answers=answer_sets())
@example(answers={"project_slug": "api", "description": "🚀", **CUSTOM, "queues": ["a_b"]})
def test_generated_answer_sets_are_refused_or_sound(render, shared_requirements, answers) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        refusal = attempt(render, answers, project)
        event("refused" if refusal else "accepted and sound")
        if refusal is None:
            assert_sound(project, answers, shared_requirements["5.2"])
