"""The SQL of stored profiles: which profile object describes which file content."""

from __future__ import annotations

from collections.abc import Iterable

from dvlin.catalog.catalog import Catalog, select_in
from dvlin.ids import Oid


class ProfileIndex:
    """Queries on the ``profiles`` table over a catalog connection."""

    def __init__(self, catalog: Catalog) -> None:
        self.conn = catalog.conn

    def find(self, keys: Iterable[tuple[str, str]], profiler: int) -> dict[tuple[str, str], Oid]:
        """The profile object of each ``(file oid, format)`` that has one for ``profiler``."""
        wanted = set(keys)
        rows = select_in(
            self.conn,
            "SELECT oid, format, profiler, profile FROM profiles WHERE oid IN ({marks})",
            sorted({oid for oid, _ in wanted}),
        )
        return {
            (r[0], r[1]): Oid(r[3]) for r in rows if r[2] == profiler and (r[0], r[1]) in wanted
        }

    def record(
        self, rows: Iterable[tuple[str, str, str]], profiler: int, *, created_at: str
    ) -> None:
        """Remember ``(file oid, format, profile oid)`` rows (inside the caller's transaction)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO profiles (oid, format, profiler, profile, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            ((oid, fmt, profiler, profile, created_at) for oid, fmt, profile in rows),
        )

    def linked(self, version_id: str, oids: Iterable[str]) -> set[str]:
        """Which of ``oids`` are already linked to the version (as objects it needs)."""
        rows = select_in(
            self.conn, "SELECT version, oid FROM version_objects WHERE oid IN ({marks})", oids
        )
        return {r[1] for r in rows if r[0] == version_id}
