"""The catalog records the audit chain commits to, and their digests.

Each audited change names the record it leaves behind — a version row, a tag, a hold, a model
stage, a contract override, a version's expiry — by ``(kind, key)`` and the SHA-256 of the
record's canonical JSON. :func:`snapshot` reads every such record back, so ``audit verify``
can replay the chain against the catalog. The digests are computed from the rows as read back
(never from what a caller meant to write), so what the chain holds is what the catalog holds.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dvlin.catalog import Catalog
from dvlin.objects.hashing import VersionId
from dvlin.sha import sha256
from dvlin.values import sealed

KINDS = ("version", "tag", "hold", "stage", "override", "expiry", "run", "derivation")

_VERSION_COLUMNS = (
    "id, asset, number, parent, tree, manifest, author, created_at, message, meta, files, "
    "bytes, base, roots, info, expired_at"
)


@sealed
@dataclass(frozen=True, slots=True)
class RecordRef:
    """Which record an audit entry describes, and the digest of that record after the change.

    ``digest`` is None when the change removed the record (a released hold).
    """

    kind: str
    key: str
    digest: str | None

    def to_dict(self) -> dict[str, Any]:
        """The canonical and ``--json`` shape."""
        return {"kind": self.kind, "key": self.key, "digest": self.digest}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordRef:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data["kind"]), str(data["key"]), data.get("digest"))


@sealed
@dataclass(frozen=True, slots=True)
class Record:
    """One record as the catalog holds it now."""

    kind: str
    key: str
    label: str
    """How people name it: ``version d@v1``, ``tag d@release-1``, ``hold on d@v2`` …"""
    digest: str
    version: str | None
    """``asset@vN`` of the version the record belongs to, when there is one."""

    @property
    def ref(self) -> RecordRef:
        """The reference an audit entry stores."""
        return RecordRef(self.kind, self.key, self.digest)


def digest(kind: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON (sorted keys, no whitespace, UTF-8)."""
    # Floats are allowed here (contract results carry them): both sides re-serialise the same
    # parsed values with Python's shortest round-trip repr, so the text is stable.
    text = json.dumps(
        {"kind": kind, "record": fields},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return sha256(text.encode("utf-8")).hexdigest()


def version_identity(
    *,
    asset: str,
    parent: str | None,
    tree: str,
    manifest: str,
    author: str,
    created_at: str,
    message: str,
    meta: Mapping[str, str],
) -> bytes:
    """The bytes a version id hashes: its content, parent and authorship (see ops/commit)."""
    return json.dumps(
        {
            "asset": asset,
            "parent": parent,
            "tree": tree,
            "manifest": manifest,
            "author": author,
            "created_at": created_at,
            "message": message,
            "meta": dict(meta),
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def version_id(algorithm: str, identity: bytes) -> VersionId:
    """A version's id: the first 32 hex of the repo's hash over its identity bytes."""
    from dvlin.objects.hashing import hash_bytes

    return VersionId(hash_bytes(algorithm, identity)[:32])


def _json(text: str | None, default: Any) -> Any:
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return text  # a mangled column still digests (to something no entry holds)


_LABELS = {
    "version": "version {v}",
    "tag": "tag {k}",
    "hold": "hold on {v}",
    "stage": "stage #{k} of {v}",
    "override": "override on {v}",
    "expiry": "expiry of {v}",
    "run": "run {k}",
    "derivation": "derived_from links into {v}",
}


def label(kind: str, key: str, version: str | None) -> str:
    """How a message names a record: ``tag d@rel``, ``hold on d@v2``, ``stage #3 of m@v1`` …"""
    return _LABELS.get(kind, kind + " {k}").format(k=key, v=version or key)


def _labels(conn: sqlite3.Connection, version_id: str | None = None) -> dict[str, str]:
    sql = "SELECT id, asset, number FROM versions"
    args: tuple[Any, ...] = ()
    if version_id is not None:
        sql, args = sql + " WHERE id = ?", (version_id,)
    return {r[0]: f"{r[1]}@v{r[2]}" for r in conn.execute(sql, args)}


def version_label(conn: sqlite3.Connection, version_id: str) -> str | None:
    """``asset@vN`` of a version id, or None when there is no such row."""
    return _labels(conn, version_id).get(version_id)


def _versions(
    conn: sqlite3.Connection, kinds: set[str], key: str | None = None
) -> Iterator[Record]:
    where, args = (" WHERE id = ?", (key,)) if key is not None else ("", ())
    for r in conn.execute(f"SELECT {_VERSION_COLUMNS} FROM versions{where}", args):
        ver = f"{r[1]}@v{r[2]}"
        info = _json(r[14], {})
        if "version" in kinds:
            fields = {
                "id": r[0],
                "asset": r[1],
                "number": r[2],
                "parent": r[3],
                "tree": r[4],
                "manifest": r[5],
                "author": r[6],
                "created_at": r[7],
                "message": r[8] or "",
                "meta": _json(r[9], {}),
                "files": r[10],
                "bytes": r[11],
                "base": r[12],
                "roots": _json(r[13], ["."]),
                "info": info,
            }
            yield Record(
                "version", r[0], label("version", r[0], ver), digest("version", fields), ver
            )
        override = info.get("override") if isinstance(info, dict) else None
        if "override" in kinds and override:
            fields = {"id": r[0], "override": override}
            yield Record(
                "override", r[0], label("override", r[0], ver), digest("override", fields), ver
            )
        if "expiry" in kinds and r[15] is not None:
            fields = {"id": r[0], "expired_at": r[15]}
            yield Record("expiry", r[0], label("expiry", r[0], ver), digest("expiry", fields), ver)


def _tags(conn: sqlite3.Connection, key: str | None = None) -> Iterator[Record]:
    sql = "SELECT asset, name, version, created_at, author, retain FROM tags"
    args: tuple[Any, ...] = ()
    if key is not None:
        asset, _, name = key.partition("@")
        sql, args = sql + " WHERE asset = ? AND name = ?", (asset, name)
    for r in conn.execute(sql, args):
        fields = dict(
            zip(("asset", "name", "version", "created_at", "author", "retain"), r, strict=True)
        )
        tag = f"{r[0]}@{r[1]}"
        ver = _labels(conn, r[2]).get(r[2])
        yield Record("tag", tag, label("tag", tag, ver), digest("tag", fields), ver)


def _holds(conn: sqlite3.Connection, key: str | None = None) -> Iterator[Record]:
    sql = "SELECT version, reason, author, created_at FROM holds"
    args: tuple[Any, ...] = ()
    if key is not None:
        sql, args = sql + " WHERE version = ?", (key,)
    for r in conn.execute(sql, args):
        fields = dict(zip(("version", "reason", "author", "created_at"), r, strict=True))
        ver = _labels(conn, r[0]).get(r[0])
        yield Record("hold", r[0], label("hold", r[0], ver), digest("hold", fields), ver)


def _stages(conn: sqlite3.Connection, key: str | None = None) -> Iterator[Record]:
    sql = "SELECT seq, version, stage, author, created_at FROM model_stages"
    args: tuple[Any, ...] = ()
    if key is not None:
        if not key.isdigit():
            return
        sql, args = sql + " WHERE seq = ?", (int(key),)
    for r in conn.execute(sql, args):
        fields = dict(zip(("version", "stage", "author", "created_at"), r[1:], strict=True))
        ver = _labels(conn, r[1]).get(r[1])
        key = str(r[0])
        yield Record("stage", key, label("stage", key, ver or r[1]), digest("stage", fields), ver)


_RUN_COLUMNS = (
    "id, kind, transform, status, exit_code, command, shell, cwd, started_at, ended_at, "
    "params, metrics, code, env, spec, author, error"
)
_RUN_JSON = {"command", "params", "metrics", "code", "env", "spec"}


def _runs(conn: sqlite3.Connection, key: str | None = None) -> Iterator[Record]:
    """A run: its row and every edge into or out of it (its inputs and outputs)."""
    where = " WHERE src = ? OR dst = ?" if key is not None else ""
    edges: dict[str, list[list[str]]] = {}
    for src, dst, kind in conn.execute(
        f"SELECT src, dst, kind FROM edges{where}", (key, key) if key is not None else ()
    ):
        for node in (src, dst):
            if node.startswith("r-") and (key is None or node == key):
                edges.setdefault(node, []).append([src, dst, kind])
    sql = f"SELECT {_RUN_COLUMNS} FROM runs"
    args: tuple[Any, ...] = ()
    if key is not None:
        sql, args = sql + " WHERE id = ?", (key,)
    rows = {r[0]: r for r in conn.execute(sql, args)}
    # Edges that name a run with no row are records too: an inserted edge is caught.
    names = _RUN_COLUMNS.split(", ")
    for run_id in sorted(set(rows) | set(edges)):
        r = rows.get(run_id)
        fields: dict[str, Any] = {
            n: (_json(v, None) if n in _RUN_JSON else v)
            for n, v in zip(names, r or (), strict=False)
        }
        fields["edges"] = sorted(edges.get(run_id, []))
        yield Record("run", run_id, label("run", run_id, None), digest("run", fields), None)


def _derivations(conn: sqlite3.Connection, key: str | None = None) -> Iterator[Record]:
    """The ``derived_from`` links into one version (recorded by ``dvlin link``)."""
    sql = "SELECT dst, src FROM edges WHERE kind = 'derived_from'"
    args: tuple[Any, ...] = ()
    if key is not None:
        sql, args = sql + " AND dst = ?", (key,)
    into: dict[str, list[str]] = {}
    for dst, src in conn.execute(sql, args):
        into.setdefault(dst, []).append(src)
    for dst, srcs in sorted(into.items()):
        ver = _labels(conn, dst).get(dst)
        fields = {"version": dst, "from": sorted(srcs)}
        yield Record(
            "derivation", dst, label("derivation", dst, ver), digest("derivation", fields), ver
        )


def _records(conn: sqlite3.Connection, kind: str, key: str | None = None) -> Iterator[Record]:
    if kind in ("version", "override", "expiry"):
        return _versions(conn, {kind}, key)
    readers = {
        "tag": _tags,
        "hold": _holds,
        "stage": _stages,
        "run": _runs,
        "derivation": _derivations,
    }
    return readers[kind](conn, key)


def snapshot(conn: sqlite3.Connection) -> dict[tuple[str, str], Record]:
    """Every record the audit chain must account for, by ``(kind, key)``."""
    found = {(r.kind, r.key): r for r in _versions(conn, {"version", "override", "expiry"})}
    for kind in ("tag", "hold", "stage", "run", "derivation"):
        found.update(((r.kind, r.key), r) for r in _records(conn, kind))
    return found


def record(catalog: Catalog, kind: str, key: str) -> RecordRef:
    """The record ``(kind, key)`` as the catalog holds it now (digest None when absent)."""
    for r in _records(catalog.conn, kind, key):
        return r.ref
    return RecordRef(kind, key, None)


def version_record(catalog: Catalog, version_id: VersionId) -> RecordRef:
    """The version row as it now is."""
    return record(catalog, "version", version_id)


def tag_record(catalog: Catalog, asset: str, name: str) -> RecordRef:
    """The tag ``asset@name`` as it now is."""
    return record(catalog, "tag", f"{asset}@{name}")


def hold_record(catalog: Catalog, version_id: VersionId) -> RecordRef:
    """The hold on a version (digest None once released)."""
    return record(catalog, "hold", version_id)


def override_record(catalog: Catalog, version_id: VersionId) -> RecordRef:
    """The contract override a version carries."""
    return record(catalog, "override", version_id)


def expiry_record(catalog: Catalog, version_id: VersionId) -> RecordRef:
    """When a version was expired."""
    return record(catalog, "expiry", version_id)


def run_record(catalog: Catalog, run_id: str) -> RecordRef:
    """A run with its input and output edges, as they now are."""
    return record(catalog, "run", run_id)


def derivation_record(catalog: Catalog, version_id: VersionId) -> RecordRef:
    """The ``derived_from`` links into a version, as they now are."""
    return record(catalog, "derivation", version_id)


def stage_record(catalog: Catalog, version_id: VersionId) -> RecordRef:
    """The newest stage change of a model version (the one the caller just inserted)."""
    row = catalog.conn.execute(
        "SELECT MAX(seq) FROM model_stages WHERE version = ?", (version_id,)
    ).fetchone()
    return record(catalog, "stage", str(row[0] if row else None))
