"""``dvlin fetch``, ``dvlin pull`` and ``dvlin clone``, and fetching objects on demand.

Fetch reads ``refs.json`` and the record segments this clone has not seen (cached forever:
they never change), and applies their records: versions only as fast-forwards of an asset's
local history, so an asset whose histories diverged is reported and left unchanged. Objects
are fetched when a checkout needs them (or all at once with ``--all``), verified first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvlin.audit import log as audit
from dvlin.audit.records import snapshot
from dvlin.catalog.remotes import Applied, RemoteState
from dvlin.errors import ConflictError
from dvlin.objects.hashing import Oid
from dvlin.objects.store import StoredObject
from dvlin.ops.remote import cache_dir, open_remote, refresh
from dvlin.ops.remote import get as get_remote
from dvlin.progress import Progress
from dvlin.remote.segments import Location
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.catalog import Version
    from dvlin.objects.manifest import Entry
    from dvlin.repo import Repo


@sealed
@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a fetch (or the fetch part of a pull or clone) brought in."""

    remote: str
    url: str
    segments: int
    versions: tuple[str, ...] = ()
    """Labels (``asset@vN``) of versions added to the local catalog."""
    records: int = 0
    diverged: tuple[str, ...] = ()
    tag_conflicts: tuple[str, ...] = ()
    objects: int = 0
    bytes: int = 0
    requests: int = 0
    no_access: dict[str, str] = field(default_factory=dict)
    """Storage group → the prefix the store refused; those assets are not synced."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "no_access": dict(self.no_access),
            "remote": self.remote,
            "url": self.url,
            "segments": self.segments,
            "versions": list(self.versions),
            "records": self.records,
            "diverged": list(self.diverged),
            "tag_conflicts": list(self.tag_conflicts),
            "objects": self.objects,
            "bytes": self.bytes,
            "requests": self.requests,
        }


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


def fetch(
    repo: Repo,
    *,
    remote: str | None = None,
    all: bool = False,
    progress: Progress | None = None,
) -> FetchResult:
    """Bring the remote's new records into the catalog; with ``all``, every object too."""
    store = open_remote(repo, remote)
    clone = repo.config.repo_id
    total = Applied()
    with repo.lock():
        view = refresh(repo, store)
        state = RemoteState(repo.catalog)
        pending = [sid for sid, applied in state.segments(store.name).items() if not applied]
        for sid in pending:
            segment = store.read_segment(sid)
            with repo.catalog.transaction():
                before = snapshot(repo.catalog.conn) if _changes_data(segment.records) else None
                applied = state.apply(segment.records, own_clone=clone)
                if applied.complete:
                    state.mark_applied(store.name, sid)
                labels = [f"{a}@v{n}" for a, n, _ in applied.versions]
                if labels or applied.records and _changes_data(segment.records):
                    audit.append(
                        repo.catalog,
                        action="fetch",
                        target=store.name,
                        details={
                            "segment": sid,
                            "clone": segment.clone,
                            "versions": labels,
                            "records": applied.records,
                        },
                    )
                if before is not None:
                    # Each record the segment brought is now part of this clone's chain.
                    audit.append_changes(
                        repo.catalog,
                        before,
                        action="fetch",
                        target=store.name,
                        details={"segment": sid},
                    )
            total.versions += applied.versions
            total.diverged |= applied.diverged
            total.tag_conflicts += applied.tag_conflicts
            total.records += applied.records
    objects = nbytes = 0
    if all:
        live = [v for v in repo.catalog.versions() if v.id not in _expired(repo)]
        objects, nbytes = ensure_objects(repo, live, progress=progress)
    return FetchResult(
        store.name,
        store.url,
        len(view.new),
        versions=tuple(f"{a}@v{n}" for a, n, _ in total.versions),
        records=total.records,
        diverged=tuple(sorted(total.diverged)),
        tag_conflicts=tuple(sorted(set(total.tag_conflicts))),
        objects=objects,
        bytes=nbytes,
        requests=store.transport.requests,
        no_access=view.no_access,
    )


def _changes_data(records: Mapping[str, list[Any]]) -> bool:
    """Whether a segment holds more than other clones' audit entries."""
    return any(kind != "audit" and rows for kind, rows in records.items())


