"""Adopt the records of a catalog upgraded to schema 6 into the audit chain.

Before schema 6 entries did not name the records they described, so the replay of ``audit
verify`` has nothing to compare old rows with. The upgrade writes one ``adopt`` entry per
record (version, tag, hold, stage, override, expiry, run, derived_from links) holding its digest as found: tampering
done before the upgrade is adopted with it, tampering after it is caught.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from dvlin.audit.log import append_to
from dvlin.audit.records import KINDS, snapshot

if TYPE_CHECKING:
    from dvlin.catalog import Catalog

PENDING = "audit_adopt_pending"


def adopt_pending(catalog: Catalog) -> int:
    """Finish an upgrade to schema 6: adopt every record, once, in one transaction.

    The migration only marks the catalog (the catalog layer cannot write audit entries); two
    processes opening it at once are serialised by the transaction and the re-check inside it.
    """
    if catalog.get_meta(PENDING) is None:
        return 0
    with catalog.transaction():
        schema = catalog.get_meta(PENDING)
        if schema is None:
            return 0
        adopted = adopt_records(catalog.conn, schema=int(schema))
        catalog.conn.execute("DELETE FROM meta WHERE key = ?", (PENDING,))
    return adopted


def adopt_records(conn: sqlite3.Connection, *, schema: int) -> int:
    """Append an ``adopt`` entry for every record; returns how many (inside a transaction)."""
    records = snapshot(conn)
    if not records:
        return 0
    # Versions first, so entries about a version follow the one that adopts the version.
    order = {kind: i for i, kind in enumerate(KINDS)}
    for r in sorted(records.values(), key=lambda r: (order[r.kind], r.label, r.key)):
        append_to(
            conn,
            action="adopt",
            target=r.key if r.kind == "tag" else (r.version or r.key),
            details={"kind": r.kind, "schema": schema},
            actor="dvlin",
            record=r.ref,
        )
    return len(records)
