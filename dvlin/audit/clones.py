"""Other clones' audit chains, brought in by fetch: kept apart, and verified like our own.

Each clone's chain starts from the genesis of its own repo id, so an entry can be checked
without trusting the clone that pushed it or the remote that carried it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dvlin.audit.entry import AuditEntry, genesis
from dvlin.audit.log import from_row
from dvlin.audit.verify import check_entry
from dvlin.catalog import Catalog
from dvlin.catalog.remotes import RemoteState
from dvlin.values import sealed


@sealed
@dataclass(frozen=True, slots=True)
class CloneChain:
    """The verdict on one other clone's chain as this clone holds it."""

    clone: str
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "clone": self.clone,
            "ok": self.ok,
            "entries": self.entries,
            "head": f"{self.head_seq}:{self.head_hash}",
            "problem": self.problem,
        }


def _entry(row: dict[str, Any]) -> AuditEntry:
    details = row["details"]
    if not isinstance(details, str):  # rows from before the audit redesign carried it parsed
        row = {**row, "details": json.dumps(details)}
    return from_row(row)


def clone_entries(catalog: Catalog) -> list[tuple[str, AuditEntry]]:
    """Every other clone's entries, by clone then sequence."""
    return [
        (clone, _entry(row))
        for clone, rows in RemoteState(catalog).clone_entries().items()
        for row in rows
    ]


def verify_clones(catalog: Catalog) -> list[CloneChain]:
    """Recompute every other clone's chain from its genesis; report the first bad entry."""
    found = []
    for clone, rows in RemoteState(catalog).clone_entries().items():
        prev = genesis(clone)
        head_seq, problem = 0, None
        for row in rows:
            try:
                e = _entry(row)
            except (KeyError, ValueError, TypeError):
                problem = f"entry {head_seq + 1} is malformed"
                break
            # The same rule as this clone's own chain: sequence, link, payload hash, hash.
            problem = check_entry(e, prev, head_seq)
            if problem is not None:
                break
            prev, head_seq = e.hash, e.seq
        found.append(CloneChain(clone, problem is None, len(rows), head_seq, prev, problem))
    return found
