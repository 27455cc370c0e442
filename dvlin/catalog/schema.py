"""The catalog's schema as a list of forward migrations, applied with sqlite-utils.

Each migration runs once, in order, inside the caller's transaction; ``meta.schema_version``
records how many have run. Never edit a released migration: append a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[["object"], None]


def _v1(db) -> None:  # type: ignore[no-untyped-def]
    db["assets"].create(
        {"name": str, "kind": str, "base": str, "roots": str, "created_at": str, "owner": str},
        pk="name",
    )
    db["versions"].create(
        {
            "id": str,
            "asset": str,
            "number": int,
            "parent": str,
            "tree": str,
            "manifest": str,
            "author": str,
            "created_at": str,
            "message": str,
            "meta": str,
            "files": int,
            "bytes": int,
            "base": str,
            "roots": str,
            "info": str,
        },
        pk="id",
        not_null={"asset", "number", "tree", "manifest", "author", "created_at"},
        foreign_keys=[("asset", "assets", "name")],
    )
    db["versions"].create_index(["asset", "number"], unique=True)
    db["tags"].create(
        {"asset": str, "name": str, "version": str, "created_at": str, "author": str},
        pk=("asset", "name"),
        foreign_keys=[("version", "versions", "id")],
    )
    db["objects"].create({"oid": str, "size": int, "pack": str, "offset": int}, pk="oid")
    db["version_objects"].create({"version": str, "oid": str}, pk=("version", "oid"))
    db["version_objects"].create_index(["oid"])
    db["stat_cache"].create(
        {"path": str, "size": int, "mtime_ns": int, "inode": int, "oid": str}, pk="path"
    )
    db["workspace"].create({"asset": str, "version": str, "updated_at": str}, pk="asset")


def _v2(db) -> None:  # type: ignore[no-untyped-def]
    """Lineage: runs, the edges of the DAG, and model stage changes."""
    db["runs"].create(
        {
            "id": str,
            "kind": str,
            "transform": str,
            "status": str,
            "exit_code": int,
            "command": str,
            "shell": int,
            "cwd": str,
            "started_at": str,
            "ended_at": str,
            "params": str,
            "metrics": str,
            "code": str,
            "env": str,
            "spec": str,
            "author": str,
            "error": str,
        },
        pk="id",
        not_null={"kind", "transform", "status", "started_at", "author"},
    )
    db["runs"].create_index(["transform", "started_at"])
    # One row per edge of the DAG, in the direction data flows: input version → run,
    # run → output version, or version → version for ``derived_from`` links made by hand.
    db["edges"].create({"src": str, "dst": str, "kind": str}, pk=("src", "dst", "kind"))
    db["edges"].create_index(["dst"])
    db["model_stages"].create(
        {"seq": int, "version": str, "stage": str, "author": str, "created_at": str},
        pk="seq",
        foreign_keys=[("version", "versions", "id")],
    )
    db["model_stages"].create_index(["version", "seq"])


def _v3(db) -> None:  # type: ignore[no-untyped-def]
    """The append-only, hash-chained audit log."""
    db["audit"].create(
        {
            "seq": int,
            "at": str,
            "actor": str,
            "action": str,
            "target": str,
            "outcome": str,
            "reason": str,
            "details": str,
            "prev": str,
            "hash": str,
        },
        pk="seq",
        not_null={"at", "actor", "action", "target", "outcome", "details", "prev", "hash"},
    )
    db["audit"].create_index(["action"])
    db["audit"].create_index(["target"])


def _v4(db) -> None:  # type: ignore[no-untyped-def]
    """Retention: holds on versions, and a maximum age a tag may carry."""
    db["holds"].create(
        {"version": str, "reason": str, "author": str, "created_at": str},
        pk="version",
        not_null={"reason", "author", "created_at"},
        foreign_keys=[("version", "versions", "id")],
    )
    db["tags"].add_column("retain", str)


def _v5(db) -> None:  # type: ignore[no-untyped-def]
    """Garbage collection: expired versions and the plans that expired them."""
    db["versions"].add_column("expired_at", str)
    db["gc_plans"].create(
        {
            "id": str,
            "created_at": str,
            "author": str,
            "status": str,
            "versions": str,
            "objects": str,
            "bytes": int,
        },
        pk="id",
        not_null={"created_at", "author", "status", "versions", "objects"},
    )


def _v6(db) -> None:  # type: ignore[no-untyped-def]
    """Audit entries commit to the records they describe, with salted, erasable payloads.

    Old entries stay as they are (``format`` 1) and keep verifying; new ones are format 2.
    Every record already in the catalog is adopted by one ``adopt`` entry each, so the
    replay of ``audit verify`` has a digest for it: the audit layer (above the catalog, which
    cannot import it) does that on the repo's first open, and ``audit_adopt_pending`` says so.
    """
    for column, type_ in (
        ("format", int),
        ("clone", str),
        ("record_kind", str),
        ("record_key", str),
        ("record_digest", str),
        ("salts", str),
        ("redacted", str),
        ("payload_hash", str),
    ):
        db["audit"].add_column(column, type_)
    db.execute("UPDATE audit SET format = 1")
    db["audit"].create_index(["record_kind", "record_key"])
    if db.execute("SELECT 1 FROM versions LIMIT 1").fetchone() is not None:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('audit_adopt_pending', '6')")


def _v7(db) -> None:  # type: ignore[no-untyped-def]
    """Asset management: names ``dvlin mv`` left behind, and assets ``dvlin rm`` untracked."""
    db["asset_aliases"].create(
        {"alias": str, "asset": str, "created_at": str, "author": str},
        pk="alias",
        not_null={"asset", "created_at", "author"},
    )
    db["asset_aliases"].create_index(["asset"])
    db["assets"].add_column("removed_at", str)


def _v8(db) -> None:  # type: ignore[no-untyped-def]
    """Profiles: the stored profile object of a file's content, per profiler version."""
    # Keyed by content (file oid and format), so a file unchanged across versions, or the same
    # bytes in two assets, is profiled once. Profiles of versions committed before profiles
    # existed are computed on first use and land here too.
    db["profiles"].create(
        {"oid": str, "format": str, "profiler": int, "profile": str, "created_at": str},
        pk=("oid", "format", "profiler"),
        not_null={"profile", "created_at"},
    )


