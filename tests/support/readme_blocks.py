"""The shell blocks a README marks as tested, read so that a test can run them as written.

A tested block is a fenced `sh` block right after an HTML comment naming it:

    <!-- tested: local-stack -->
    ```sh
    uv run python manage.py dev     # comments after a command are the shell's to ignore
    ```

The comment renders as nothing on GitHub, GitLab and the docs site; the test finds the block by
its name, so the README and the test cannot drift: the test runs the README's own lines.
"""

import re
from pathlib import Path

BLOCK = re.compile(r"<!-- tested: (?P<name>[\w-]+) -->\n```sh\n(?P<body>.*?)\n```", re.DOTALL)


def tested_blocks(readme: Path | str) -> dict[str, list[str]]:
    """Every tested block of `readme` (a path or its text): name -> its command lines.

    Blank lines and whole-line comments are left out; each remaining line is one command.
    """
    text = readme.read_text() if isinstance(readme, Path) else readme
    blocks: dict[str, list[str]] = {}
    for match in BLOCK.finditer(text):
        name = match["name"]
        if name in blocks:
            raise ValueError(f"two README blocks are marked `tested: {name}`")
        lines = [line for line in match["body"].splitlines() if line.strip()]
        blocks[name] = [line for line in lines if not line.lstrip().startswith("#")]
    return blocks


def tested_block(readme: Path | str, name: str) -> list[str]:
    """The command lines of the block marked `tested: name`; fails if there is none."""
    blocks = tested_blocks(readme)
    if name not in blocks:
        raise AssertionError(f"the README has no block marked `<!-- tested: {name} -->`: {blocks}")
    return blocks[name]


# Helpers, not tests: pytest would collect these names in a test module that imports them.
tested_blocks.__test__ = False  # type: ignore[attr-defined]
tested_block.__test__ = False  # type: ignore[attr-defined]
