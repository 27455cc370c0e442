"""Work a commit can start before its modules are loaded (the CLI calls it first).

Kept apart from :mod:`dvlin.ops.commit`, which imports pyarrow and the catalog: this module
imports only the big-file code, so the cut helper of a big file is forked ~0.2 s before the
commit would fork it (:func:`dvlin.objects.bigfile.start_early`).
"""

from __future__ import annotations

from collections.abc import Sequence

from dvlin.objects.bigfile import start_early

__all__ = ["start_cutting"]


def start_cutting(paths: Sequence[str]) -> None:
    """Start cutting the first big file among ``paths`` (relative to the current folder)."""
    start_early(paths)
