"""``dvlin gc``: mark, then sweep — delete what no kept version needs, and log every deletion.

``plan`` computes (and records) what retention expires and which objects only those versions
use, plus the orphans: objects in the store that no version references at all (what an
interrupted commit leaves), and the temporary files a killed commit left under
``objects/tmp``; nothing is deleted. Objects younger than ``grace`` stay (temporary files
younger than an hour too), since a commit in flight also has unreferenced objects. ``apply`` recomputes against the catalog as it is now, then in order:
one transaction marks the versions expired, drops the doomed objects from the catalog's index
and records the plan as in progress; the objects are deleted (each batch logged); a last
transaction records the plan as done. A crash leaves at worst a plan in progress with some
objects gone, which ``dvlin fsck`` reports and a rerun of ``gc --apply`` finishes. A kept
version never references a deleted object: objects it needs are never candidates.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.catalog.gc import GcPlanRow, GcStore
from dvlin.errors import NotFoundError
from dvlin.faults import IN_GC, pause_point
from dvlin.identity import author, utc_now
from dvlin.ops.retention import retention
from dvlin.policy.keep import RetentionRule
from dvlin.progress import NullProgress, Progress
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.catalog import Version
    from dvlin.ids import Oid
    from dvlin.repo import Repo

_BATCH = 200


@sealed
@dataclass(frozen=True, slots=True)
class GcPlan:
    """What a gc would do: versions to expire, objects to delete, bytes freed."""

    id: str
    versions: tuple[Version, ...]
    objects: tuple[str, ...]
    bytes: int
    young: int
    """Objects left alone because they are younger than ``grace``."""
    orphans: tuple[tuple[str, int], ...] = ()
    """``(oid, bytes)`` of each object no version references (also in ``objects``)."""
    applied: bool = False
    deleted: int = 0
    orphans_skipped: bool = False
    """True when the store is a configured ``storage.url``: other repos may share it, and an
    object this catalog does not know may be theirs, so nothing unreferenced is swept."""
    temporary: tuple[tuple[str, int], ...] = ()
    """``(name, bytes)`` of each file under ``objects/tmp`` old enough to remove: what a killed
    commit left (counted in ``bytes``, not in ``objects``)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "plan": self.id,
            "applied": self.applied,
            "versions": [v.label for v in self.versions],
            "objects": len(self.objects),
            "bytes": self.bytes,
            "kept_by_grace": self.young,
            "orphans": [{"oid": oid, "bytes": size} for oid, size in self.orphans],
            "deleted": self.deleted,
            "orphans_skipped": self.orphans_skipped,
            "temporary": [{"name": name, "bytes": size} for name, size in self.temporary],
        }


def _compute(repo: Repo, now: float, progress: Progress | None = None) -> GcPlan:
    """The plan: reachability from the catalog's ``version_objects`` (no manifest is read),
    then one pass over the candidates and one over the store's listing, each with progress."""
    progress = progress or NullProgress()
    report = retention(repo, now=now)
    store = GcStore(repo.catalog)
    expired = store.expired()
    doomed = tuple(
        r.version for r in report.rows if not r.decision.kept and r.version.id not in expired
    )
    kept = [r.version.id for r in report.rows if r.decision.kept]
    needed = store.objects_of(kept)
    # Versions expired by an interrupted gc still have objects to sweep.
    candidates = store.objects_of([v.id for v in doomed] + sorted(expired)) - needed
    grace = _grace(repo, report.rules.values())
    objects, young = [], 0
    progress.start("checking unreferenced objects", files=len(candidates))
    for oid in sorted(candidates):
        progress.advance(files=1)
        age = repo.store.age(oid, now=now)
        if age is None and not repo.store.has(oid):
            continue  # already deleted (by an earlier run, maybe one that crashed)
        if grace and (age is None or age < grace):
            young += 1
        else:
            objects.append(oid)
    progress.finish()
    # Orphans: in the store, referenced by no version (expired ones included) and unknown to the
    # catalog's index. Only gc lists the store; nothing else may, it can be a bucket.
    # A configured storage URL may be shared by several repos: what this catalog does not know
    # can be another repo's, so only the repo's own .dvlin/objects is swept.
    shared = bool(repo.config.storage)
    referenced = set() if shared else store.objects_of(store.all_versions()) | store.indexed()
    orphans: list[tuple[str, int]] = []
    listed: set[Oid] = set()
    if not shared:
        progress.start("listing the store")
        for oid in repo.store.iter_oids():
            listed.add(oid)
            progress.advance(files=1)
        progress.finish()
    for oid in sorted(listed - referenced - candidates):
        age = repo.store.age(oid, now=now)
        if grace and (age is None or age < grace):
            young += 1
        else:
            orphans.append((oid, _size(repo, oid)))
    objects.extend(oid for oid, _ in orphans)
    temporary = () if shared else _temporaries(repo, now, grace)
    digest = hashlib.sha256(json.dumps([sorted(v.id for v in doomed), objects]).encode())
    size = store.sizes(objects) + sum(s for _, s in orphans) + sum(s for _, s in temporary)
    return GcPlan(
        digest.hexdigest()[:16],
        doomed,
        tuple(objects),
        size,
        young,
        tuple(orphans),
        orphans_skipped=shared,
        temporary=temporary,
    )


TMP_MIN_AGE = 3600.0
"""Temporary files younger than this stay, whatever the grace: a commit in flight writes its
objects there before renaming them into place (a 1 GiB object takes seconds, not an hour)."""


