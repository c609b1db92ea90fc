"""MkDocs hook: the repository's own pages on the site, and links from the site into the repository.

The Markdown files stay readable on GitHub, where `../tests/conftest.py` is a file beside the
docs. On the site, such a link has no page to reach, so at build time it becomes a link to the file
in the repository (`repo_url` of mkdocs.yml, branch `main`). README.md and CHANGELOG.md are served
as pages of their own (`index.md`, `changelog.md`), generated from the files at each build, never
copied; their links are relative to the repository's root and are rewritten the same way.

So does a link to a file of docs/ that `exclude_docs` leaves out of the site (docs/settings.yml).
A link to a file that does not exist is left as it is, so `mkdocs build --strict` still reports it.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File, Files

# The branch links into the repository point at.
BRANCH = "main"
# Repository files served as site pages: repository path -> page (docs/ files map themselves).
ROOT_PAGES = {"README.md": "index.md", "CHANGELOG.md": "changelog.md"}
# Inline links and images `](target)` and reference definitions `[label]: target`.
LINK = re.compile(r"(?P<head>\]\(|^\s{0,3}\[[^\]]+\]:\s+)(?P<target><[^>]*>|[^)\s]+)", re.M)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def on_files(files: Files, config) -> Files:
    """Add README.md and CHANGELOG.md of the repository as the home and changelog pages."""
    root = _root(config)
    for source, page in ROOT_PAGES.items():
        content = (root / source).read_text(encoding="utf-8")
        files.append(File.generated(config, page, content=content))
    return files


def on_page_markdown(markdown: str, page, config, files: Files) -> str:
    """Rewrite each relative link that leaves docs/ (or starts at the root) for the site."""
    src_uri = page.file.src_uri
    # Where the Markdown file lives in the repository, which its relative links start from.
    sources = {page_: source for source, page_ in ROOT_PAGES.items()}
    repo_path = sources.get(src_uri, f"{_docs_dir_name(config)}/{src_uri}")
    return rewrite_links(markdown, repo_path, src_uri, _root(config), config, files)


def rewrite_links(markdown, repo_path, src_uri, root, config, files) -> str:
    docs = _docs_dir_name(config)
    # Repository path of each site page, for links that reach one (README.md -> index.md).
    page_of = {f"{docs}/{f.src_uri}": f.src_uri for f in files.documentation_pages()}
    page_of.update(ROOT_PAGES)

    def replace(match: re.Match) -> str:
        raw = match["target"]
        target = raw[1:-1] if raw.startswith("<") else raw
        if not target or target.startswith(("#", "/")) or SCHEME.match(target):
            return match[0]
        path, _, fragment = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(repo_path), path))
        if resolved.startswith("../") or not (root / resolved).exists():
            return match[0]  # Outside the repository or missing: MkDocs reports it.
        anchor = f"#{fragment}" if fragment else ""
        if resolved in page_of:
            relative = posixpath.relpath(page_of[resolved], posixpath.dirname(src_uri) or ".")
            new = relative + anchor
        elif resolved.startswith(f"{docs}/") and _on_site(files, resolved[len(docs) + 1 :]):
            return match[0]  # A file of the site itself (an image): MkDocs resolves it.
        else:
            kind = "tree" if (root / resolved).is_dir() else "blob"
            new = f"{config['repo_url'].rstrip('/')}/{kind}/{BRANCH}/{resolved}{anchor}"
        return match["head"] + new

    return LINK.sub(replace, markdown)


def _on_site(files: Files, src_uri: str) -> bool:
    """Whether a file of docs/ is part of the built site (not left out by `exclude_docs`)."""
    file = files.get_file_from_path(src_uri)
    return file is not None and not file.inclusion.is_excluded()


def _root(config) -> Path:
    return Path(config["config_file_path"]).resolve().parent


def _docs_dir_name(config) -> str:
    return Path(config["docs_dir"]).resolve().relative_to(_root(config)).as_posix()
