"""Copier task and migration: make the project's .env readable by its owner only (mode 0600).

.env holds the secrets generated at copy time; Copier writes it with the umask's mode, usually
readable by every user of the machine. Runs with Copier's own Python in the project's folder
(standard library only): as a task after `copier copy`, and after every `copier update`, which
never rewrites .env but tightens one an older release left open. Without .env it does nothing.
"""

import stat
import sys
from pathlib import Path

OWNER_ONLY = 0o600


def protect(env_file: Path) -> bool:
    """Give ENV_FILE mode 0600 if it exists and is open to others; True if it changed."""
    if not env_file.is_file():
        return False
    mode = stat.S_IMODE(env_file.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO) == 0:
        return False
    env_file.chmod(OWNER_ONLY)
    return True


def main() -> None:
    env_file = Path.cwd() / ".env"
    if protect(env_file) and "--report" in sys.argv:
        print(f"{env_file}: now readable by its owner only (chmod 600)", file=sys.stderr)


if __name__ == "__main__":
    main()
