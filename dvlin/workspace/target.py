"""Where a checkout may write: never into dvlin's own folder, the object store, or above the repo."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from dvlin.errors import ConflictError, IntegrityError, UsageError
from dvlin.workspace.scan import SKIP_NAMES


def _within(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def check_target(
    target: str,
    *,
    repo_root: str,
    dvlin_dir: str,
    store_root: str | None,
    in_place: bool,
) -> None:
    """Refuse a checkout folder that is, holds or lies inside ``.dvlin`` or the store.

    Nor may it lie inside any ``.git`` or ``.dvlin`` folder (another repo's, say).

    A ``--to`` folder must also not be, or hold, the repo itself: a forced checkout there
    would treat the repo's neighbours (``.git``, a virtualenv) as stale files. The asset's
    own folder may be the repo root (an asset committed as ``.``); the scan skips ``.dvlin``.

    Raises:
        ConflictError: ``target`` is a symlink.
        UsageError: ``target`` is one of the folders above, or not a folder.
    """
    # The asset's own folder is reached from the repo root through real folders only; a --to
    # folder is the user's choice of place (it may sit below a linked /tmp, say).
    rel = os.path.relpath(target, repo_root) if in_place else ""
    steps = [] if rel in ("", ".") else rel.split(os.sep)
    current = repo_root if in_place else target
    for step in steps or [""]:
        current = os.path.join(current, step) if step else current
        if os.path.islink(current):
            raise ConflictError(
                f"{current} is a symlink; refusing to write through it",
                hint="remove the link or check out with --to into a real folder",
            )
    if os.path.exists(target) and not os.path.isdir(target):
        raise UsageError(f"{target} exists and is not a folder", hint="choose another --to")
    real = os.path.realpath(target)
    if not in_place and _within(real, os.path.realpath(repo_root)):
        raise UsageError(
            f"refusing to check out into {target}: it holds the repo",
            hint="check out into the asset's own folder (no --to) or into a new folder",
        )
    guarded = [(os.path.realpath(dvlin_dir), "the repo's .dvlin folder")]
    if store_root is not None:
        guarded.append((os.path.realpath(store_root), "the object store"))
    for folder, what in guarded:
        if _within(folder, real):
            raise UsageError(
                f"refusing to check out into {target}: it is inside {what}",
                hint="choose a --to folder outside .dvlin and the object store",
            )
        # The asset's own folder may hold .dvlin (an asset committed as `.`): scans skip it.
        if _within(real, folder) and not (
            in_place and _within(os.path.join(real, ".dvlin"), folder)
        ):
            raise UsageError(
                f"refusing to check out into {target}: it holds {what}",
                hint="choose a --to folder outside .dvlin and the object store",
            )
    inside = next((part for part in real.split(os.sep) if part in SKIP_NAMES), None)
    if inside is not None:
        raise UsageError(
            f"refusing to check out into {target}: it is inside a {inside} folder",
            hint="dvlin and git keep their own files there; choose another --to folder",
        )


def check_paths(paths: Iterable[str]) -> None:
    """Refuse manifest paths through ``.dvlin`` or ``.git``: no scan ever records them.

    Raises:
        IntegrityError: such a path (a forged or hostile manifest).
    """
    for p in paths:
        inside = next((part for part in p.split("/") if part in SKIP_NAMES), None)
        if inside is not None:
            raise IntegrityError(
                f"manifest path {p!r} lies inside {inside}",
                hint="the version or remote is corrupt or hostile; nothing was written",
            )


_LISTED_ROWS = 65_536
"""Up to this many paths, :func:`check_path_column` works on a Python list."""


def check_path_column(paths: Any) -> None:
    """:func:`check_paths` on an Arrow string array.

    Up to :data:`_LISTED_ROWS` paths, one substring search of the joined paths (~1 ms at
    20,000; the exact check runs only on a hit), so a restore needs no ``pyarrow.compute``;
    above, a regular expression over the column, without a Python object per path.

    Raises:
        IntegrityError: the first such path, with the message :func:`check_paths` gives.
    """
    if len(paths) <= _LISTED_ROWS:
        listed = [p or "" for p in paths.to_pylist()]
        joined = "\n".join(listed)
        if any(name in joined for name in SKIP_NAMES):
            check_paths(listed)
        return
    import re

    import pyarrow.compute as pc

    names = "|".join(re.escape(n) for n in sorted(SKIP_NAMES))
    hits = pc.match_substring_regex(paths, f"(?:^|/)(?:{names})(?:/|$)")
    if pc.any(hits).as_py():
        check_paths([str(pc.filter(paths, hits)[0].as_py())])
