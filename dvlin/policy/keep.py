"""Retention: which versions to keep. A pure function of plain values — no catalog, no clock.

A version is kept while any rule keeps it; the reasons say which. Everything else expires:
its metadata and lineage stay, and (once ``gc`` exists) its unshared objects may be deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dvlin.values import sealed


@sealed
@dataclass(frozen=True, slots=True)
class RetentionRule:
    """The effective ``[retention]`` of one asset (repo defaults with asset keys on top)."""

    keep_last: int | None = None
    keep_within: float | None = None
    """Seconds since the version was superseded by the next one."""
    keep_tagged: bool = False
    grace: float = 0.0
    """Seconds an unreferenced object is left alone (for gc)."""
    legal_hold: bool = False

    @classmethod
    def from_tables(cls, *tables: Mapping[str, Any] | None) -> RetentionRule | None:
        """Merge ``[retention]`` tables, later keys winning; None when none is given."""
        from dvlin.policy.config import parse_duration

        merged: dict[str, Any] = {}
        for t in tables:
            merged.update(t or {})
        if not merged:
            return None
        return cls(
            keep_last=merged.get("keep_last"),
            keep_within=parse_duration(merged["keep_within"]) if "keep_within" in merged else None,
            keep_tagged=bool(merged.get("keep_tagged", False)),
            grace=parse_duration(merged["grace"]) if "grace" in merged else 0.0,
            legal_hold=bool(merged.get("legal_hold", False)),
        )


@sealed
@dataclass(frozen=True, slots=True)
class TagFact:
    """A tag on a version, with its own maximum age if it has one."""

    name: str
    tagged_at: float
    retain: float | None = None


@sealed
@dataclass(frozen=True, slots=True)
class VersionFacts:
    """What retention needs to know about one version (times are POSIX seconds)."""

    id: str
    asset: str
    number: int
    kind: str = "dataset"
    superseded_at: float | None = None
    """When the next version of the asset was made; None for the latest."""
    tags: tuple[TagFact, ...] = ()
    held: bool = False
    stage: str | None = None
    """A model version's current stage (``staging``, ``production``, ``archived``)."""
    pinned: bool = False
    """Named by ``dvlin.lock``: the code committed with that lock needs this version back."""


@sealed
@dataclass(frozen=True, slots=True)
class Decision:
    """Kept (with the rules that keep it) or expired."""

    id: str
    kept: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)


def decide(
    versions: Iterable[VersionFacts],
    rules: Mapping[str, RetentionRule | None],
    *,
    upstream: Mapping[str, Iterable[str]],
    now: float,
) -> dict[str, Decision]:
    """Decide every version.

    Args:
        versions: all versions of the assets concerned, in any order.
        rules: the effective rule per asset; an asset with None keeps everything.
        upstream: for each model version, the ids of every version upstream of it (any depth).
        now: the current time, POSIX seconds.

    A model version in any stage but ``archived`` is kept, and a kept model keeps every
    version upstream of it (at any depth).
    """
    facts = sorted(versions, key=lambda v: (v.asset, v.number))
    reasons: dict[str, list[str]] = {v.id: [] for v in facts}
    newest: dict[str, int] = {}
    for v in facts:
        newest[v.asset] = max(newest.get(v.asset, 0), v.number)
    for v in facts:
        rule = rules.get(v.asset)
        why = reasons[v.id]
        if v.stage is not None and v.stage != "archived":
            # A model in use is never expired, whatever the rules say (and nor is its data).
            why.append(f"stage {v.stage}")
        if rule is None:
            why.append("no retention policy")
            continue
        if v.number == newest[v.asset]:
            why.append("latest")
        if rule.keep_last is not None and newest[v.asset] - v.number < rule.keep_last:
            why.append(f"keep_last {rule.keep_last}")
        if (
            rule.keep_within is not None
            and v.superseded_at is not None
            and now - v.superseded_at < rule.keep_within
        ):
            why.append("keep_within")
        if rule.keep_tagged:
            live = [t.name for t in v.tags if t.retain is None or now - t.tagged_at < t.retain]
            if live:
                why.append("tagged " + ", ".join(sorted(live)))
        if v.held:
            why.append("hold")
        if v.pinned:
            # What dvlin.lock pins is what `checkout --lock` must be able to bring back.
            why.append("pinned by dvlin.lock")
        if rule.legal_hold:
            why.append("legal_hold")
    # Kept models protect their inputs at any depth; a protected model protects its own.
    kind = {v.id: v.kind for v in facts}
    protected: set[str] = set()
    frontier = [vid for vid, why in reasons.items() if why and kind.get(vid) == "model"]
    while frontier:
        model = frontier.pop()
        for up in upstream.get(model, ()):
            if up in reasons and up not in protected:
                protected.add(up)
                if kind.get(up) == "model" and not reasons[up]:
                    frontier.append(up)
    for vid in protected:
        reasons[vid].append("upstream of a kept model")
    return {vid: Decision(vid, bool(why), tuple(why)) for vid, why in reasons.items()}


def rule_for(
    asset: str, defaults: Mapping[str, Any] | None, assets: Mapping[str, Mapping[str, Any]]
) -> RetentionRule | None:
    """The effective rule of ``asset`` from the repo's ``[retention]`` and its own table."""
    return RetentionRule.from_tables(defaults, assets.get(asset))


def ordered(decisions: Mapping[str, Decision], versions: Sequence[VersionFacts]) -> list[Decision]:
    """Decisions in the order of ``versions``."""
    return [decisions[v.id] for v in versions]
