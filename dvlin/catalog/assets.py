"""The SQL of managing assets as a whole: aliases (``mv``), untracking (``rm``), tag deletion."""

from __future__ import annotations

from dvlin.catalog.catalog import Catalog


class AssetStore:
    """Queries for ``dvlin rm``, ``dvlin mv`` and ``dvlin tag --delete``."""

    def __init__(self, catalog: Catalog) -> None:
        self.conn = catalog.conn

    def alias_target(self, alias: str) -> str | None:
        """The asset an old name now refers to, or None."""
        row = self.conn.execute(
            "SELECT asset FROM asset_aliases WHERE alias = ?", (alias,)
        ).fetchone()
        return row[0] if row else None

    def aliases_of(self, asset: str) -> list[str]:
        """The old names of an asset, sorted."""
        rows = self.conn.execute(
            "SELECT alias FROM asset_aliases WHERE asset = ? ORDER BY alias", (asset,)
        )
        return [r[0] for r in rows]

    def is_removed(self, asset: str) -> bool:
        """True when ``dvlin rm`` untracked the asset (its versions remain)."""
        row = self.conn.execute("SELECT removed_at FROM assets WHERE name = ?", (asset,)).fetchone()
        return bool(row and row[0])

    def mark_removed(self, asset: str, *, at: str) -> None:
        """Untrack an asset: hidden from ``ls`` and ``status``, its folder no longer synced."""
        self.conn.execute("UPDATE assets SET removed_at = ? WHERE name = ?", (at, asset))
        self.conn.execute("DELETE FROM workspace WHERE asset = ?", (asset,))

    def rename(self, old: str, new: str, *, at: str, author: str) -> None:
        """Rename an asset everywhere it is named; ``old`` becomes an alias of ``new``.

        Version ids do not change (they are immutable); their labels now read ``new@vN``.
        """
        conn = self.conn
        conn.execute(
            "INSERT INTO assets (name, kind, base, roots, created_at, owner, removed_at) "
            "SELECT ?, kind, base, roots, created_at, owner, removed_at FROM assets WHERE name = ?",
            (new, old),
        )
        conn.execute("UPDATE versions SET asset = ? WHERE asset = ?", (new, old))
        conn.execute("UPDATE tags SET asset = ? WHERE asset = ?", (new, old))
        conn.execute("UPDATE workspace SET asset = ? WHERE asset = ?", (new, old))
        conn.execute("DELETE FROM assets WHERE name = ?", (old,))
        conn.execute("DELETE FROM asset_aliases WHERE alias = ?", (new,))
        conn.execute("UPDATE asset_aliases SET asset = ? WHERE asset = ?", (new, old))
        conn.execute(
            "INSERT INTO asset_aliases (alias, asset, created_at, author) VALUES (?, ?, ?, ?)",
            (old, new, at, author),
        )

    def delete_tag(self, asset: str, name: str) -> None:
        """Remove a tag (inside the caller's transaction)."""
        self.conn.execute("DELETE FROM tags WHERE asset = ? AND name = ?", (asset, name))
