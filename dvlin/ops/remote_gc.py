"""``dvlin gc --remote NAME``: delete from a remote what no unexpired version needs.

Decided from the remote's own records only (every segment, whichever clone pushed it), never
from this clone's catalog: an object is needed when any version on the remote without an
expiry record lists it. A pack goes only when none of its objects is needed. Files no segment
references (left by a push killed or still in flight) go only when older than the grace
period. This is the only place besides fsck that lists the bucket.

Order, so that no push ever references a deleted object: a ``gc`` segment naming the objects
to delete is published by compare-and-swap first (a push that read the refs before sees the
swap fail, re-reads, and re-uploads what it needs); then the files are deleted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from dvlin.catalog.remotes import RemoteState
from dvlin.errors import ConflictError
from dvlin.identity import utc_now
from dvlin.ops.remote import open_remote, refresh
from dvlin.remote.layout import parse_segment_ref, segment_path
from dvlin.remote.refs import Refs
from dvlin.remote.segments import ORPHAN, Location, Segment
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.ids import Oid
    from dvlin.remote.store import RemoteStore
    from dvlin.repo import Repo

DEFAULT_GRACE = 24 * 3600.0
_ATTEMPTS = 10


@sealed
@dataclass(frozen=True, slots=True)
class RemoteGcResult:
    """What remote gc deleted (or would delete)."""

    remote: str
    applied: bool
    files: tuple[str, ...]
    objects: int
    bytes: int
    orphans: int
    """Unreferenced files (from killed pushes) among ``files``."""
    young: int
    """Unreferenced files kept because they are younger than the grace period."""
    expired_versions: int

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "remote": self.remote,
            "applied": self.applied,
            "files": len(self.files),
            "objects": self.objects,
            "bytes": self.bytes,
            "orphans": self.orphans,
            "kept_by_grace": self.young,
            "expired_versions": self.expired_versions,
        }


def _plan(
    store: RemoteStore, refs: Refs, *, grace: float, now: float
) -> tuple[list[str], dict[Oid, Location], int, int, int, int]:
    segments = [store.read_segment(sid) for sid in refs.segments]
    versions: dict[str, list[str]] = {}
    expired: set[str] = set()
    holds: set[tuple[str, str]] = set()
    index: dict[Oid, Location] = {}
    for seg in segments:
        for row in seg.records.get("version", ()):
            versions[row["id"]] = [*row.get("storage", ()), row["manifest"]]
        expired |= {row["version"] for row in seg.records.get("expiry", ())}
        # A hold pushed by any clone keeps a version's bytes, whoever expired it, until a
        # clone's release of that hold travels.
        holds |= {(row["version"], row["created_at"]) for row in seg.records.get("hold", ())}
        holds -= {(row["version"], row["created_at"]) for row in seg.records.get("release", ())}
        index.update(seg.objects)
        for row in seg.records.get("gc", ()):
            if index.get(row["oid"]) == Location(row["file"], row["offset"], row["size"]):
                del index[row["oid"]]
    held = {version for version, _ in holds}
    needed = {
        oid for vid, oids in versions.items() if vid not in expired or vid in held for oid in oids
    }
    by_file: dict[str, list[Oid]] = {}
    for oid, loc in index.items():
        by_file.setdefault(loc.file, []).append(oid)
    listed = list_remote_files(store)
    unneeded = sorted(f for f, oids in by_file.items() if not any(o in needed for o in oids))
    # Never anything younger than the grace period, referenced or not.
    doomed_files = [f for f in unneeded if now - listed.get(f, 0.0) >= grace]
    young = len(unneeded) - len(doomed_files)
    doomed = {o: index[o] for f in doomed_files for o in by_file[f]}
    referenced = set(by_file) | {
        segment_path(sid, group) for group, sid in map(parse_segment_ref, refs.segments)
    }
    orphans = []
    for rel, written in sorted(listed.items()):
        if rel in referenced:
            continue
        if now - written < grace:
            young += 1
        else:
            orphans.append(rel)
    nbytes = sum(loc.size for loc in doomed.values())
    return doomed_files + orphans, doomed, len(orphans), young, nbytes, len(expired)


def list_remote_files(store: RemoteStore) -> dict[str, float]:
    """Every file of the remote (outside refs) and when it was written."""
    found: dict[str, float] = {}
    for folder in ("packs", "objects", "segments", "groups"):
        found.update(store.transport.list_files(folder))
    return found


def gc_remote(
    repo: Repo,
    name: str | None,
    *,
    apply: bool = False,
    grace: float | str = DEFAULT_GRACE,
    now: float | None = None,
) -> RemoteGcResult:
    """Plan (and with ``apply``, carry out) remote gc; audited when applied.

    ``grace`` is seconds, or a duration as ``dvlin.toml`` writes them (``24h``, ``7d``).
    """
    if isinstance(grace, str):
        from dvlin.policy.config import parse_duration

        grace = parse_duration(grace)
    store = open_remote(repo, name)
    now = time.time() if now is None else now
    with repo.lock():
        for _ in range(_ATTEMPTS):
            view = refresh(repo, store)
            if view.refs is None:
                return RemoteGcResult(store.name, apply, (), 0, 0, 0, 0, 0)
            files, doomed, orphans, young, nbytes, expired = _plan(
                store, view.refs, grace=grace, now=now
            )
            result = RemoteGcResult(
                store.name, apply, tuple(files), len(doomed), nbytes, orphans, young, expired
            )
            if not apply or not files:
                return result
            if doomed or orphans:
                # Published before anything is deleted, orphans included: a push in flight
                # (its pack and segment up, refs not yet moved) then fails its swap, reads
                # this segment and sends those files again instead of naming deleted ones.
                rows = [
                    {"oid": o, "file": loc.file, "offset": loc.offset, "size": loc.size}
                    for o, loc in sorted(doomed.items())
                ] + [
                    {"oid": f"{ORPHAN}{rel}", "file": rel, "offset": 0, "size": 0}
                    for rel in files[len(files) - orphans :]
                ]
                sid = store.write_segment(Segment(repo.config.repo_id, utc_now(), {"gc": rows}, {}))
                refs = view.refs
                new_refs = replace(refs, segments=(*refs.segments, sid))
                if not store.swap_refs(new_refs, view.token):
                    continue  # a push landed meanwhile: plan again with its records
                with repo.change("gc-remote", store.name) as tx, tx.unaudited():
                    RemoteState(repo.catalog).add_segment(
                        store.name, sid, {"gc": rows}, {}, applied=True
                    )
            for rel in files:
                try:
                    store.transport.delete(rel)
                except FileNotFoundError:
                    pass
            with repo.change("gc-remote", store.name) as tx:
                tx.audit(
                    details={
                        "files": len(files),
                        "objects": len(doomed),
                        "bytes": nbytes,
                        "orphans": orphans,
                    }
                )
            return result
    raise ConflictError(
        f"remote {store.name} kept changing during gc", hint="run `dvlin gc --remote` again"
    )
