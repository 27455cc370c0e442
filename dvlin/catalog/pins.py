"""The SQL behind ``dvlin.lock``: which version each asset's own folder holds."""

from __future__ import annotations

from dvlin.catalog.catalog import Catalog
from dvlin.ids import Oid, VersionId


def workspace_pins(catalog: Catalog) -> list[tuple[str, VersionId, int, Oid]]:
    """``(asset, version id, number, tree)`` for every asset whose folder holds a version."""
    rows = catalog.conn.execute(
        """
        SELECT w.asset, v.id, v.number, v.tree FROM workspace w
        JOIN versions v ON v.id = w.version AND v.asset = w.asset
        JOIN assets a ON a.name = w.asset
        ORDER BY w.asset
        """
    )
    return [(r[0], VersionId(r[1]), int(r[2]), Oid(r[3])) for r in rows]
