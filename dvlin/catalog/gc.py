"""The SQL of garbage collection: which objects kept versions need, plans, expiry."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from dvlin.catalog.catalog import Catalog, select_in
from dvlin.values import sealed


@sealed
@dataclass(frozen=True, slots=True)
class GcPlanRow:
    """A recorded gc plan."""

    id: str
    created_at: str
    author: str
    status: str
    """``planned``, ``in_progress`` or ``done``."""
    versions: tuple[str, ...]
    objects: tuple[str, ...]
    bytes: int


class GcStore:
    """Queries for gc over a catalog connection."""

    def __init__(self, catalog: Catalog) -> None:
        self.conn = catalog.conn

    def expired(self) -> set[str]:
        """Ids of versions already expired."""
        return set(self.expired_at())

    def expired_at(self) -> dict[str, str]:
        """When each expired version was expired, by id."""
        rows = self.conn.execute("SELECT id, expired_at FROM versions WHERE expired_at IS NOT NULL")
        return {r[0]: r[1] for r in rows}

    def all_versions(self) -> list[str]:
        """Ids of every version, expired or not."""
        return [r[0] for r in self.conn.execute("SELECT id FROM versions")]

    def indexed(self) -> set[str]:
        """Every storage object the catalog's index knows (loose objects and packs)."""
        found: set[str] = set()
        for oid, pack in self.conn.execute("SELECT oid, pack FROM objects"):
            found.add(pack if pack is not None else oid)
        return found

    def objects_of(self, version_ids: Iterable[str]) -> set[str]:
        """Every storage object (loose, pack, chunk, manifest) the versions need."""
        ids = list(version_ids)
        # A chunk of a big file may sit in a pack: the pack is the storage object then.
        found = {
            r[0]
            for r in select_in(
                self.conn,
                "SELECT COALESCE(NULLIF(o.pack, ''), vo.oid) FROM version_objects vo"
                " LEFT JOIN objects o ON o.oid = vo.oid WHERE vo.version IN ({marks})",
                ids,
            )
        }
        found.update(
            r[0]
            for r in select_in(
                self.conn, "SELECT manifest FROM versions WHERE id IN ({marks})", ids
            )
        )
        return found

    def sizes(self, oids: Iterable[str]) -> int:
        """Total bytes of these storage objects, as recorded."""
        rows = select_in(
            self.conn,
            # A pack of one small file has that file's oid and is recorded as its blob.
            "SELECT COALESCE(SUM(size), 0) FROM objects WHERE oid IN ({marks})"
            " AND (pack IS NULL OR pack = oid)",
            oids,
        )
        return sum(int(r[0]) for r in rows)

    def save_plan(self, plan: GcPlanRow) -> None:
        """Record a plan (inside the caller's transaction)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO gc_plans (id, created_at, author, status, versions, objects,"
            " bytes) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                plan.id,
                plan.created_at,
                plan.author,
                plan.status,
                json.dumps(plan.versions),
                json.dumps(plan.objects),
                plan.bytes,
            ),
        )

    def set_status(self, plan_id: str, status: str) -> None:
        """Move a plan to ``in_progress`` or ``done`` (inside the caller's transaction)."""
        self.conn.execute("UPDATE gc_plans SET status = ? WHERE id = ?", (status, plan_id))

    def plans(self, status: str | None = None) -> list[GcPlanRow]:
        """Recorded plans, newest first."""
        sql = "SELECT id, created_at, author, status, versions, objects, bytes FROM gc_plans"
        args: tuple[str, ...] = ()
        if status:
            sql += " WHERE status = ?"
            args = (status,)
        rows = self.conn.execute(sql + " ORDER BY created_at DESC", args)
        return [
            GcPlanRow(
                r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), tuple(json.loads(r[5])), r[6]
            )
            for r in rows
        ]

    def expire(self, version_ids: Iterable[str], *, at: str) -> None:
        """Mark versions expired (inside the caller's transaction); their rows stay."""
        self.conn.executemany(
            "UPDATE versions SET expired_at = ? WHERE id = ?", ((at, v) for v in version_ids)
        )

    def forget_objects(self, oids: Iterable[str]) -> None:
        """Drop objects (and blobs packed in them) from the catalog's index, so no new commit
        deduplicates against bytes about to be deleted (inside the caller's transaction)."""
        for oid in oids:
            self.conn.execute("DELETE FROM objects WHERE oid = ? OR pack = ?", (oid, oid))
