"""The SQL of retention: holds, tag ages, and the facts the retention decision needs."""

from __future__ import annotations

from dataclasses import dataclass

from dvlin.catalog.catalog import Catalog
from dvlin.values import sealed


@sealed
@dataclass(frozen=True, slots=True)
class Hold:
    """A hold on one version: it never expires while the hold stands."""

    version: str
    reason: str
    author: str
    created_at: str


class RetentionStore:
    """Queries for holds and tag ages over a catalog connection."""

    def __init__(self, catalog: Catalog) -> None:
        self.conn = catalog.conn

    def holds(self) -> dict[str, Hold]:
        """Every hold, by version id."""
        rows = self.conn.execute("SELECT version, reason, author, created_at FROM holds")
        return {r[0]: Hold(r[0], r[1], r[2], r[3]) for r in rows}

    def add_hold(self, hold: Hold) -> None:
        """Record a hold (inside the caller's transaction)."""
        self.conn.execute(
            "INSERT INTO holds (version, reason, author, created_at) VALUES (?, ?, ?, ?)",
            (hold.version, hold.reason, hold.author, hold.created_at),
        )

    def remove_hold(self, version_id: str) -> None:
        """Lift a hold (inside the caller's transaction)."""
        self.conn.execute("DELETE FROM holds WHERE version = ?", (version_id,))

    def set_tag_retain(self, asset: str, name: str, retain: str | None) -> None:
        """Give a tag its own maximum age (inside the caller's transaction)."""
        self.conn.execute(
            "UPDATE tags SET retain = ? WHERE asset = ? AND name = ?", (retain, asset, name)
        )

    def tag_facts(self) -> list[tuple[str, str, str, str | None]]:
        """``(version, tag, created_at, retain)`` for every tag."""
        rows = self.conn.execute("SELECT version, name, created_at, retain FROM tags")
        return [(r[0], r[1], r[2], r[3]) for r in rows]
