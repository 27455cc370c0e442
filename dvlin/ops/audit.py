"""``dvlin audit``: list, verify, anchor and redact the hash-chained audit log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dvlin.audit.entry import AuditEntry
from dvlin.audit.verify import Verification
from dvlin.errors import NotFoundError

if TYPE_CHECKING:
    from dvlin.repo import Repo

__all__ = ["AuditEntry", "Verification", "head", "log", "redact", "verify"]


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
