"""The SQL behind ``dvlin du``: stored objects, packs, and which versions need which objects."""

from __future__ import annotations

from collections.abc import Iterator

from dvlin.catalog.catalog import Catalog
from dvlin.catalog.db import rows_of


class UsageStore:
    """Read-only queries over a catalog connection for storage accounting."""

    def __init__(self, catalog: Catalog) -> None:
        self.conn = catalog.conn

    def stored_sizes(self) -> dict[str, int]:
        """Every storage object the catalog knows (loose files, packs, chunks, manifests)."""
        # A pack holding one small file has that file's bytes and so its oid: the row then
        # says "blob at offset 0 of itself", and it is still a stored object.
        rows = self.conn.execute("SELECT oid, size FROM objects WHERE pack IS NULL OR pack = oid")
        return {r[0]: int(r[1]) for r in rows}

    def packs(self) -> dict[str, int]:
        """Each pack and how many small files it holds.

        Chunks of big files sit in packs too; versions list a chunk by its own oid (a small
        file by its pack, which has the file's own oid when it holds that file alone), so
        the other blobs some version lists are chunks, not counted here. A pack holding one
        chunk alone has that chunk's oid too (a commit that made one new chunk, or a chunk as
        big as a pack): it holds a small file only if the blob is small enough to be one.
        """
        from dvlin.objects.ingest import PACK_MAX_BLOB

        rows = self.conn.execute(
            "SELECT o.pack, SUM(vo.oid IS NULL OR (o.pack = o.oid AND o.size < ?)) FROM objects o"
            " LEFT JOIN (SELECT DISTINCT oid FROM version_objects) vo ON vo.oid = o.oid"
            " WHERE o.pack IS NOT NULL GROUP BY o.pack",
            (PACK_MAX_BLOB,),
        )
        return {r[0]: int(r[1]) for r in rows}

    def iter_needs(self) -> Iterator[tuple[str, str]]:
        """``(version id, storage oid)`` for every object every version needs."""
        # A chunk of a big file may sit in a pack: the pack is the storage object then.
        yield from rows_of(
            self.conn.execute(
                "SELECT vo.version, COALESCE(NULLIF(o.pack, ''), vo.oid) FROM version_objects vo"
                " LEFT JOIN objects o ON o.oid = vo.oid"
            )
        )
        yield from rows_of(self.conn.execute("SELECT id, manifest FROM versions"))

    def expired(self) -> set[str]:
        """Ids of versions gc has expired."""
        return {
            r[0] for r in self.conn.execute("SELECT id FROM versions WHERE expired_at IS NOT NULL")
        }
