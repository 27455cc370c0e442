"""The SQL of manifest checks: which manifest objects passed validation, and where."""

from __future__ import annotations

import contextlib
import sqlite3

from dvlin.catalog.db import Db
from dvlin.errors import DvlinError


class ManifestCheckQueries(Db):
    """Queries over the ``manifest_checks`` table (a local cache: see ``docs/design.md``)."""

    def manifest_check(self, oid: str) -> tuple[int, str] | None:
        """(validator version, file identity) recorded for manifest ``oid``, if any."""
        row = self.conn.execute(
            "SELECT validator, file FROM manifest_checks WHERE oid = ?", (oid,)
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def record_manifest_check(
        self, oid: str, *, validator: int, file: str, checked_at: str
    ) -> bool:
        """Remember that manifest ``oid``, held in ``file``, passed ``validator``.

        Best effort, in a transaction of its own unless the caller holds one: readers
        (``diff``, ``ls``) record too, and a read-only catalog or one busy with another
        writer for more than a moment only means the next read validates again. False when
        nothing was recorded.
        """
        row = (oid, validator, file, checked_at)
        sql = (
            "INSERT OR REPLACE INTO manifest_checks (oid, validator, file, checked_at)"
            " VALUES (?, ?, ?, ?)"
        )
        if self.read_only:
            return False
        if self.conn.in_transaction:  # the caller's unit of work: the row goes with it
            try:
                self.conn.execute(sql, row)
            except sqlite3.Error:
                return False
            return True
        # A reader waits at most a moment for a writer (a long commit): never for its timeout.
        timeout = self.conn.execute("PRAGMA busy_timeout").fetchone()[0]
        self.conn.execute("PRAGMA busy_timeout = 200")
        try:
            with self.transaction():
                self.conn.execute(sql, row)
            return True
        except (DvlinError, sqlite3.Error):
            return False
        finally:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")