def _expired(repo: Repo) -> set[str]:
    from dvlin.catalog.gc import GcStore

    return GcStore(repo.catalog).expired()


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
    from dvlin.ops.checkout import checkout

    before = {a.name: a.latest_id for a in repo.catalog.list_assets()}
    synced = {name: repo.catalog.workspace_version(name) for name in before}
    # A pull killed after its fetch applied the records but before the checkouts: its rerun
    # fetches nothing new, so what it was to check out is kept in a file until done.
    plan = _PullPlan(cache_dir(repo, get_remote(repo, remote).name) / "pull-pending.json")
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
        clean = synced.get(asset) == before.get(asset) and asset_status(repo, asset)[0].diff.clean
        with repo.lock():
            result = rebase_asset(repo, store, asset)
        followed = False
        if clean and result.labels:
            # The folder held the old head exactly, so only the remote's changes are written.
            checkout(repo, asset, force=True, progress=progress)
            followed = True
        done.append(Rebased(asset, result.onto, result.labels, result.moved, followed))
    return done


def ensure_objects(
    repo: Repo, versions: Iterable[Version], *, progress: Progress | None = None
) -> tuple[int, int]:
    """Fetch from remotes exactly the storage objects of ``versions`` missing locally.

    Every object is verified against its oid before it is stored; returns ``(objects,
    bytes)`` fetched. Objects no remote holds are left for the caller to report.
    """
    from dvlin.catalog.gc import GcStore

    ids = [v.id for v in versions]
    if not ids:
        return 0, 0
    return fetch_missing(repo, GcStore(repo.catalog).objects_of(ids), progress=progress)


def fetch_entries(
    repo: Repo, entries: Iterable[Entry], *, progress: Progress | None = None
) -> tuple[int, int]:
    """Fetch what these manifest entries need and this clone lacks.

    A pack the entries use mostly is fetched whole; from a pack they use little (a few files
    of a big folder), only their byte ranges are read, and each blob is stored alone.
    """
    if not repo.config.remotes:
        return 0, 0
    whole: set[str] = set()
    packed: dict[str, list[Entry]] = {}
    for e in entries:
        if e.type != "file":
            continue
        if e.chunks is not None:
            whole.update(c.oid for c in e.chunks)
        elif e.pack is not None:
            packed.setdefault(e.pack, []).append(e)
        elif e.oid is not None:
            whole.add(e.oid)
    missing_packs = {p: m for p, m in packed.items() if not repo.store.has(p)}
    holding = RemoteState(repo.catalog).remotes_holding(missing_packs)
    configured = {r.name for r in repo.config.remotes}
    alone: dict[str, dict[Oid, Location]] = {}
    for pack, members in missing_packs.items():
        place = next((p for p in holding.get(pack, ()) if p[0] in configured), None)
        needed = [e for e in members if e.oid and not repo.store.has(e.oid)]
        if place is None or not needed:
            continue
        remote, file, offset, size = place
        if 2 * sum(e.size for e in needed) >= size:
            whole.add(pack)
            continue
        for e in needed:
            assert e.oid is not None
            alone.setdefault(remote, {})[e.oid] = Location(file, offset + (e.offset or 0), e.size)
    count, total = fetch_missing(repo, whole, progress=progress)
    stored: list[StoredObject] = []
    for name, wanted in alone.items():
        store = open_remote(repo, name)
        for oid, data in store.download(wanted, progress=progress):
            repo.store.put(data, oid)
            stored.append(StoredObject(oid, len(data), None, None))
            total += len(data)
    if stored:
        repo.store.sync()
        with repo.catalog.transaction():
            repo.catalog.add_objects(stored)
    return count + len(stored), total


def fetch_missing(
    repo: Repo, oids: Iterable[str], *, progress: Progress | None = None
) -> tuple[int, int]:
    """Fetch those of ``oids`` missing locally from the remotes that hold them, verified."""
    if not repo.config.remotes:
        return 0, 0
    missing = [oid for oid in sorted(set(oids)) if not repo.store.has(oid)]
    if not missing:
        return 0, 0
    holding = RemoteState(repo.catalog).remotes_holding(missing)
    if not holding:
        return 0, 0
    configured = [r.name for r in sorted(repo.config.remotes, key=lambda r: not r.default)]
    by_remote: dict[str, dict[Oid, Location]] = {}
    for oid, places in holding.items():
        for name in configured:
            place = next((p for p in places if p[0] == name), None)
            if place is not None:
                by_remote.setdefault(name, {})[Oid(oid)] = Location(place[1], place[2], place[3])
                break
    count = total = 0
    stored: list[StoredObject] = []
    for name, wanted in by_remote.items():
        store = open_remote(repo, name)
        for oid, data in store.download(wanted, progress=progress):
            repo.store.put(data, oid)
            stored.append(StoredObject(oid, len(data), None, None))
            count += 1
            total += len(data)
    repo.store.sync()
    with repo.catalog.transaction():
        repo.catalog.add_objects(stored)
    return count, total
