"""Queries over the catalog. The only module that writes SQL (besides the migrations)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvlin.catalog.schema import SCHEMA_VERSION, migrate, schema_version
from dvlin.errors import (
    ConflictError,
    DvlinError,
    FileSystemError,
    IntegrityError,
    ReadOnlyRepoError,
    UsageError,
)
from dvlin.objects.hashing import StatRow
from dvlin.objects.store import StoredObject
from dvlin.values import sealed

_VERSION_COLUMNS = (
    "id, asset, number, parent, tree, manifest, author, created_at, message, meta, files, "
    "bytes, base, roots, info"
)


def select_in(
    conn: sqlite3.Connection, sql: str, values: Iterable[Any], *, batch: int = 500
) -> Iterator[Any]:
    """Rows of ``sql`` for every value, where ``{marks}`` in ``sql`` is the ``IN (...)`` list.

    Values go in batches because SQLite caps the parameters of one statement.
    """
    wanted = list(values)
    for i in range(0, len(wanted), batch):
        part = wanted[i : i + batch]
        yield from conn.execute(sql.format(marks=",".join("?" * len(part))), part)


def _connect(path: Path, *, timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA secure_delete=ON")
        # Reading the schema version touches the file: an unreadable WAL fails here, not later.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _is_read_only_failure(exc: sqlite3.OperationalError, path: Path) -> bool:
    """Whether opening for writing failed because the catalog's files cannot be written."""
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        return True
    if "unable to open" not in text and "disk i/o" not in text:
        return False
    folder = path.parent
    candidates = [
        folder,
        path,
        path.with_name(path.name + "-wal"),
        path.with_name(path.name + "-shm"),
    ]
    return any(p.exists() and not os.access(p, os.W_OK) for p in candidates)


def _connect_read_only(path: Path, *, timeout: float) -> sqlite3.Connection:
    """Open the catalog for reading only: through its WAL when it can, else as immutable."""
    from urllib.request import pathname2url

    uri = "file:" + pathname2url(str(path.resolve()))
    try:
        return _connect_uri(f"{uri}?mode=ro", timeout=timeout)
    except sqlite3.OperationalError:
        pass  # no -shm file and no right to create one
    except sqlite3.DatabaseError as exc:
        raise translate(exc, path) from None
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        # immutable=1 would ignore the WAL and show the catalog as it was before those changes.
        raise ReadOnlyRepoError(f"{wal} (it holds changes not yet written to the catalog)")
    # No WAL to read, so nothing can change under us: immutable needs no -shm file and no lock.
    try:
        return _connect_uri(f"{uri}?mode=ro&immutable=1", timeout=timeout)
    except sqlite3.DatabaseError as exc:
        raise translate(exc, path) from None


def _connect_uri(uri: str, *, timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, timeout=timeout, isolation_level=None, uri=True)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def translate(exc: sqlite3.Error, path: Path) -> DvlinError:
    """The user-facing error for a SQLite failure on the catalog at ``path``.

    A failure that is none of these (a bad query, a constraint the code should have checked)
    is a bug: it is raised again as it is, with its traceback.
    """
    import errno

    text = str(exc)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return ConflictError(
            "the catalog is locked by another dvlin process",
            hint="wait for it to finish, or raise DVLIN_LOCK_TIMEOUT",
        )
    if "readonly" in lowered or "read-only" in lowered:
        return ReadOnlyRepoError(str(path))
    if "full" in lowered:
        return FileSystemError.from_os(
            OSError(errno.ENOSPC, "No space left on device"), action="write", path=path
        )
    if "not a database" in lowered or "malformed" in lowered:
        return IntegrityError(
            f"catalog {path} is damaged: {text}",
            hint="restore .dvlin/catalog.db from a backup",
        )
    if "unable to open" in lowered or "disk i/o" in lowered:
        return FileSystemError(
            f"cannot use catalog {path}: {text}",
            hint=f"check that {path.parent} exists and that its permissions let you read it",
            path=str(path),
        )
    raise exc


