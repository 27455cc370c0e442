"""What each remote holds, and moving catalog records to and from record segments.

Records travel as plain dicts of column values (the same columns as the local tables), so a
segment written by one clone is applied by another with the same queries. A record's *key*
says whether the remote already holds it; versions are only ever applied as fast-forwards
of an asset's local history.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dvlin.catalog.catalog import Catalog, select_in
from dvlin.catalog.db import rows_of

Row = dict[str, Any]

# Local table and the columns that make a record's key, per record kind.
_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "asset": ("assets", ("name",)),
    "version": ("versions", ("id",)),
    "tag": ("tags", ("asset", "name")),
    "run": ("runs", ("id",)),
    "edge": ("edges", ("src", "dst", "kind")),
    "stage": ("model_stages", ("version", "stage", "created_at")),
    "hold": ("holds", ("version", "created_at")),
}
# Columns that stay local: where an asset's folder is (it follows its versions) and the
# stage log's local sequence number.
_LOCAL_ONLY = {"versions": {"expired_at"}, "model_stages": {"seq"}}


def record_key(kind: str, row: Mapping[str, Any]) -> str:
    """The identity of a record: equal keys are the same record on every clone."""
    if kind == "expiry":
        return str(row["version"])
    if kind == "audit":
        return f"{row['clone']}:{row['seq']}"
    if kind == "gc":
        return str(row["oid"])
    if kind == "release":
        return f"{row['version']}|{row['created_at']}"  # the key of the hold it lifts
    return "|".join(str(row[c]) for c in _TABLES[kind][1])


def record_value(kind: str, row: Mapping[str, Any]) -> str | None:
    """What must agree for two records with one key: a tag's version, a chain entry's hash."""
    if kind == "tag":
        return str(row["version"])
    if kind == "audit":
        return str(row["hash"])
    if kind == "version":
        return f"{row['asset']}|{row['number']}"
    return None


@dataclass
class Applied:
    """What applying records to the local catalog did."""

    versions: list[tuple[str, int, str]] = field(default_factory=list)
    """``(asset, number, id)`` of versions added."""
    diverged: set[str] = field(default_factory=set)
    """Assets whose remote history does not continue the local one (left unchanged)."""
    tag_conflicts: list[str] = field(default_factory=list)
    """``asset@tag`` names the remote gives to another version than this clone does."""
    records: int = 0
    complete: bool = True
    """False when something was skipped and should be tried again after the user acts."""


class RemoteState:
    """Queries for remotes: their record sets, object locations and segments seen."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.conn = catalog.conn
        self._columns: dict[str, list[str]] = {}

    def columns(self, table: str) -> list[str]:
        """The columns of a local table, minus those that stay local."""
        if table not in self._columns:
            names = [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")]
            self._columns[table] = [c for c in names if c not in _LOCAL_ONLY.get(table, set())]
        return self._columns[table]

    # -- what a remote holds ----------------------------------------------------------------

    def segments(self, remote: str) -> dict[str, bool]:
        """Segments seen on ``remote`` and whether each was fully applied locally."""
        rows = self.conn.execute(
            "SELECT segment, applied FROM remote_segments WHERE remote = ? ORDER BY seq", (remote,)
        )
        return {r[0]: bool(r[1]) for r in rows}

    def add_segment(
        self,
        remote: str,
        sid: str,
        records: Mapping[str, Iterable[Row]],
        objects: Mapping[str, tuple[str, int, int]],
        *,
        applied: bool,
    ) -> None:
        """Note a segment's records and object locations as held by ``remote``."""
        seq = self.conn.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM remote_segments WHERE remote = ?", (remote,)
        ).fetchone()[0]
        self.conn.execute(
            "INSERT OR IGNORE INTO remote_segments (remote, segment, seq, applied) "
            "VALUES (?, ?, ?, ?)",
            (remote, sid, seq, int(applied)),
        )
        self.conn.executemany(
            "INSERT OR IGNORE INTO remote_records (remote, kind, key, value) VALUES (?, ?, ?, ?)",
            (
                (remote, kind, record_key(kind, row), record_value(kind, row))
                for kind, rows in records.items()
                for row in rows
            ),
        )
        self.conn.executemany(
            "INSERT OR REPLACE INTO remote_objects (remote, oid, file, offset, size) "
            "VALUES (?, ?, ?, ?, ?)",
            ((remote, oid, f, o, s) for oid, (f, o, s) in objects.items()),
        )
        # Objects remote gc deleted: a push must send them again if a version needs them.
        self.conn.executemany(
            "DELETE FROM remote_objects WHERE remote = ? AND oid = ? AND file = ?",
            ((remote, row["oid"], row["file"]) for row in records.get("gc", ())),
        )

    def mark_applied(self, remote: str, sid: str) -> None:
        """A segment whose records are all in the local catalog now."""
        self.conn.execute(
            "UPDATE remote_segments SET applied = 1 WHERE remote = ? AND segment = ?",
            (remote, sid),
        )

    def records(self, remote: str, kind: str) -> dict[str, str | None]:
        """Keys (and values) of the records of one kind that ``remote`` holds."""
        rows = self.conn.execute(
            "SELECT key, value FROM remote_records WHERE remote = ? AND kind = ?", (remote, kind)
        )
        return {r[0]: r[1] for r in rows}

    def locations(
        self, remote: str, oids: Iterable[str], *, prefix: str | None = None
    ) -> dict[str, tuple[str, int, int]]:
        """Where on ``remote`` each of ``oids`` is, for those it holds.

        ``prefix`` keeps locations under it (a storage group's ``groups/NAME/``); the empty
        string keeps those outside every group.
        """
        found = {}
        for r in self._locations(remote, list(oids)):
            file = str(r[1])
            if prefix is not None:
                inside = file.startswith(prefix) if prefix else not file.startswith("groups/")
                if not inside:
                    continue
            found[r[0]] = (file, r[2], r[3])
        return found

    def _locations(self, remote: str, oids: list[str]) -> Iterable[Any]:
        for i in range(0, len(oids), 500):
            part = oids[i : i + 500]
            yield from rows_of(
                self.conn.execute(
                    "SELECT oid, file, offset, size FROM remote_objects "
                    f"WHERE remote = ? AND oid IN ({','.join('?' * len(part))})",
                    [remote, *part],
                )
            )

    def remotes_holding(self, oids: Iterable[str]) -> dict[str, list[tuple[str, str, int, int]]]:
        """For each oid, ``(remote, file, offset, size)`` wherever a remote holds it."""
        found: dict[str, list[tuple[str, str, int, int]]] = {}
        rows = select_in(
            self.conn,
            "SELECT oid, remote, file, offset, size FROM remote_objects WHERE oid IN ({marks})",
            oids,
        )
        for r in rows:
            found.setdefault(r[0], []).append((r[1], r[2], r[3], r[4]))
        for places in found.values():
            places.sort(key=lambda p: p[1].startswith("groups/"))  # ungrouped copies first
        return found

    def forget(self, remote: str) -> None:
        """Drop everything known about ``remote`` (``dvlin remote remove``)."""
        for table in ("remote_segments", "remote_records", "remote_objects"):
            self.conn.execute(f"DELETE FROM {table} WHERE remote = ?", (remote,))

    def counts(self, remote: str) -> dict[str, int]:
        """How many records of each kind, and objects, ``remote`` is known to hold."""
        rows = self.conn.execute(
            "SELECT kind, COUNT(*) FROM remote_records WHERE remote = ? GROUP BY kind", (remote,)
        )
        result = {r[0]: r[1] for r in rows}
        result["objects"] = self.conn.execute(
            "SELECT COUNT(*) FROM remote_objects WHERE remote = ?", (remote,)
        ).fetchone()[0]
        return result

    # -- local records ----------------------------------------------------------------------

    def local_records(self, clone: str) -> dict[str, dict[str, Row]]:
        """Every record of this clone's catalog, by kind and key."""
        result: dict[str, dict[str, Row]] = {}
        for kind, (table, _) in _TABLES.items():
            cols = self.columns(table)
            rows = self.conn.execute(f"SELECT {', '.join(cols)} FROM {table}")
            result[kind] = {}
            for r in rows:
                row = dict(zip(cols, r, strict=True))
                result[kind][record_key(kind, row)] = row
        storage: dict[str, list[str]] = {}
        for vid, oid in self.conn.execute("SELECT version, oid FROM version_objects"):
            storage.setdefault(vid, []).append(oid)
        for vid, row in result["version"].items():
            row["storage"] = sorted(storage.get(vid, ()))
        result["expiry"] = {
            r[0]: {"version": r[0], "expired_at": r[1]}
            for r in self.conn.execute(
                "SELECT id, expired_at FROM versions WHERE expired_at IS NOT NULL"
            )
        }
        # A released hold leaves no row: the release's audit entry names the hold it lifted.
        result["release"] = {}
        for (details,) in self.conn.execute("SELECT details FROM audit WHERE action = 'release'"):
            found = _json_object(details)
            vid, since = found.get("id"), found.get("held_since")
            if isinstance(vid, str) and isinstance(since, str):
                row = {"version": vid, "created_at": since}
                result["release"][record_key("release", row)] = row
        result["audit"] = {}
        audit_cols = [r[1] for r in self.conn.execute("PRAGMA table_info(audit)")]
        for r in self.conn.execute(f"SELECT {', '.join(audit_cols)} FROM audit ORDER BY seq"):
            row = {"clone": clone, **dict(zip(audit_cols, r, strict=True))}
            result["audit"][record_key("audit", row)] = row
        return result

    def audit_head(self) -> tuple[int, str] | None:
        """This clone's newest audit entry ``(seq, hash)``."""
        row = self.conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def audit_hash(self, seq: int) -> str | None:
        """The hash of this clone's audit entry ``seq``."""
        row = self.conn.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()
        return str(row[0]) if row else None

    def clone_entries(self, clone: str | None = None) -> dict[str, list[Row]]:
        """Audit entries of other clones, by clone id, in order."""
        sql = "SELECT clone, entry FROM remote_audit"
        args: tuple[str, ...] = ()
        if clone is not None:
            sql += " WHERE clone = ?"
            args = (clone,)
        found: dict[str, list[Row]] = {}
        for c, entry in self.conn.execute(sql + " ORDER BY clone, seq", args):
            found.setdefault(c, []).append(json.loads(entry))
        return found

    # -- applying records -------------------------------------------------------------------

    def apply(self, records: Mapping[str, list[Row]], *, own_clone: str) -> Applied:
        """Insert records this clone lacks; versions only as fast-forwards (in a transaction)."""
        out = Applied()
        conn = self.conn
        for row in records.get("asset", ()):
            cols = [c for c in self.columns("assets") if c in row]
            cur = conn.execute(
                f"INSERT OR IGNORE INTO assets ({', '.join(cols)}) "
                f"VALUES ({', '.join('?' * len(cols))})",
                [row[c] for c in cols],
            )
            out.records += cur.rowcount
        versions = sorted(records.get("version", ()), key=lambda r: (r["asset"], r["number"]))
        skipped: set[str] = set()
        vcols = self.columns("versions")
        for row in versions:
            if row["asset"] in out.diverged:
                skipped.add(row["id"])
                continue
            known = conn.execute("SELECT 1 FROM versions WHERE id = ?", (row["id"],)).fetchone()
            if known:
                continue
            # number > 0: a rebase parks the versions it replays at negative numbers.
            latest = conn.execute(
                "SELECT id FROM versions WHERE asset = ? AND number > 0 "
                "ORDER BY number DESC LIMIT 1",
                (row["asset"],),
            ).fetchone()
            if (latest[0] if latest else None) != row["parent"]:
                out.diverged.add(row["asset"])
                out.complete = False
                skipped.add(row["id"])
                continue
            cols = [c for c in vcols if c in row]
            conn.execute(
                f"INSERT INTO versions ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [row[c] for c in cols],
            )
            conn.execute(
                "UPDATE assets SET base = ?, roots = ? WHERE name = ?",
                (row["base"], row["roots"], row["asset"]),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO version_objects (version, oid) VALUES (?, ?)",
                ((row["id"], oid) for oid in row.get("storage", ())),
            )
            out.versions.append((row["asset"], row["number"], row["id"]))
            out.records += 1

        def have(version_id: str) -> bool:
            return bool(
                conn.execute("SELECT 1 FROM versions WHERE id = ?", (version_id,)).fetchone()
            )

        for row in records.get("tag", ()):
            found = conn.execute(
                "SELECT version FROM tags WHERE asset = ? AND name = ?", (row["asset"], row["name"])
            ).fetchone()
            if found is not None:
                if found[0] != row["version"]:
                    out.tag_conflicts.append(f"{row['asset']}@{row['name']}")
                continue
            if not have(row["version"]):
                out.complete = False
                continue
            self._insert("tags", row)
            out.records += 1
        for row in records.get("run", ()):
            out.records += self._insert("runs", row, ignore=True)
        for row in records.get("edge", ()):
            if row["src"] in skipped or row["dst"] in skipped:
                out.complete = False  # lineage of a version left out waits with it
                continue
            out.records += self._insert("edges", row, ignore=True)
        for row in records.get("stage", ()):
            if not have(row["version"]):
                out.complete = False
                continue
            dup = conn.execute(
                "SELECT 1 FROM model_stages WHERE version = ? AND stage = ? AND created_at = ?",
                (row["version"], row["stage"], row["created_at"]),
            ).fetchone()
            if not dup:
                out.records += self._insert("model_stages", row)
        for row in records.get("hold", ()):
            if self._released(record_key("hold", row)):
                continue  # lifted by a later segment: applying it late must not bring it back
            if not have(row["version"]):
                out.complete = False
                continue
            out.records += self._insert("holds", row, ignore=True)
        for row in records.get("release", ()):
            cur = conn.execute(
                "DELETE FROM holds WHERE version = ? AND created_at = ?",
                (row["version"], row["created_at"]),
            )
            out.records += cur.rowcount
        for row in records.get("expiry", ()):
            cur = conn.execute(
                "UPDATE versions SET expired_at = ? WHERE id = ? AND expired_at IS NULL",
                (row["expired_at"], row["version"]),
            )
            out.records += cur.rowcount
        for row in records.get("audit", ()):
            if row["clone"] == own_clone:
                continue
            cur = conn.execute(
                "INSERT OR IGNORE INTO remote_audit (clone, seq, hash, entry) VALUES (?, ?, ?, ?)",
                (row["clone"], row["seq"], row["hash"], json.dumps(row, sort_keys=True)),
            )
            out.records += cur.rowcount
        return out

    def _released(self, hold_key: str) -> bool:
        """Whether a segment seen on any remote releases the hold ``hold_key``."""
        found = self.conn.execute(
            "SELECT 1 FROM remote_records WHERE kind = 'release' AND key = ? LIMIT 1", (hold_key,)
        ).fetchone()
        return found is not None

    def _insert(self, table: str, row: Row, *, ignore: bool = False) -> int:
        cols = [c for c in self.columns(table) if c in row]
        verb = "INSERT OR IGNORE" if ignore else "INSERT"
        cur = self.conn.execute(
            f"{verb} INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [row[c] for c in cols],
        )
        return int(cur.rowcount)


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
