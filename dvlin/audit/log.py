"""The audit log: one hash-chained row per change to the catalog.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical bytes
(see :mod:`dvlin.audit.entry` for both formats), starting from a genesis value tied to the
repo's id, so an edited, removed, inserted or reordered row breaks the chain at that row.
Entries are written by :func:`append` inside the transaction of the change they describe.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from dvlin.audit.entry import (
    ACTIONS,
    LEGACY,
    PAYLOAD_FIELDS,
    AuditEntry,
    canonical,
    genesis,
)
from dvlin.audit.records import RecordRef
from dvlin.catalog import Catalog
from dvlin.errors import UsageError
from dvlin.identity import author, utc_now

if TYPE_CHECKING:
    from dvlin.audit.verify import Verification

__all__ = ["ACTIONS", "AuditEntry", "append", "entries", "genesis", "verify"]

COLUMNS = (
    "seq, at, actor, action, target, outcome, reason, details, prev, hash, format, clone, "
    "record_kind, record_key, record_digest, salts, redacted, payload_hash"
)


def _row(r: Any) -> AuditEntry:
    record = RecordRef(r[12], r[13], r[14]) if r[12] else None
    return AuditEntry(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        json.loads(r[7]),
        r[8],
        r[9],
        r[10] or LEGACY,
        r[11] or "",
        record,
        json.loads(r[15]) if r[15] else {},
        json.loads(r[16]) if r[16] else {},
        r[17],
    )


def from_row(row: Mapping[str, Any]) -> AuditEntry:
    """An entry from a row keyed by column name (as remotes carry another clone's rows)."""
    return _row(tuple(row.get(c.strip()) for c in COLUMNS.split(",")))


def _write(conn: sqlite3.Connection, e: AuditEntry, *, replace: bool = False) -> None:
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    rec = e.record
    conn.execute(
        f"{verb} INTO audit ({COLUMNS}) VALUES ({', '.join('?' * 18)})",
        (
            e.seq,
            e.at,
            e.actor,
            e.action,
            e.target,
            e.outcome,
            e.reason,
            canonical(e.details).decode("utf-8"),
            e.prev,
            e.hash,
            e.format,
            e.clone,
            rec.kind if rec else None,
            rec.key if rec else None,
            rec.digest if rec else None,
            json.dumps(e.salts, sort_keys=True) if e.salts else None,
            json.dumps(e.redacted, sort_keys=True) if e.redacted else None,
            e.payload_hash,
        ),
    )


def append_to(
    conn: sqlite3.Connection,
    *,
    action: str,
    target: str,
    outcome: str = "ok",
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    actor: str | None = None,
    at: str | None = None,
    record: RecordRef | None = None,
) -> AuditEntry:
    """Append one entry over a bare connection (the migration uses this; see :func:`append`)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'repo_id'").fetchone()
    repo_id = row[0] if row else ""
    last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, genesis(repo_id))
    draft = AuditEntry(
        seq=seq,
        at=at or utc_now(),
        actor=actor or author(),
        action=action,
        target=target,
        outcome=outcome,
        reason=reason,
        details=dict(details or {}),
        prev=prev,
        hash="",
        clone=repo_id,
        record=record,
        salts={name: os.urandom(16).hex() for name in PAYLOAD_FIELDS},  # secrets.token_hex(16)
    )
    payload = draft.compute_payload_hash()
    with_payload = _replace(draft, payload_hash=payload)
    entry = _replace(with_payload, hash=with_payload.compute_hash())
    _write(conn, entry)
    return entry


def _replace(e: AuditEntry, **changes: Any) -> AuditEntry:
    import dataclasses

    return dataclasses.replace(e, **changes)


def append(
    catalog: Catalog,
    *,
    action: str,
    target: str,
    outcome: str = "ok",
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    actor: str | None = None,
    at: str | None = None,
    record: RecordRef | None = None,
) -> AuditEntry:
    """Append one entry; the caller holds the catalog transaction of the change it records.

    ``record`` names the catalog record the change left behind, read back after the change
    (see :mod:`dvlin.audit.records`); ``audit verify`` replays it against the catalog.
    """
    return append_to(
        catalog.conn,
        action=action,
        target=target,
        outcome=outcome,
        reason=reason,
        details=details,
        actor=actor,
        at=at,
        record=record,
    )


def iter_entries(conn: sqlite3.Connection) -> Iterator[AuditEntry]:
    """Every entry, in chain order."""
    for r in conn.execute(f"SELECT {COLUMNS} FROM audit ORDER BY seq"):
        yield _row(r)


def get_entry(catalog: Catalog, seq: int) -> AuditEntry | None:
    """Entry number ``seq``."""
    r = catalog.conn.execute(f"SELECT {COLUMNS} FROM audit WHERE seq = ?", (seq,)).fetchone()
    return _row(r) if r else None


def save_entry(catalog: Catalog, entry: AuditEntry) -> None:
    """Rewrite an existing entry in place (redaction only; inside the caller's transaction)."""
    _write(catalog.conn, entry, replace=True)


def parse_since(text: str, *, flag: str = "--since") -> dt.datetime:
    """A date or RFC 3339 time (``2026-03-01``, ``2026-03-01T12:00+01:00``) as aware UTC.

    A time without an offset is UTC, as the log's times are.
    """
    value = text.strip()
    try:
        if len(value) < 10 or value[4:5] != "-":
            raise ValueError(value)
        when = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise UsageError(
            f"{flag} {text!r} is not a date or time",
            hint="use YYYY-MM-DD or an RFC 3339 time such as 2026-03-01T12:00:00+01:00",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def check_action(action: str) -> str:
    """Refuse an action the log never writes."""
    if action not in ACTIONS:
        raise UsageError(f"unknown action {action!r}", hint="one of: " + ", ".join(ACTIONS))
    return action


def instant(text: str) -> dt.datetime | None:
    """A stored time as an aware instant (UTC when it names no offset); None when unreadable."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _at(entry: AuditEntry) -> dt.datetime | None:
    return instant(entry.at)


def entries(
    catalog: Catalog,
    *,
    asset: str | None = None,
    action: str | None = None,
    since: str | dt.datetime | None = None,
) -> list[AuditEntry]:
    """Entries in order, filtered by asset (target ``NAME`` or ``NAME@…``), action, or time.

    Raises:
        UsageError: ``action`` is not one the log writes, or ``since`` is not a date.
    """
    where: list[str] = []
    args: list[str | int] = []
    if asset:
        # The asset itself or any NAME@… target (no LIKE: names may hold '_' and '%').
        where.append("(target = ? OR substr(target, 1, ?) = ?)")
        args += [asset, len(asset) + 1, asset + "@"]
    if action:
        where.append("action = ?")
        args.append(check_action(action))
    start = parse_since(since) if isinstance(since, str) else since
    sql = f"SELECT {COLUMNS} FROM audit"
    if where:
        sql += " WHERE " + " AND ".join(where)
    found = [_row(r) for r in catalog.conn.execute(sql + " ORDER BY seq", args)]
    if start is not None:
        # Compared as instants, not strings: offsets and precision differ between writers.
        found = [e for e in found if (t := _at(e)) is not None and t >= start]
    return found


def parse_head(text: str) -> tuple[int, str]:
    """Parse ``SEQ:HASH`` as printed by ``dvlin audit head``."""
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise UsageError(f"bad head {text!r}", hint="use SEQ:HASH as `dvlin audit head` prints")
    return int(seq), digest.lower()


def verify(
    catalog: Catalog, *, algorithm: str | None = None, expect_head: str | None = None
) -> Verification:
    """Recompute the chain and replay it against the catalog (see :mod:`dvlin.audit.verify`)."""
    from dvlin.audit.verify import verify as run

    return run(catalog, algorithm=algorithm, expect_head=expect_head)