@sealed
@dataclass(frozen=True, slots=True)
class Version:
    """One immutable version of an asset, as the catalog records it."""

    id: str
    asset: str
    number: int
    parent: str | None
    tree: str
    manifest: str
    author: str
    created_at: str
    message: str
    meta: dict[str, str]
    files: int
    bytes: int
    base: str
    roots: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``asset@vN``: how people talk about a version."""
        return f"{self.asset}@v{self.number}"

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Version:
        """Build from a row selected with ``_VERSION_COLUMNS``."""
        return cls(
            id=row[0],
            asset=row[1],
            number=row[2],
            parent=row[3],
            tree=row[4],
            manifest=row[5],
            author=row[6],
            created_at=row[7],
            message=row[8] or "",
            meta=json.loads(row[9] or "{}"),
            files=row[10],
            bytes=row[11],
            base=row[12],
            roots=tuple(json.loads(row[13] or '["."]')),
            info=json.loads(row[14] or "{}"),
        )


@sealed
@dataclass(frozen=True, slots=True)
class Asset:
    """A named, versioned thing and a summary of its newest version."""

    name: str
    kind: str
    base: str
    roots: tuple[str, ...]
    created_at: str
    owner: str | None
    latest: int | None
    latest_id: str | None
    bytes: int
    files: int


@sealed
@dataclass(frozen=True, slots=True)
class Tag:
    """A name given to one version of an asset."""

    asset: str
    name: str
    version: str
    number: int
    created_at: str
    author: str


class Catalog:
    """A connection to ``catalog.db`` with dvlin's queries as methods."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, read_only: bool = False) -> None:
        self.conn = conn
        self.path = path
        self.read_only = read_only

    @classmethod
    def open(cls, path: Path, *, create: bool = False, timeout: float = 60.0) -> Catalog:
        """Open (or create) the catalog, in WAL mode, migrating it forward when needed.

        A catalog that cannot be written (a read-only mount, a CI cache, a WAL file that
        cannot be written) opens read-only: reading commands work, and the first write
        raises :class:`ReadOnlyRepoError`.

        Raises:
            UsageError: the catalog is missing, or newer than this dvlin.
            IntegrityError: the file is not a SQLite database.
        """
        if not create and not path.exists():
            raise UsageError(f"catalog {path} is missing", hint="the repo is damaged")
        try:
            conn = _connect(path, timeout=timeout)
            read_only = False
        except sqlite3.OperationalError as exc:
            if create or not _is_read_only_failure(exc, path):
                raise translate(exc, path) from None
            conn = _connect_read_only(path, timeout=timeout)
            read_only = True
        except sqlite3.DatabaseError as exc:
            raise translate(exc, path) from None
        catalog = cls(conn, path, read_only=read_only)
        try:
            found = schema_version(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise translate(exc, path) from None
        if found > SCHEMA_VERSION:
            conn.close()
            raise UsageError(
                f"catalog schema {found} is newer than this dvlin ({SCHEMA_VERSION})",
                hint="upgrade dvlin",
            )
        if found < SCHEMA_VERSION:
            if read_only:
                conn.close()
                raise ReadOnlyRepoError(f"{path} (its schema {found} needs upgrading)")
            with catalog.transaction():
                migrate(conn)
        return catalog

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; waits for other writers up to the connection's timeout.

        Raises:
            ReadOnlyRepoError: the catalog was opened read-only.
            ConflictError: another process held the catalog past the timeout.
        """
        if self.read_only:
            raise ReadOnlyRepoError(str(self.path))
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise translate(exc, self.path) from None
        try:
            yield self.conn
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise translate(exc, self.path) from None
        except BaseException:
            self._rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback()
                raise translate(exc, self.path) from None

    def _rollback(self) -> None:
        # A failed COMMIT (disk full) may already have rolled back; never hide the real error.
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")

    # -- meta ---------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A value from the ``meta`` table."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Set a value in the ``meta`` table (inside the caller's transaction)."""
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- assets and versions ------------------------------------------------------------------

    def asset_names(self, *, include_removed: bool = False) -> list[str]:
        """Every tracked asset name (with ``include_removed``, also those ``rm`` untracked)."""
        where = "" if include_removed else "WHERE removed_at IS NULL "
        return [r[0] for r in self.conn.execute(f"SELECT name FROM assets {where}ORDER BY name")]

    def get_asset_kind(self, name: str) -> str | None:
        """The kind of an asset, or None when it does not exist."""
        row = self.conn.execute("SELECT kind FROM assets WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def list_assets(self, *, include_removed: bool = False) -> list[Asset]:
        """Every tracked asset (or every asset) with its newest version's summary."""
        rows = self.conn.execute(
            """
            SELECT a.name, a.kind, a.base, a.roots, a.created_at, a.owner,
                   v.number, v.id, v.bytes, v.files
            FROM assets a
            LEFT JOIN versions v ON v.asset = a.name
                AND v.number = (SELECT MAX(number) FROM versions WHERE asset = a.name)
            WHERE a.removed_at IS NULL OR ?
            ORDER BY a.name
            """,
            (include_removed,),
        )
        return [
            Asset(
                name=r[0],
                kind=r[1],
                base=r[2],
                roots=tuple(json.loads(r[3])),
                created_at=r[4],
                owner=r[5],
                latest=r[6],
                latest_id=r[7],
                bytes=r[8] or 0,
                files=r[9] or 0,
            )
            for r in rows
        ]

    def upsert_asset(
        self, name: str, *, kind: str, base: str, roots: Sequence[str], created_at: str
    ) -> None:
        """Create the asset, or update where its newest version lives."""
        self.conn.execute(
            """
            INSERT INTO assets (name, kind, base, roots, created_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(name) DO UPDATE SET base = excluded.base, roots = excluded.roots,
                removed_at = NULL
            """,
            (name, kind, base, json.dumps(list(roots)), created_at),
        )

    def latest_version(self, asset: str) -> Version | None:
        """The newest version of ``asset``."""
        row = self.conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM versions WHERE asset = ? ORDER BY number DESC LIMIT 1",
            (asset,),
        ).fetchone()
        return Version.from_row(row) if row else None

    def version_by_number(self, asset: str, number: int) -> Version | None:
        """Version ``number`` of ``asset``."""
        row = self.conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM versions WHERE asset = ? AND number = ?",
            (asset, number),
        ).fetchone()
        return Version.from_row(row) if row else None

    def version(self, version_id: str) -> Version | None:
        """The version with exactly this id."""
        row = self.conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM versions WHERE id = ?", (version_id,)
        ).fetchone()
        return Version.from_row(row) if row else None

    def versions_with_prefix(self, prefix: str, *, limit: int = 10) -> list[Version]:
        """Versions whose id starts with ``prefix`` (a lower-case hex string)."""
        rows = self.conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM versions WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (prefix, prefix + "g", limit),
        )
        return [Version.from_row(r) for r in rows]

    def iter_versions(self, asset: str | None = None, *, limit: int | None = None) -> list[Version]:
        """Versions newest first, of one asset or of all."""
        where, args = ("WHERE asset = ?", [asset]) if asset else ("", [])
        args_: list[str | int] = list(args)
        sql = (
            f"SELECT {_VERSION_COLUMNS} FROM versions {where} ORDER BY created_at DESC, number DESC"
        )
        if limit is not None:
            sql += " LIMIT ?"
            args_.append(limit)
        return [Version.from_row(r) for r in self.conn.execute(sql, args_)]

    def insert_version(self, v: Version) -> None:
        """Record a new version (inside the caller's transaction)."""
        self.conn.execute(
            f"INSERT INTO versions ({_VERSION_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                v.id,
                v.asset,
                v.number,
                v.parent,
                v.tree,
                v.manifest,
                v.author,
                v.created_at,
                v.message,
                json.dumps(v.meta, sort_keys=True),
                v.files,
                v.bytes,
                v.base,
                json.dumps(list(v.roots)),
                json.dumps(v.info, sort_keys=True),
            ),
        )

    def versions_using(self, oid: str, *, limit: int = 20) -> list[str]:
        """Labels (``asset@vN``) of versions whose bytes live in object ``oid``."""
        rows = self.conn.execute(
            """
            SELECT v.asset, v.number FROM version_objects vo
            JOIN versions v ON v.id = vo.version
            WHERE vo.oid = ? OR vo.oid = (SELECT pack FROM objects WHERE oid = ?)
            ORDER BY v.asset, v.number LIMIT ?
            """,
            (oid, oid, limit),
        )
        return [f"{a}@v{n}" for a, n in rows]

    # -- tags ---------------------------------------------------------------------------------

    def tags(self, asset: str | None = None) -> list[Tag]:
        """Tags of one asset or of all, by asset then name."""
        where, args = ("WHERE t.asset = ?", (asset,)) if asset else ("", ())
        rows = self.conn.execute(
            "SELECT t.asset, t.name, t.version, v.number, t.created_at, t.author FROM tags t "
            f"JOIN versions v ON v.id = t.version {where} ORDER BY t.asset, t.name",
            args,
        )
        return [Tag(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def tag(self, asset: str, name: str) -> Tag | None:
        """One tag of an asset."""
        for t in self.tags(asset):
            if t.name == name:
                return t
        return None

    def tags_of(self, version_id: str) -> list[str]:
        """Names of the tags on a version."""
        rows = self.conn.execute(
            "SELECT name FROM tags WHERE version = ? ORDER BY name", (version_id,)
        )
        return [r[0] for r in rows]

    def insert_tag(
        self, asset: str, name: str, version: str, *, created_at: str, author: str
    ) -> None:
        """Record a tag (inside the caller's transaction).

        Raises:
            ConflictError: the asset already has a tag of that name (tags never move).
        """
        try:
            self.conn.execute(
                "INSERT INTO tags (asset, name, version, created_at, author) "
                "VALUES (?, ?, ?, ?, ?)",
                (asset, name, version, created_at, author),
            )
        except sqlite3.IntegrityError:
            raise ConflictError(
                f"tag {asset}@{name} exists", hint="choose another tag name"
            ) from None

    # -- objects ------------------------------------------------------------------------------

    def find_object(self, oid: str) -> StoredObject | None:
        """Where a stored object's bytes are, or None when the catalog does not know it."""
        row = self.conn.execute(
            "SELECT size, pack, offset FROM objects WHERE oid = ?", (oid,)
        ).fetchone()
        return StoredObject(oid, row[0], row[1], row[2]) if row else None

    def find_objects(self, oids: Iterable[str]) -> dict[str, StoredObject]:
        """Where each of ``oids`` is stored, for those the catalog knows (one query per 500)."""
        rows = select_in(
            self.conn, "SELECT oid, size, pack, offset FROM objects WHERE oid IN ({marks})", oids
        )
        return {r[0]: StoredObject(*r) for r in rows}

    def add_objects(self, objects: Iterable[StoredObject]) -> None:
        """Record stored objects (inside the caller's transaction)."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO objects (oid, size, pack, offset) VALUES (?, ?, ?, ?)",
            ((o.oid, o.size, o.pack, o.offset) for o in objects),
        )

    def link_version_objects(self, version_id: str, oids: Iterable[str]) -> None:
        """Record which storage objects a version needs (inside the caller's transaction)."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO version_objects (version, oid) VALUES (?, ?)",
            ((version_id, oid) for oid in oids),
        )

    # -- stat cache and workspace -------------------------------------------------------------

    def stat_rows(self, prefix: str) -> dict[str, tuple[int, int, int, str]]:
        """Stat-cache rows ``path → (size, mtime_ns, inode, oid)`` under ``prefix``."""
        # Plain tuples, not StatRow: 20,000 rows load in a third of the time.
        if prefix:
            cur = self.conn.execute(
                "SELECT path, size, mtime_ns, inode, oid FROM stat_cache "
                "WHERE path = ? OR (path >= ? AND path < ?)",
                (prefix, prefix + "/", prefix + "0"),
            )
        else:
            cur = self.conn.execute("SELECT path, size, mtime_ns, inode, oid FROM stat_cache")
        return {r[0]: r[1:] for r in cur}

    def put_stat_rows(self, rows: Iterable[tuple[str, StatRow]]) -> None:
        """Insert or refresh stat-cache rows (inside the caller's transaction)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO stat_cache (path, size, mtime_ns, inode, oid) "
            "VALUES (?, ?, ?, ?, ?)",
            ((p, r.size, r.mtime_ns, r.inode, r.oid) for p, r in rows),
        )

    def workspace_version(self, asset: str) -> str | None:
        """The id of the version last committed or checked out into the asset's own path."""
        row = self.conn.execute(
            "SELECT version FROM workspace WHERE asset = ?", (asset,)
        ).fetchone()
        return row[0] if row else None

    def set_workspace_version(self, asset: str, version_id: str, *, updated_at: str) -> None:
        """Record what the asset's own path now holds (inside the caller's transaction)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO workspace (asset, version, updated_at) VALUES (?, ?, ?)",
            (asset, version_id, updated_at),
        )
