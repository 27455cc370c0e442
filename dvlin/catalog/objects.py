"""Where stored objects are, and which objects each version needs."""

from __future__ import annotations

from collections.abc import Iterable
from operator import itemgetter
from typing import TYPE_CHECKING

from dvlin.catalog.db import Db, select_in
from dvlin.objects.hashing import Oid
from dvlin.objects.store import StoredObject

if TYPE_CHECKING:
    import pyarrow as pa


class ObjectQueries(Db):
    """Queries over the ``objects`` and ``version_objects`` tables."""

    # -- objects ------------------------------------------------------------------------------

    def find_object(self, oid: str) -> StoredObject | None:
        """Where a stored object's bytes are, or None when the catalog does not know it."""
        row = self.conn.execute(
            "SELECT size, pack, offset FROM objects WHERE oid = ?", (oid,)
        ).fetchone()
        return StoredObject(Oid(oid), row[0], row[1], row[2]) if row else None

    def has_objects(self) -> bool:
        """True once any object is recorded (a commit into an empty catalog looks none up)."""
        return self.conn.execute("SELECT 1 FROM objects LIMIT 1").fetchone() is not None

    def find_objects(self, oids: Iterable[str]) -> dict[str, StoredObject]:
        """Where each of ``oids`` is stored, for those the catalog knows (one query per 500)."""
        rows = select_in(
            self.conn, "SELECT oid, size, pack, offset FROM objects WHERE oid IN ({marks})", oids
        )
        return {r[0]: StoredObject(*r) for r in rows}

    def add_objects(self, objects: Iterable[StoredObject]) -> None:
        """Record stored objects (inside the caller's transaction).

        Sorted by oid first: inserting random keys touches a random page of the primary-key
        index each time, sorted keys append (200,000 rows: 1.7 s -> 0.6 s).
        """
        rows = sorted(((o.oid, o.size, o.pack, o.offset) for o in objects), key=itemgetter(0))
        self.conn.executemany(
            "INSERT OR IGNORE INTO objects (oid, size, pack, offset) VALUES (?, ?, ?, ?)", rows
        )

    def add_object_table(self, table: pa.Table, *, batch: int = 65536) -> None:
        """Record stored objects given as columns ``oid, size, pack, offset`` (inside the
        caller's transaction), in oid order as :meth:`add_objects` does.

        Rows are turned into tuples one batch at a time: a million-file commit never holds a
        million tuples (about 100 MB) at once.
        """
        import pyarrow.compute as pc

        if not table.num_rows:
            return
        table = table.take(pc.sort_indices(table.column("oid")))
        insert = "INSERT OR IGNORE INTO objects (oid, size, pack, offset) VALUES (?, ?, ?, ?)"
        for at in range(0, table.num_rows, batch):
            part = table.slice(at, batch)
            self.conn.executemany(
                insert,
                zip(
                    *(part.column(c).to_pylist() for c in ("oid", "size", "pack", "offset")),
                    strict=True,
                ),
            )

    def link_version_objects(self, version_id: str, oids: Iterable[str]) -> None:
        """Record which storage objects a version needs (inside the caller's transaction)."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO version_objects (version, oid) VALUES (?, ?)",
            ((version_id, oid) for oid in oids),
        )

    def versions_using(self, oid: str, *, limit: int = 20) -> list[str]:
        """Labels (``asset@vN``) of versions whose bytes live in object ``oid``."""
        rows = self.conn.execute(
            """
            SELECT v.asset, v.number FROM version_objects vo
            JOIN versions v ON v.id = vo.version
            WHERE vo.oid = ? OR vo.oid = (SELECT pack FROM objects WHERE oid = ?)
                OR vo.oid IN (SELECT oid FROM objects WHERE pack = ?)
            ORDER BY v.asset, v.number LIMIT ?
            """,
            (oid, oid, oid, limit),
        )
        return [f"{a}@v{n}" for a, n in rows]
