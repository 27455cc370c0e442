"""The stat cache and what each asset's own path holds."""

from __future__ import annotations

from collections.abc import Iterable

from dvlin.catalog.db import Db
from dvlin.objects.hashing import Oid, StatRow, VersionId


class WorkspaceQueries(Db):
    """Queries over the ``stat_cache`` and ``workspace`` tables."""

    # -- stat cache and workspace -------------------------------------------------------------

    def stat_rows(self, prefix: str) -> dict[str, tuple[int, int, int, Oid]]:
        """Stat-cache rows ``path → (size, mtime_ns, inode, oid)`` under ``prefix``."""
        # Plain tuples, not StatRow: 20,000 rows load in a third of the time.
        if prefix:
            cur = self.conn.execute(
                "SELECT path, size, mtime_ns, inode, oid FROM stat_cache "
                "WHERE path = ? OR (path >= ? AND path < ?)",
                (prefix, prefix + "/", prefix + "0"),
            )
        else:
            cur = self.conn.execute("SELECT path, size, mtime_ns, inode, oid FROM stat_cache")
        return {r[0]: r[1:] for r in cur}

    def put_stat_rows(self, rows: Iterable[tuple[str, StatRow]]) -> None:
        """Insert or refresh stat-cache rows (inside the caller's transaction)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO stat_cache (path, size, mtime_ns, inode, oid) "
            "VALUES (?, ?, ?, ?, ?)",
            ((p, r.size, r.mtime_ns, r.inode, r.oid) for p, r in rows),
        )

    def workspace_version(self, asset: str) -> VersionId | None:
        """The id of the version last committed or checked out into the asset's own path."""
        row = self.conn.execute(
            "SELECT version FROM workspace WHERE asset = ?", (asset,)
        ).fetchone()
        return row[0] if row else None

    def set_workspace_version(self, asset: str, version_id: str, *, updated_at: str) -> None:
        """Record what the asset's own path now holds (inside the caller's transaction)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO workspace (asset, version, updated_at) VALUES (?, ?, ?)",
            (asset, version_id, updated_at),
        )
