"""``dvlin fetch``, and fetching objects on demand.

Fetch reads ``refs.json`` and the record segments this clone has not seen (cached forever:
they never change), and applies their records: versions only as fast-forwards of an asset's
local history, so an asset whose histories diverged is reported and left unchanged. Each
segment is applied in one unit of work, whose audit entries account for every record it
brought. Objects are fetched when a checkout needs them (or all at once with ``--all``),
verified first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.catalog.remotes import Applied, RemoteState
from dvlin.objects.hashing import Oid
from dvlin.objects.store import StoredObject
from dvlin.ops.remote import open_remote, refresh
from dvlin.progress import Progress
from dvlin.remote.segments import Location, Segment
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
            with repo.change("fetch", store.name) as tx:
                if not _changes_data(segment.records):
                    # Other clones' audit entries only: what the remote holds, no record here.
                    with tx.unaudited():
                        applied = _apply(state, store.name, sid, segment, clone)
                else:
                    before = tx.snapshot()
                    applied = _apply(state, store.name, sid, segment, clone)
                    labels = [f"{a}@v{n}" for a, n, _ in applied.versions]
                    if labels or applied.records:
                        tx.audit(
                            details={
                                "segment": sid,
                                "clone": segment.clone,
                                "versions": labels,
                                "records": applied.records,
                            }
                        )
                    # Each record the segment brought is now part of this clone's chain.
                    tx.audit_arrivals(before, details={"segment": sid})
            total.versions += applied.versions
            total.diverged |= applied.diverged
            total.tag_conflicts += applied.tag_conflicts
            total.records += applied.records
    objects = nbytes = 0
    if all:
        live = [v for v in repo.catalog.versions() if v.id not in expired_versions(repo)]
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


def _apply(state: RemoteState, remote: str, sid: str, segment: Segment, clone: str) -> Applied:
    """Apply one segment's records; it counts as applied once all of them were."""
    applied = state.apply(segment.records, own_clone=clone)
    if applied.complete:
        state.mark_applied(remote, sid)
    return applied


def _changes_data(records: Mapping[str, list[Any]]) -> bool:
    """Whether a segment holds more than other clones' audit entries."""
    return any(kind != "audit" and rows for kind, rows in records.items())


def expired_versions(repo: Repo) -> set[str]:
    """Ids of versions retention expired (their bytes are gone; never fetched)."""
    from dvlin.catalog.gc import GcStore

    return GcStore(repo.catalog).expired()


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
            repo.store.put(data, Oid(oid))
            stored.append(StoredObject(Oid(oid), len(data), None, None))
            total += len(data)
    if stored:
        repo.store.sync()
        _index(repo, stored)
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
            repo.store.put(data, Oid(oid))
            stored.append(StoredObject(Oid(oid), len(data), None, None))
            count += 1
            total += len(data)
    repo.store.sync()
    _index(repo, stored)
    return count, total


def _index(repo: Repo, stored: list[StoredObject]) -> None:
    """Index fetched objects: where the local store holds them, so no audit entry.

    A plain transaction, not a unit of work: objects are fetched on demand by commands that
    may not hold the repo lock (reading a manifest for ``diff`` or ``ls``).
    """
    with repo.catalog.transaction():
        repo.catalog.add_objects(stored)
