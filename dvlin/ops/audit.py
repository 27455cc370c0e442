"""``dvlin audit``: list, verify, anchor and redact the hash-chained audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dvlin.audit.entry import AuditEntry
from dvlin.audit.verify import Verification
from dvlin.errors import NotFoundError

if TYPE_CHECKING:
    from dvlin.audit.clones import CloneChain
    from dvlin.repo import Repo

__all__ = [
    "AuditEntry",
    "Verification",
    "head",
    "log",
    "log_all_clones",
    "redact",
    "verify",
    "verify_clones",
]


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


def head(repo: Repo) -> Verification:
    """The chain checked up to its head (no replay), for ``SEQ:HASH``."""
    from dvlin.audit.verify import verify as verify_chain

    return verify_chain(repo.catalog, records=False)


def redact(repo: Repo, seq: int, fields: Sequence[str], *, reason: str) -> AuditEntry:
    """Erase payload fields of entry ``seq``; returns the ``redact`` entry that records it."""
    from dvlin.audit.redact import redact as redact_entry

    with repo.lock(), repo.catalog.transaction():
        return redact_entry(repo.catalog, seq, fields, reason=reason)


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
) -> list[tuple[str, AuditEntry]]:
    """This clone's entries and every other clone's, as ``(clone id, entry)`` in time order."""
    from dvlin.audit.clones import clone_entries
    from dvlin.audit.log import parse_since

    start = parse_since(since) if since is not None else None
    own = [(repo.config.repo_id, e) for e in log(repo, asset=asset, action=action, since=since)]
    others = [
        (c, e)
        for c, e in clone_entries(repo.catalog)
        if (not action or e.action == action)
        and (start is None or ((t := _instant(e.at)) is not None and t >= start))
        and (not asset or e.target == asset or e.target.startswith(asset + "@"))
    ]
    return sorted(own + others, key=lambda r: (_instant(r[1].at) or _EPOCH, r[0], r[1].seq))


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _instant(text: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