def _tmp_folder(repo: Repo) -> str | None:
    root = repo.store.local_root
    return None if root is None else os.path.join(root, "tmp")


def _temporaries(repo: Repo, now: float, grace: float) -> tuple[tuple[str, int], ...]:
    """``(name, bytes)`` of the store's temporary files older than the grace (and an hour)."""
    folder = _tmp_folder(repo)
    if folder is None:
        return ()  # only a local store writes objects through a tmp folder of its own
    oldest = max(grace, TMP_MIN_AGE)
    found = []
    try:
        with os.scandir(folder) as listing:
            for item in listing:
                try:
                    st = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # renamed into place meanwhile
                if item.is_file(follow_symlinks=False) and now - st.st_mtime >= oldest:
                    found.append((item.name, int(st.st_size)))
    except FileNotFoundError:
        return ()
    return tuple(sorted(found))


def _grace(repo: Repo, rules: Iterable[RetentionRule | None]) -> float:
    """The longest ``grace`` of any asset's rule or of the repo-wide ``[retention]``."""
    from dvlin.policy.config import load_policy

    defaults = RetentionRule.from_tables(load_policy(repo.root).retention)
    found = [r.grace for r in (*rules, defaults) if r is not None]
    return max(found, default=0.0)


def _size(repo: Repo, oid: Oid) -> int:
    try:
        return int(repo.store.fs.size(repo.store.path(oid)))
    except (FileNotFoundError, OSError, NotImplementedError):
        return 0


def preview(repo: Repo, *, now: float | None = None) -> GcPlan:
    """What gc would do now, without recording a plan (``dvlin du`` shows it)."""
    return _compute(repo, time.time() if now is None else now)


def plan(repo: Repo, *, now: float | None = None, progress: Progress | None = None) -> GcPlan:
    """Compute and record a gc plan; nothing is deleted or expired."""
    clock = time.time() if now is None else now
    with repo.lock():
        p = _compute(repo, clock, progress)
        # A plan is a note for `gc --apply`, not a record: the audit chain never covered it.
        with repo.change("gc-plan", p.id) as tx, tx.unaudited():
            GcStore(repo.catalog).save_plan(
                GcPlanRow(
                    p.id,
                    utc_now(),
                    author(),
                    "planned",
                    tuple(v.id for v in p.versions),
                    p.objects,
                    p.bytes,
                )
            )
    return p


def apply(
    repo: Repo,
    plan_id: str | None = None,
    *,
    now: float | None = None,
    progress: Progress | None = None,
) -> GcPlan:
    """Recompute the plan against the catalog now, then expire, delete and log (see above)."""
    progress = progress or NullProgress()
    clock = time.time() if now is None else now
    with repo.lock():
        catalog = repo.catalog
        store = GcStore(catalog)
        if plan_id is not None and plan_id not in {p.id for p in store.plans()}:
            raise NotFoundError(f"no gc plan {plan_id!r}", hint="run `dvlin gc` to make one")
        p = _compute(repo, clock, progress)
        pid = plan_id or p.id
        at = utc_now()
        with repo.change("expire", pid) as tx:
            store.expire((v.id for v in p.versions), at=at)
            with tx.unaudited():  # the object index and the plan; gc-delete entries follow
                store.forget_objects(p.objects)
                store.save_plan(
                    GcPlanRow(
                        pid,
                        at,
                        author(),
                        "in_progress",
                        tuple(v.id for v in p.versions),
                        p.objects,
                        p.bytes,
                    )
                )
            for v in p.versions:
                tx.audit(target=v.label, details={"id": v.id, "plan": pid}, record=("expiry", v.id))
        pause_point(IN_GC)
        orphaned = {oid for oid, _ in p.orphans}
        deleted = 0
        progress.start("deleting", files=len(p.objects), bytes=p.bytes)
        for i in range(0, len(p.objects), _BATCH):
            batch = p.objects[i : i + _BATCH]
            for oid in batch:
                repo.store.delete(oid)
            deleted += len(batch)
            with repo.change("gc-delete") as tx:
                for oid in batch:
                    details: dict[str, Any] = {"plan": pid}
                    if oid in orphaned:
                        details["orphan"] = True
                    tx.audit(target=oid, details=details)
            progress.advance(files=len(batch))
        progress.finish()
        folder = _tmp_folder(repo)
        if p.temporary and folder is not None:
            for name, _ in p.temporary:
                try:
                    os.unlink(os.path.join(folder, name))
                except FileNotFoundError:
                    pass  # gone already (an earlier run, or the commit that wrote it)
            with repo.change("gc-delete") as tx:
                for name, _ in p.temporary:
                    tx.audit(target=f"tmp/{name}", details={"plan": pid, "temporary": True})
        with repo.change("gc", pid) as tx:
            # This run swept the objects of every expired version, so it also finishes any
            # plan a crashed run left in progress.
            for unfinished in store.plans("in_progress"):
                store.set_status(unfinished.id, "done")
            store.set_status(pid, "done")
            tx.audit(
                details={
                    "versions": len(p.versions),
                    "objects": deleted,
                    "orphans": len(p.orphans),
                    "temporary": len(p.temporary),
                    "bytes": p.bytes,
                },
            )
    return GcPlan(
        pid,
        p.versions,
        p.objects,
        p.bytes,
        p.young,
        p.orphans,
        applied=True,
        deleted=deleted,
        orphans_skipped=p.orphans_skipped,
        temporary=p.temporary,
    )
