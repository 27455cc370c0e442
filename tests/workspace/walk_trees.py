"""Random trees with odd names for the walk's property tests, and a check that a pid is gone."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import strategies as st

NAME = st.sampled_from(
    ["a", "b", "c.txt", "ünï", "tab\tx", "new\nline", "-d", "日本", ".h", "sp ace", "z" * 60]
)
TREE = st.lists(
    st.tuples(st.lists(NAME, min_size=1, max_size=4), st.sampled_from(["file", "dir", "link"])),
    max_size=30,
)
"""(path parts, kind) pairs; a pair whose path clashes with an earlier one is skipped."""


def build(base: Path, tree: list[tuple[list[str], str]]) -> None:
    """Create ``tree`` under ``base``: files hold their own path, links point one level up."""
    for parts, kind in tree:
        path = base.joinpath(*parts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if os.path.lexists(path):
                continue
            if kind == "file":
                path.write_bytes("/".join(parts).encode())
            elif kind == "dir":
                path.mkdir()
            else:
                path.symlink_to("../" + parts[0])
        except (FileExistsError, NotADirectoryError):
            continue


def gone(pid: int) -> bool:
    """True once no process has ``pid`` (a reaped child)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
