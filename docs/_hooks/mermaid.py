"""MkDocs hook: Mermaid's JavaScript, fetched from the npm registry at build time, never committed.

Material draws ```mermaid blocks with Mermaid, which it loads from a CDN unless the page already
defines `mermaid`; the site loads nothing from outside, so mkdocs.yml's `extra_javascript` names
a copy served with the site. That copy is `package/dist/mermaid.min.js` (and the package's LICENSE
beside it) from the npm tarball of the version pinned below, checked against the registry's
`dist.integrity`. The verified tarball is kept in the user's cache folder, so later builds and
`mkdocs serve` need no network; a download that fails or does not match stops the build.

To update: set VERSION and INTEGRITY from `https://registry.npmjs.org/mermaid/<version>`
(`dist.integrity`), keeping the major Material loads (tests/test_docs_site.py checks it).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

VERSION = "11.17.2"
# The registry's `dist.integrity`, whole as it gives it (so one line, however long).
INTEGRITY = "sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7LoaRQxULMa80/qt5gHO73aCleBBg=="  # noqa: E501
TARBALL = f"https://registry.npmjs.org/mermaid/-/mermaid-{VERSION}.tgz"
# Where extra_javascript in mkdocs.yml expects the script; the LICENSE goes beside it.
SCRIPT = "assets/mermaid/mermaid.min.js"
MEMBERS = {"package/dist/mermaid.min.js": SCRIPT, "package/LICENSE": "assets/mermaid/LICENSE"}


def on_files(files: Files, config) -> Files:
    for path, content in extract(tarball()).items():
        files.append(File.generated(config, path, content=content))
    return files


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "copier-django-celery" / "npm"


def tarball() -> Path:
    """The verified tarball: from the cache, else downloaded into it."""
    cached = cache_dir() / f"mermaid-{VERSION}.tgz"
    if cached.exists():
        if not matches(cached.read_bytes()):
            raise PluginError(
                f"{cached} does not match the integrity pinned in docs/_hooks/mermaid.py: delete "
                "it to download it again, or correct INTEGRITY there from the registry."
            )
        return cached
    try:
        with urllib.request.urlopen(TARBALL, timeout=60) as response:
            data = response.read()
    except OSError as error:
        raise PluginError(
            f"Cannot download {TARBALL} ({error}): the docs build needs the npm registry once, "
            f"then uses its cache in {cached.parent}; check the network or proxy and build again."
        ) from error
    if not matches(data):
        raise PluginError(
            f"{TARBALL} does not match the integrity pinned in docs/_hooks/mermaid.py: check "
            f"INTEGRITY against https://registry.npmjs.org/mermaid/{VERSION} (dist.integrity)."
        )
    cached.parent.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed: a build stopped halfway leaves no partial tarball in the cache.
    with tempfile.NamedTemporaryFile(dir=cached.parent, delete=False) as part:
        part.write(data)
    os.replace(part.name, cached)
    return cached


def matches(data: bytes) -> bool:
    algorithm, _, expected = INTEGRITY.partition("-")
    digest = hashlib.new(algorithm, data).digest()
    return base64.b64encode(digest).decode() == expected


def extract(path: Path) -> dict[str, bytes]:
    """The site path and content of each file of MEMBERS, read in one pass over the tarball."""
    out: dict[str, bytes] = {}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            if member.name in MEMBERS and member.isfile():
                out[MEMBERS[member.name]] = archive.extractfile(member).read()
                if len(out) == len(MEMBERS):
                    return out
    missing = sorted(set(MEMBERS) - {k for k, v in MEMBERS.items() if v in out})
    raise PluginError(f"{path} has no {', '.join(missing)}: is VERSION a Mermaid release?")
