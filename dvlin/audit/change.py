"""One unit of work: a change to the catalog and the audit entries that account for it.

:meth:`dvlin.repo.Repo.change` holds the repo lock and opens the catalog transaction; the verb
changes rows and names, with :meth:`Change.audit`, the record each change leaves behind. When
the block succeeds, the entries are appended in the same transaction, each with the digest of
its record as read back then — so the chain holds what the catalog holds. A block that wrote
rows but named no entry is a bug: it raises and the transaction rolls back, so no change to
the catalog can forget its audit entry (caches that no entry covers are written inside
:meth:`Change.unaudited`). :attr:`Change.records` is what changed (what a push
has to carry).

Records that arrive in bulk — from a remote's segments, or moved by a rebase — are accounted
for by difference: ``before = tx.snapshot()``, apply them, then ``tx.audit_arrivals(before)``;
when the block ends, every record added, altered or removed since the snapshot gets its own
entry (rows written meanwhile that are no record, such as what the remote holds, need none).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dvlin.audit.entry import AuditEntry
from dvlin.audit.log import append
from dvlin.audit.records import Record, RecordRef, record, snapshot
from dvlin.catalog import Catalog
from dvlin.values import sealed


@sealed
@dataclass(frozen=True, slots=True)
class _Pending:
    action: str
    target: str
    record: tuple[str, str] | None
    outcome: str
    details: Mapping[str, Any] | None
    reason: str | None
    actor: str | None
    at: str | None


@sealed
@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every record of the catalog at one point of a change (see :meth:`Change.snapshot`)."""

    records: Mapping[tuple[str, str], Record]


@sealed
@dataclass(frozen=True, slots=True)
class _Arrivals:
    before: Snapshot
    action: str
    target: str
    details: Mapping[str, Any] | None


class UnauditedChangeError(RuntimeError):
    """A unit of work changed catalog rows without naming an audit entry (a bug in a verb)."""


class Change:
    """The change in progress inside ``with repo.change(action, target) as tx:``."""

    def __init__(self, catalog: Catalog, action: str, target: str) -> None:
        self.catalog = catalog
        self.action = action
        self.target = target
        self._pending: list[_Pending | _Arrivals] = []
        self._start = catalog.conn.total_changes
        self._unaudited = 0
        self.entries: list[AuditEntry] = []
        """The entries appended when the block succeeded, in order."""

    def audit(
        self,
        *,
        record: tuple[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
        outcome: str = "ok",
        reason: str | None = None,
        target: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        at: str | None = None,
    ) -> None:
        """Account for one change: ``record`` is the ``(kind, key)`` it leaves behind.

        The entry is appended when the block succeeds (``action`` and ``target`` default to the
        unit's), with the record's digest read back then; call once per record changed.
        """
        self._pending.append(
            _Pending(
                action or self.action,
                target if target is not None else self.target,
                record,
                outcome,
                details,
                reason,
                actor,
                at,
            )
        )

    def snapshot(self) -> Snapshot:
        """Every record as it is now: what :meth:`audit_arrivals` compares with later."""
        return Snapshot(snapshot(self.catalog.conn))

    def audit_arrivals(
        self,
        before: Snapshot,
        *,
        details: Mapping[str, Any] | None = None,
        target: str | None = None,
        action: str | None = None,
    ) -> None:
        """Account for every record added, altered or removed since ``before``, one entry each.

        For changes that touch many records at once (records fetched from a remote, a rebase).
        The difference is taken when the block succeeds, so call it last, once per unit; each
        entry's details are ``details`` plus the record's label. Only what this change did is
        recorded — an edit made outside dvlin earlier stays unaccounted for, and ``audit
        verify`` still names it.
        """
        if any(isinstance(p, _Arrivals) for p in self._pending):
            raise RuntimeError(f"{self.action} {self.target}: arrivals accounted for twice")
        self._pending.append(
            _Arrivals(
                before,
                action or self.action,
                target if target is not None else self.target,
                details,
            )
        )

    @contextlib.contextmanager
    def unaudited(self) -> Iterator[None]:
        """Writes no audit entry accounts for: caches (stat cache, workspace rows, profiles)."""
        before = self.catalog.conn.total_changes
        try:
            yield
        finally:
            self._unaudited += self.catalog.conn.total_changes - before

    @property
    def records(self) -> list[RecordRef]:
        """The records this change wrote, with their digests (after the block succeeded)."""
        return [e.record for e in self.entries if e.record is not None]

    def finish(self) -> None:
        """Append the entries (inside the transaction, when the block succeeded)."""
        wrote = self.catalog.conn.total_changes - self._start - self._unaudited
        if wrote and not self._pending:
            raise UnauditedChangeError(
                f"{self.action} {self.target}: catalog rows changed without an audit entry"
            )
        for p in self._pending:
            if isinstance(p, _Arrivals):
                self._append_arrivals(p)
                continue
            ref = record(self.catalog, *p.record) if p.record is not None else None
            self.entries.append(
                append(
                    self.catalog,
                    action=p.action,
                    target=p.target,
                    outcome=p.outcome,
                    reason=p.reason,
                    details=p.details,
                    actor=p.actor,
                    at=p.at,
                    record=ref,
                )
            )

    def _append_arrivals(self, p: _Arrivals) -> None:
        before = p.before.records
        after = snapshot(self.catalog.conn)
        for key in sorted(set(before) | set(after)):
            old, new = before.get(key), after.get(key)
            if old is not None and new is not None and old.digest == new.digest:
                continue
            shown = new if new is not None else old
            assert shown is not None
            self.entries.append(
                append(
                    self.catalog,
                    action=p.action,
                    target=p.target,
                    details={**(p.details or {}), "record": shown.label},
                    record=new.ref if new is not None else RecordRef(key[0], key[1], None),
                )
            )
