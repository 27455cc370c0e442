"""``dvlin pull``: fetch, then move each clean asset folder to its new head.

An asset whose folder held the old head, unchanged, is checked out at the new one; the rest
are reported and left alone. With ``--rebase``, diverged assets get their unpushed versions
replayed on the remote head first (:mod:`dvlin.ops.rebase`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvlin.errors import ConflictError
from dvlin.ops.fetch import FetchResult, fetch
from dvlin.ops.remote import cache_dir, open_remote
from dvlin.ops.remote import get as get_remote
from dvlin.progress import Progress
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.repo import Repo

__all__ = ["PullResult", "Rebased", "pull"]


@sealed
@dataclass(frozen=True, slots=True)
class PullResult:
    """A fetch, then the workspace fast-forwarded for assets that were clean."""

    fetch: FetchResult
    updated: tuple[str, ...] = ()
    """Labels of versions checked out into their asset's folder."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Asset → why its folder was left alone (uncommitted changes, never checked out)."""
    rebased: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            **self.fetch.to_dict(),
            "updated": list(self.updated),
            "skipped": self.skipped,
            "rebased": list(self.rebased),
        }


def pull(
    repo: Repo,
    *,
    remote: str | None = None,
    rebase: bool = False,
    progress: Progress | None = None,
) -> PullResult:
    """Fetch, then check out each asset's new head where its folder held the old head, clean.

    With ``rebase``, an asset whose histories diverged gets its unpushed versions replayed on
    the remote head (see :mod:`dvlin.ops.rebase`); its folder follows when it was clean.
    """
    # A pull killed after its fetch applied the records but before the checkouts: its rerun
    # fetches nothing new, so what it was to check out is kept in a file until done.
    plan = _PullPlan(cache_dir(repo, get_remote(repo, remote).name) / "pull-pending.json")
    # One lock from reading the heads and the plan to the last checkout: another pull waits,
    # so it never starts from heads this one is moving, nor removes this one's plan.
    with repo.lock():
        return _pull(repo, plan, remote=remote, rebase=rebase, progress=progress)


def _pull(
    repo: Repo,
    plan: _PullPlan,
    *,
    remote: str | None,
    rebase: bool,
    progress: Progress | None,
) -> PullResult:
    from dvlin.ops.checkout import checkout

    before = {a.name: a.latest_id for a in repo.catalog.list_assets()}
    synced = {name: repo.catalog.workspace_version(name) for name in before}
    known, previous = plan.load()
    for asset, head in previous.items():
        if asset in before and synced.get(asset) == head and before[asset] != head:
            before[asset] = head  # the folder still holds what that pull started from
    new_since = {a for a in before if known is not None and a not in known}
    plan.save(set(before) - new_since, {a: h for a, h in before.items() if a not in new_since})
    result = fetch(repo, remote=remote, progress=progress)
    updated: list[str] = []
    skipped: dict[str, str] = {}
    rebased: list[Rebased] = []
    if rebase and result.diverged:
        rebased = _rebase(repo, remote, result.diverged, synced, before, progress)
        for r in rebased:
            updated.extend(r.labels[-1:] if r.checked_out else ())
            if not r.checked_out and r.labels:
                skipped[r.asset] = "rebased; its folder had uncommitted changes"
        result = _replace(result, diverged=())
    moved = {label.rsplit("@", 1)[0] for label in result.versions}
    latest = {a.name: a.latest_id for a in repo.catalog.list_assets()}
    moved |= {a for a, h in before.items() if latest.get(a) != h and synced.get(a) == h}
    moved |= {a for a in new_since if synced.get(a) is None}
    for asset in sorted(moved):
        if any(r.asset == asset for r in rebased):
            continue
        if asset in before and asset not in new_since and synced.get(asset) != before[asset]:
            skipped[asset] = "its folder is not at the previous head"
            continue
        try:
            done = checkout(repo, asset, progress=progress)
        except ConflictError as exc:
            skipped[asset] = exc.message
            continue
        updated.append(done.version.label)
    plan.done()
    return PullResult(result, tuple(updated), skipped, tuple(r.to_dict() for r in rebased))


class _PullPlan:
    """``pull-pending.json``: the assets a pull knew and their heads, until its checkouts end.

    Written before the fetch; removed when the checkouts are done. A rerun after a kill reads
    it back: an asset whose folder still holds the old head follows the new one, and an asset
    that pull brought (unknown to the plan, never checked out) is checked out.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> tuple[set[str] | None, dict[str, str | None]]:
        try:
            found = json.loads(self.path.read_text())
            return set(found["known"]), dict(found["heads"])
        except (OSError, ValueError, KeyError, TypeError):
            return None, {}

    def save(self, known: set[str], heads: dict[str, str | None]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"known": sorted(known), "heads": heads}))
        os.replace(tmp, self.path)

    def done(self) -> None:
        self.path.unlink(missing_ok=True)


def _replace(result: FetchResult, **changes: Any) -> FetchResult:
    from dataclasses import replace

    return replace(result, **changes)


@sealed
@dataclass(frozen=True, slots=True)
class Rebased:
    """An asset rebased by ``pull --rebase``, and whether its folder followed."""

    asset: str
    onto: str
    labels: tuple[str, ...]
    moved: dict[str, str | None]
    checked_out: bool

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "asset": self.asset,
            "onto": self.onto,
            "new": list(self.labels),
            "moved": self.moved,
            "checked_out": self.checked_out,
        }


def _rebase(
    repo: Repo,
    remote: str | None,
    assets: Iterable[str],
    synced: Mapping[str, str | None],
    before: dict[str, str | None],
    progress: Progress | None,
) -> list[Rebased]:
    from dvlin.ops.checkout import checkout
    from dvlin.ops.rebase import rebase_asset
    from dvlin.ops.status import asset_status

    store = open_remote(repo, remote)
    done = []
    for asset in assets:
        if synced.get(asset) == before.get(asset):
            state = asset_status(repo, asset)[0]
            clean = state.diff.clean and state.checked_out  # a folder never checked out stays so
        else:
            clean = False
        with repo.lock():
            result = rebase_asset(repo, store, asset)
        followed = False
        if clean and result.labels:
            # The folder held the old head exactly, so only the remote's changes are written.
            checkout(repo, asset, force=True, progress=progress)
            followed = True
        done.append(Rebased(asset, result.onto, result.labels, result.moved, followed))
    return done
