"""Where a result came from: the git commit of the code and the machine that ran it.

Recorded with every run (``dvlin run``, ``dvlin.track``, ``model register``).
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from dvlin.version import __version__


def git_info(cwd: str | os.PathLike[str]) -> dict[str, Any]:
    """The git commit, dirty flag, branch, remote and root when ``cwd`` is in a work tree."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    dirty = git("status", "--porcelain", "--untracked-files=no")
    info: dict[str, Any] = {
        "type": "git",
        "commit": commit,
        "dirty": bool(dirty),
        "root": git("rev-parse", "--show-toplevel"),
        "path": git("rev-parse", "--show-prefix") or "",
    }
    branch = git("symbolic-ref", "--short", "-q", "HEAD")
    if branch:
        info["branch"] = branch
    remote = git("config", "--get", "remote.origin.url")
    if remote:
        info["remote"] = _strip_credentials(remote)
    return info


def _strip_credentials(url: str) -> str:
    # A remote URL can carry a token (https://user:token@host/...); never record it.
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url


def environment() -> dict[str, Any]:
    """Python, platform, dvlin version, user and host: enough to tell two machines apart."""
    import getpass
    import platform
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dvlin": __version__,
        "user": user,
        "host": socket.gethostname(),
    }
