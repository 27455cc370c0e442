"""The catalog's connection: opening (read-only when it must), migrations, transactions.

The catalog is the only package that writes SQL (besides the migrations).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Self

from dvlin.catalog.schema import SCHEMA_VERSION, migrate, schema_version
from dvlin.errors import (
    ConflictError,
    DvlinError,
    FileSystemError,
    IntegrityError,
    ReadOnlyRepoError,
    UsageError,
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
        yield from rows_of(conn.execute(sql.format(marks=",".join("?" * len(part))), part))


def rows_of(cursor: sqlite3.Cursor) -> Iterator[Any]:
    """The rows of ``cursor``, for a generator to yield from. A caller that stops midway
    (Ctrl-C) may leave the generator to be finalised after the catalog closed: the cursor is
    then closed quietly, not with "Exception ignored ... Cannot operate on a closed database"
    under the one-line error (``yield from cursor`` would close it loudly)."""
    try:
        for row in cursor:  # noqa: UP028 - see above
            yield row
    finally:
        with contextlib.suppress(sqlite3.ProgrammingError):
            cursor.close()


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


class Db:
    """A connection to ``catalog.db``: opening, migrating, transactions and the meta table."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, read_only: bool = False) -> None:
        self.conn = conn
        self.path = path
        self.read_only = read_only

    @classmethod
    def open(cls, path: Path, *, create: bool = False, timeout: float = 60.0) -> Self:
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
