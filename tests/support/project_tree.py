"""A rendered project's files, read once, and comparisons between two projects' trees."""

from pathlib import Path

CONFLICT_MARKERS = ("<<<<<<< before updating", ">>>>>>> after updating")
# Generated per copy (fresh secrets), and never rewritten by an update.
PER_COPY = {".env"}


def tree(project: Path) -> dict[str, bytes]:
    """Every file of the project but git's own, by its path relative to the project."""
    return {
        str(p.relative_to(project)): p.read_bytes()
        for p in project.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(project).parts
    }


def assert_no_conflicts(files: dict[str, bytes]) -> None:
    rejects = sorted(name for name in files if name.endswith(".rej"))
    assert not rejects, rejects
    for name, content in files.items():
        text = content.decode(errors="replace")
        assert not any(m in text for m in CONFLICT_MARKERS), name


def assert_same_tree_as(ours: dict[str, bytes], theirs: dict[str, bytes], edited: set[str]) -> None:
    """`ours` is `theirs` (a fresh copy with the same answers), the user's edits aside."""
    assert set(theirs) <= set(ours), sorted(set(theirs) - set(ours))
    assert set(ours) - set(theirs) <= edited, sorted(set(ours) - set(theirs) - edited)
    differing = sorted(n for n in theirs if n not in edited | PER_COPY and ours[n] != theirs[n])
    assert not differing, differing
