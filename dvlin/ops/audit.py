"""``dvlin audit``: list, verify, anchor and redact the hash-chained audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.audit.entry import AuditEntry
from dvlin.audit.verify import Verification
from dvlin.errors import NotFoundError
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.audit.clones import CloneChain
    from dvlin.repo import Repo

__all__ = [
    "AuditEntry",
    "AuditHead",
    "ChainReport",
    "CloneEntry",
    "Verification",
    "head",
    "log",
    "log_all_clones",
    "redact",
    "verify",
    "verify_all",
    "verify_clones",
]


@sealed
@dataclass(frozen=True, slots=True)
class AuditHead:
    """The last entry of the chain, for CI logs to anchor (``dvlin audit head``)."""

    seq: int
    hash: str

    @property
    def head(self) -> str:
        """``SEQ:HASH``."""
        return f"{self.seq}:{self.hash}"

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"head": self.head, "seq": self.seq, "hash": self.hash}


@sealed
@dataclass(frozen=True, slots=True)
class CloneEntry:
    """An entry of some clone's chain, as ``dvlin audit log --clones`` lists it."""

    clone: str
    entry: AuditEntry

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape: the entry with the clone id first."""
        return {"clone": self.clone, **self.entry.to_dict()}


@sealed
@dataclass(frozen=True, slots=True)
class ChainReport:
    """``dvlin audit verify``: this clone's chain replayed, and every other clone's chain."""

    chain: Verification
    clones: tuple[CloneChain, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every chain verifies."""
        return self.chain.ok and all(c.ok for c in self.clones)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {**self.chain.to_dict(), "clones": [c.to_dict() for c in self.clones]}


def log(
    repo: Repo,
    *,
    asset: str | None = None,
    action: str | None = None,
    since: str | None = None,
) -> list[AuditEntry]:
    """Entries in order, filtered by asset, action and a start date or time.

    Raises:
        UsageError: ``since`` is not a date or RFC 3339 time, or ``action`` is unknown.
        NotFoundError: ``asset`` is not an asset of this repo.
    """
    from dvlin.audit.log import check_action, entries, parse_since

    start = parse_since(since) if since is not None else None
    if action is not None:
        check_action(action)
    if asset is not None and repo.catalog.get_asset_kind(asset) is None:
        raise NotFoundError(f"unknown asset {asset!r}", hint="`dvlin ls` lists assets")
    return entries(repo.catalog, asset=asset, action=action, since=start)


def verify(repo: Repo, *, expect_head: str | None = None) -> Verification:
    """Recompute the chain and replay it against the catalog's records."""
    from dvlin.audit.verify import verify as verify_chain

    return verify_chain(repo.catalog, algorithm=repo.config.hash, expect_head=expect_head)


def head(repo: Repo) -> AuditHead:
    """The chain checked up to its head (no replay), for ``SEQ:HASH``."""
    from dvlin.audit.verify import verify as verify_chain

    checked = verify_chain(repo.catalog, records=False)
    return AuditHead(checked.head_seq, checked.head_hash)


def verify_all(repo: Repo, *, expect_head: str | None = None) -> ChainReport:
    """:func:`verify` and :func:`verify_clones` together, for ``dvlin audit verify``."""
    return ChainReport(verify(repo, expect_head=expect_head), tuple(verify_clones(repo)))


def redact(repo: Repo, seq: int, fields: Sequence[str], *, reason: str) -> AuditEntry:
    """Erase payload fields of entry ``seq``; returns the ``redact`` entry that records it."""
    from dvlin.audit.redact import erase

    with repo.change("redact", f"#{seq}") as tx:
        details = erase(repo.catalog, seq, fields, reason=reason)
        tx.audit(reason=reason.strip(), details=details)
    return tx.entries[0]


def verify_clones(repo: Repo) -> list[CloneChain]:
    """Every other clone's chain that fetch and pull brought in, recomputed from its genesis."""
    from dvlin.audit.clones import verify_clones as verify_chains

    return verify_chains(repo.catalog)


def log_all_clones(
    repo: Repo,
    *,
    asset: str | None = None,
    action: str | None = None,
    since: str | None = None,
) -> list[CloneEntry]:
    """This clone's entries and every other clone's, in time order."""
    from dvlin.audit.clones import clone_entries
    from dvlin.audit.log import instant, parse_since

    start = parse_since(since) if since is not None else None
    own = [(repo.config.repo_id, e) for e in log(repo, asset=asset, action=action, since=since)]
    others = [
        (c, e)
        for c, e in clone_entries(repo.catalog)
        if (not action or e.action == action)
        and (start is None or ((t := instant(e.at)) is not None and t >= start))
        and (not asset or e.target == asset or e.target.startswith(asset + "@"))
    ]
    rows = sorted(own + others, key=lambda r: (instant(r[1].at) or _EPOCH, r[0], r[1].seq))
    return [CloneEntry(c, e) for c, e in rows]


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
