"""``dvlin retention``, ``dvlin hold`` and ``dvlin release``.

Gathers the facts (versions, when each was superseded, tags and their ages, holds, the data
upstream of every model version) and hands them to :func:`dvlin.policy.keep.decide`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.catalog.holds import Hold, RetentionStore
from dvlin.errors import ConflictError, NotFoundError, UsageError
from dvlin.identity import author, utc_now
from dvlin.ops.refs import resolve, resolve_asset, resolve_live
from dvlin.policy.keep import (
    Decision,
    RetentionRule,
    TagFact,
    VersionFacts,
    decide,
)
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.catalog import Version
    from dvlin.repo import Repo


def _ts(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@sealed
@dataclass(frozen=True, slots=True)
class HoldChange:
    """What ``dvlin hold`` or ``dvlin release`` did: the hold, on which version."""

    hold: Hold
    version: Version
    released: str | None = None
    """The reason the hold was lifted (``release``); None for a new hold."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        h = self.hold
        if self.released is not None:
            return {
                "version": self.version.label,
                "id": h.version,
                "released": True,
                "reason": self.released,
            }
        return {
            "version": self.version.label,
            "id": h.version,
            "reason": h.reason,
            "author": h.author,
            "created_at": h.created_at,
        }


def hold(repo: Repo, ref: str, *, reason: str) -> HoldChange:
    """Put a hold on a version: it never expires while the hold stands (audited)."""
    if not reason.strip():
        raise UsageError("a hold needs a reason", hint='e.g. --reason "litigation L-17"')
    with repo.lock():
        version = resolve_live(repo, ref, action="hold")
        store = RetentionStore(repo.catalog)
        existing = store.holds().get(version.id)
        if existing is not None:
            raise ConflictError(
                f"{version.label} is already on hold ({existing.reason})",
                hint="release it first to change the reason",
            )
        h = Hold(version.id, reason.strip(), author(), utc_now())
        with repo.change("hold", version.label) as tx:
            store.add_hold(h)
            tx.audit(
                reason=h.reason,
                actor=h.author,
                at=h.created_at,
                details={"id": version.id},
                record=("hold", version.id),
            )
        return HoldChange(h, version)


def release(repo: Repo, ref: str, *, reason: str) -> HoldChange:
    """Lift the hold on a version (audited, with the reason)."""
    if not reason.strip():
        raise UsageError("a release needs a reason", hint='e.g. --reason "case closed"')
    with repo.lock():
        version = resolve(repo, ref)
        store = RetentionStore(repo.catalog)
        existing = store.holds().get(version.id)
        if existing is None:
            raise NotFoundError(
                f"{version.label} is not on hold", hint="`dvlin retention` lists holds"
            )
        with repo.change("release", version.label) as tx:
            store.remove_hold(version.id)
            tx.audit(
                reason=reason.strip(),
                details={"id": version.id, "held_since": existing.created_at},
                record=("hold", version.id),
            )
        return HoldChange(existing, version, released=reason)


@sealed
@dataclass(frozen=True, slots=True)
class VersionRetention:
    """One version's fate and why."""

    version: Version
    decision: Decision
    expired_at: str | None = None
    """When gc expired it (its objects may be gone); None while it is live."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "expired_at": self.expired_at,
            "version": self.version.label,
            "id": self.version.id,
            "created_at": self.version.created_at,
            "bytes": self.version.bytes,
            "kept": self.decision.kept,
            "reasons": list(self.decision.reasons),
        }


@sealed
@dataclass(frozen=True, slots=True)
class RetentionReport:
    """Retention decisions for every version of the assets asked about."""

    rows: tuple[VersionRetention, ...]
    rules: dict[str, RetentionRule | None]

    @property
    def expiring(self) -> tuple[VersionRetention, ...]:
        """The versions no rule keeps."""
        return tuple(r for r in self.rows if not r.decision.kept and r.expired_at is None)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "versions": [r.to_dict() for r in self.rows],
            "expiring": len(self.expiring),
            "expiring_bytes": sum(r.version.bytes for r in self.expiring),
        }


def retention(
    repo: Repo, names: Sequence[str] = (), *, now: float | None = None
) -> RetentionReport:
    """Decide, for every version, which rule keeps it or that it expires. Changes nothing."""
    from dvlin.catalog.runs import LineageStore
    from dvlin.policy.config import load_policy, parse_duration

    catalog = repo.catalog
    known = catalog.asset_names()
    names = list(dict.fromkeys(resolve_asset(repo, n) for n in names))
    for n in names:
        if n not in known:
            raise NotFoundError(f"asset {n!r} has no versions", hint="commit it first")
    policy = load_policy(repo.root)
    # Versions of assets `dvlin rm` untracked still follow their retention rules.
    kinds = {a.name: a.kind for a in catalog.list_assets(include_removed=True)}
    rules: dict[str, RetentionRule | None] = {}
    for name in kinds:
        own = policy.get(name)
        rules[name] = RetentionRule.from_tables(policy.retention, own.retention if own else None)
    versions = sorted(catalog.versions(), key=lambda v: (v.asset, v.number))
    by_asset: dict[str, list[Version]] = {}
    for v in versions:
        by_asset.setdefault(v.asset, []).append(v)
    tags: dict[str, list[TagFact]] = {}
    for vid, tag_name, created_at, retain in RetentionStore(catalog).tag_facts():
        tags.setdefault(vid, []).append(
            TagFact(tag_name, _ts(created_at), parse_duration(retain) if retain else None)
        )
    held = set(RetentionStore(catalog).holds())
    stages = LineageStore(catalog).current_stages()
    pinned = _pinned(repo)
    facts = []
    for asset, vs in by_asset.items():
        for i, v in enumerate(vs):
            nxt = vs[i + 1] if i + 1 < len(vs) else None
            facts.append(
                VersionFacts(
                    v.id,
                    asset,
                    v.number,
                    kinds.get(asset, "dataset"),
                    superseded_at=_ts(nxt.created_at) if nxt else None,
                    tags=tuple(tags.get(v.id, ())),
                    held=v.id in held,
                    stage=stages.get(v.id),
                    pinned=v.id in pinned,
                )
            )
    lineage = LineageStore(catalog)
    upstream = {
        f.id: {e.src for e in lineage.walk(f.id, upstream=True)} for f in facts if f.kind == "model"
    }
    clock = now if now is not None else dt.datetime.now(dt.UTC).timestamp()
    decisions = decide(facts, rules, upstream=upstream, now=clock)
    shown = [v for v in versions if not names or v.asset in names]
    expired = dict(
        catalog.conn.execute(
            "SELECT id, expired_at FROM versions WHERE expired_at IS NOT NULL"
        ).fetchall()
    )
    rows = tuple(VersionRetention(v, decisions[v.id], expired.get(v.id)) for v in shown)
    return RetentionReport(rows, {n: rules[n] for n in (names or known)})


def _pinned(repo: Repo) -> set[str]:
    """Ids that ``dvlin.lock`` names: what ``checkout --lock`` must be able to bring back.

    A lock that cannot be read stops the plan (its error says why): expiring on a guess could
    take the version some code was built with.
    """
    from dvlin import lockfile

    locked = lockfile.read(repo.root) or {}
    return {p.id for p in locked.values()}
