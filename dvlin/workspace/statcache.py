"""The stat cache: skip re-reading files whose size, mtime and inode have not changed."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol

from dvlin.objects.hashing import Oid, StatRow
from dvlin.workspace.scan import Item

# A file modified within one clock tick of being hashed could change again without its mtime
# moving. Rows are only saved once the mtime is safely in the past: 50 ms covers the kernel's
# coarse file clock; filesystems that keep whole seconds (FAT, some network mounts) need 2 s.
_RACY_NS = 50_000_000
_RACY_COARSE_NS = 2_000_000_000


class StatRows(Protocol):
    """Where stat-cache rows are kept (the catalog)."""

    def stat_rows(self, prefix: str) -> dict[str, tuple[int, int, int, Oid]]:
        """Rows ``path → (size, mtime_ns, inode, oid)`` under ``prefix``."""

    def put_stat_rows(self, rows: Iterable[tuple[str, StatRow]]) -> None:
        """Insert or refresh rows."""


def repo_path(base: str, path: str) -> str:
    """A path relative to an asset's base, as a path relative to the repo root."""
    return path if base in ("", ".") else f"{base}/{path}"


class StatCache:
    """Stat-cache rows for one asset's base folder, plus the updates found this run."""

    def __init__(self, catalog: StatRows, base: str, *, enabled: bool = True) -> None:
        self.base = base
        self.enabled = enabled
        self.rows = catalog.stat_rows("" if base in ("", ".") else base) if enabled else {}
        self.updates: list[tuple[str, StatRow]] = []

    def lookup(self, item: Item) -> Oid | None:
        """The cached oid of a file that stats exactly as it did when it was hashed."""
        row = self.rows.get(repo_path(self.base, item.path))
        if (
            row is not None
            and row[0] == item.size
            and row[1] == item.mtime_ns
            and row[2] == item.inode
        ):
            return row[3]
        return None

    def record(self, item: Item, oid: str, *, hashed_at_ns: int | None = None) -> None:
        """Remember a freshly hashed file, unless its mtime is too recent to trust."""
        if not self.enabled:
            return
        now = time.time_ns() if hashed_at_ns is None else hashed_at_ns
        margin = _RACY_COARSE_NS if item.mtime_ns % 1_000_000_000 == 0 else _RACY_NS
        if item.mtime_ns >= now - margin:
            return
        row = StatRow(item.size, item.mtime_ns, item.inode, Oid(oid))
        key = repo_path(self.base, item.path)
        if self.rows.get(key) != tuple(row):
            self.rows[key] = tuple(row)  # type: ignore[assignment]
            self.updates.append((key, row))

    def save(self, catalog: StatRows) -> None:
        """Write the updates (inside the caller's transaction)."""
        if self.updates:
            catalog.put_stat_rows(self.updates)
            self.updates = []
