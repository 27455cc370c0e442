"""Work a commit can start before its modules are loaded (the CLI calls it first).

Kept apart from :mod:`dvlin.ops.commit`, which imports pyarrow and the catalog: this module
imports only the big-file code and the config's reader, so the cut helper of a big file is
forked ~0.2 s before the commit would fork it (:func:`dvlin.objects.bigfile.start_early`).
"""

from __future__ import annotations

from collections.abc import Sequence

from dvlin.config import DVLIN_DIR, find_root, load_config
from dvlin.errors import DvlinError
from dvlin.objects.bigfile import start_early

__all__ = ["start_cutting"]


def start_cutting(paths: Sequence[str]) -> None:
    """Start cutting the first big file among ``paths`` (relative to the current folder) with
    the chunker of the repo the command runs in. Outside a repo, or with a config the commit
    will refuse, nothing starts: the commit reports the error itself."""
    try:
        root = find_root(".")
        if root is None:
            return
        chunker = load_config(root / DVLIN_DIR / "config.toml").chunker
    except (DvlinError, OSError, ValueError):
        return
    start_early(paths, chunker)
