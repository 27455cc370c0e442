"""The audit log: one hash-chained row per change to the catalog.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON
(sorted keys, no floats, UTF-8), starting from a genesis value tied to the repo's id, so an
edited, removed, inserted or reordered row breaks the chain at that row. Entries are written
by :func:`append` inside the transaction of the change they describe.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from dvlin.catalog import Catalog
from dvlin.errors import UsageError
from dvlin.identity import author, utc_now
from dvlin.values import sealed

_COLUMNS = "seq, at, actor, action, target, outcome, reason, details, prev, hash"


@sealed
@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log."""

    seq: int
    at: str
    actor: str
    action: str
    target: str
    outcome: str
    reason: str | None
    details: dict[str, Any]
    prev: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape: every field."""
        return asdict(self)


def genesis(repo_id: str) -> str:
    """The 'previous hash' of the first entry: ties the chain to one repo."""
    return hashlib.sha256(f"dvlin-audit-genesis:{repo_id}".encode()).hexdigest()


def _no_floats(value: Any, where: str = "details") -> None:
    if isinstance(value, float):
        raise UsageError(
            f"audit {where} holds a float ({value!r})",
            hint="floats have no single canonical form; record them as strings",
        )
    if isinstance(value, Mapping):
        for k, v in value.items():
            _no_floats(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _no_floats(v, f"{where}[{i}]")


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The canonical JSON of an entry's fields (everything but ``prev`` and ``hash``)."""
    _no_floats(dict(fields))
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_hash(prev: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 over the previous hash and the canonical entry."""
    return hashlib.sha256(prev.encode("ascii") + b"\n" + canonical(fields)).hexdigest()


def _fields(
    seq: int,
    at: str,
    actor: str,
    action: str,
    target: str,
    outcome: str,
    reason: str | None,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "target": target,
        "outcome": outcome,
        "reason": reason,
        "details": dict(details),
    }


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
) -> AuditEntry:
    """Append one entry; the caller holds the catalog transaction of the change it records."""
    repo_id = catalog.get_meta("repo_id") or ""
    last = catalog.conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, genesis(repo_id))
    fields = _fields(
        seq, at or utc_now(), actor or author(), action, target, outcome, reason, details or {}
    )
    digest = entry_hash(prev, fields)
    catalog.conn.execute(
        f"INSERT INTO audit ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            seq,
            fields["at"],
            fields["actor"],
            action,
            target,
            outcome,
            reason,
            canonical(fields["details"]).decode("utf-8"),
            prev,
            digest,
        ),
    )
    return AuditEntry(
        seq,
        fields["at"],
        fields["actor"],
        action,
        target,
        outcome,
        reason,
        fields["details"],
        prev,
        digest,
    )


def _row(r: Any) -> AuditEntry:
    return AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]), r[8], r[9])


def entries(
    catalog: Catalog,
    *,
    asset: str | None = None,
    action: str | None = None,
    since: str | None = None,
) -> list[AuditEntry]:
    """Entries in order, filtered by asset (target ``NAME`` or ``NAME@…``), action, or time."""
    where: list[str] = []
    args: list[str | int] = []
    if asset:
        # The asset itself or any NAME@… target (no LIKE: names may hold '_' and '%').
        where.append("(target = ? OR substr(target, 1, ?) = ?)")
        args += [asset, len(asset) + 1, asset + "@"]
    if action:
        where.append("action = ?")
        args.append(action)
    if since:
        where.append("at >= ?")
        args.append(since)
    sql = f"SELECT {_COLUMNS} FROM audit"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [_row(r) for r in catalog.conn.execute(sql + " ORDER BY seq", args)]


@sealed
@dataclass(frozen=True, slots=True)
class Verification:
    """The result of recomputing the chain."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problem: str | None = None
    first_bad_seq: int | None = None

    @property
    def head(self) -> str:
        """``SEQ:HASH`` of the last entry, for CI logs to anchor."""
        return f"{self.head_seq}:{self.head_hash}"

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head,
            "problem": self.problem,
            "first_bad_seq": self.first_bad_seq,
        }


def parse_head(text: str) -> tuple[int, str]:
    """Parse ``SEQ:HASH`` as printed by ``dvlin audit head``."""
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise UsageError(f"bad head {text!r}", hint="use SEQ:HASH as `dvlin audit head` prints")
    return int(seq), digest.lower()


def verify(catalog: Catalog, *, expect_head: str | None = None) -> Verification:
    """Recompute every hash; report the first entry edited, removed, inserted or reordered."""
    expected = parse_head(expect_head) if expect_head else None
    repo_id = catalog.get_meta("repo_id") or ""
    prev = genesis(repo_id)
    count, head_seq, head_hash = 0, 0, prev
    for r in catalog.conn.execute(f"SELECT {_COLUMNS} FROM audit ORDER BY seq"):
        seq = r[0]
        count += 1
        problem = None
        if seq != head_seq + 1:
            problem = f"entry {head_seq + 1} is missing (the next entry is {seq})"
        elif r[8] != prev:
            problem = (
                f"entry {seq} does not follow entry {head_seq}: removed, inserted or reordered"
            )
        else:
            try:
                fields = _fields(seq, r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]))
                if entry_hash(prev, fields) != r[9]:
                    problem = f"entry {seq} was edited: its contents do not match its hash"
            except (ValueError, UsageError):
                problem = f"entry {seq} is malformed"
        if problem is not None:
            return Verification(False, count, head_seq, head_hash, problem, seq)
        prev, head_seq, head_hash = r[9], seq, r[9]
    if expected is not None:
        want_seq, want_hash = expected
        if head_seq < want_seq:
            return Verification(
                False,
                count,
                head_seq,
                head_hash,
                f"the log ends at entry {head_seq}, before the expected head "
                f"{want_seq}: entries were cut off the end",
                head_seq + 1,
            )
        row = catalog.conn.execute("SELECT hash FROM audit WHERE seq = ?", (want_seq,)).fetchone()
        if row is None or row[0] != want_hash:
            return Verification(
                False,
                count,
                head_seq,
                head_hash,
                f"entry {want_seq} is not the expected head {want_hash[:12]}…",
                want_seq,
            )
    return Verification(True, count, head_seq, head_hash)
