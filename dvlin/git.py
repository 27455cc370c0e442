"""What dvlin asks git: is this folder in a work tree, and which commit is checked out."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any


def work_tree(start: Path) -> Path | None:
    """The top of the git work tree holding ``start`` (found on disk, no git process)."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def code_info(start: Path) -> dict[str, Any]:
    """``{"code": {"git": COMMIT, "dirty": bool}}`` for the git work tree holding ``start``;
    ``{}`` without git (a version's ``info`` records the code it was committed with).

    Only the commit and whether tracked files differ from it: never the work tree's path or
    a remote URL, which name machines and can carry tokens.
    """
    if work_tree(start) is None:
        return {}

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=start, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--verify", "-q", "HEAD")
    if not commit:
        return {}
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"code": {"git": commit, "dirty": bool(dirty)}}