def _v9(db) -> None:  # type: ignore[no-untyped-def]
    """Remotes: what each remote holds (records, object locations, segments seen) and the
    audit chains of other clones, so push and fetch never list a bucket."""
    db["remote_segments"].create(
        {"remote": str, "segment": str, "seq": int, "applied": int},
        pk=("remote", "segment"),
        not_null={"seq", "applied"},
    )
    db["remote_records"].create(
        {"remote": str, "kind": str, "key": str, "value": str}, pk=("remote", "kind", "key")
    )
    # An object may be held twice: dedup stops at storage groups (each has its own prefix).
    db["remote_objects"].create(
        {"remote": str, "oid": str, "file": str, "offset": int, "size": int},
        pk=("remote", "oid", "file"),
        not_null={"file", "offset", "size"},
    )
    db["remote_audit"].create(
        {"clone": str, "seq": int, "hash": str, "entry": str},
        pk=("clone", "seq"),
        not_null={"hash", "entry"},
    )


def _v10(db) -> None:  # type: ignore[no-untyped-def]
    """Manifest checks: which manifest objects passed validation, by which validator, in
    which file of the local store (so reads can skip validating them again)."""
    # A cache, not a record of the repo's history: rows are local, never synced or audited,
    # and a missing or stale row only costs one more validation.
    db["manifest_checks"].create(
        {"oid": str, "validator": int, "file": str, "checked_at": str},
        pk="oid",
        not_null={"validator", "file", "checked_at"},
    )


# Append-only: a new migration goes at the end (the remotes one may be renumbered on merge).
MIGRATIONS: list[Migration] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """The number of migrations already applied (0 for an empty database)."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations this catalog lacks; the caller holds a write transaction."""
    import sqlite_utils  # 0.2 s to import, so only when the schema changes

    current = schema_version(conn)
    if current >= SCHEMA_VERSION:
        return current
    db = sqlite_utils.Database(conn)
    if current == 0 and not db["meta"].exists():
        db.table("meta").create({"key": str, "value": str}, pk="key")
    for migration in MIGRATIONS[current:]:
        migration(db)
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
        (str(SCHEMA_VERSION),),
    )
    return SCHEMA_VERSION
