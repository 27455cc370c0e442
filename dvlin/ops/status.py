"""``dvlin status``: compare each asset's folder with the version it was last synced to.

An unchanged tree is answered from the stat cache alone: the oids it remembers rebuild the
tree digest, and only when that digest differs is the version's manifest read to list paths.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.catalog import Version
from dvlin.errors import NotFoundError
from dvlin.objects.diff import Diff, diff_manifests
from dvlin.objects.hashing import hash_file
from dvlin.objects.manifest import Entry, Manifest
from dvlin.ops.manifests import load_manifest
from dvlin.progress import NullProgress, Progress
from dvlin.values import sealed
from dvlin.workspace import pending
from dvlin.workspace.pending import PendingCheckout
from dvlin.workspace.scan import Columns, scan_columns
from dvlin.workspace.statcache import StatCache, is_racy, prune

if TYPE_CHECKING:
    from dvlin.ops.lock import Drift
    from dvlin.repo import Repo


@sealed
@dataclass(frozen=True, slots=True)
class AssetStatus:
    """One asset's state: ``clean``, ``modified`` or ``interrupted`` against ``version``."""

    asset: str
    version: Version
    latest: Version
    diff: Diff
    interrupted: PendingCheckout | None = None
    """A checkout into the asset's folder that started and never finished."""
    checked_out: bool = True
    """False when no version was ever checked out here and none of its paths exist (a clone
    made with ``--no-checkout``): nothing is modified, there is just nothing on disk yet."""

    @property
    def clean(self) -> bool:
        """True when the folder holds exactly ``version`` (or was never checked out)."""
        return self.diff.clean and self.interrupted is None

    @property
    def state(self) -> str:
        """``clean``, ``modified``, ``interrupted`` (a checkout stopped half-way), or
        ``not-checked-out``."""
        if self.interrupted is not None:
            return "interrupted"
        if not self.checked_out:
            return "not-checked-out"
        return "clean" if self.diff.clean else "modified"

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of one asset."""
        return {
            "asset": self.asset,
            "state": self.state,
            "version": self.version.label,
            "version_id": self.version.id,
            "latest": self.latest.label,
            "path": self.version.base,
            "changes": self.diff.counts(),
            "interrupted": self.interrupted.to_dict() if self.interrupted else None,
            **self.diff.to_dict(),
        }


@sealed
@dataclass(frozen=True, slots=True)
class StatusReport:
    """The status of every asset asked about."""

    assets: tuple[AssetStatus, ...]
    hashed_files: int
    interrupted: tuple[PendingCheckout, ...] = ()
    """Every checkout of the repo that stopped half-way, ``--to`` folders included."""

    @property
    def clean(self) -> bool:
        """True when no asset's folder is modified or half checked out.

        An interrupted checkout ``--to`` a folder outside every asset is listed but does not
        count: that folder is not a workspace, and hooks should not fail on a stale export.
        """
        return all(a.clean for a in self.assets)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "clean": self.clean,
            "assets": [a.to_dict() for a in self.assets],
            "interrupted": [p.to_dict() for p in self.interrupted],
            "hashed_files": self.hashed_files,
        }


def follows(version: Version) -> bool:
    """True when the version was committed with ``--follow-links``."""
    return version.info.follow_links


def stat_cache(repo: Repo, base: str, roots: Sequence[str], *, enabled: bool = True) -> StatCache:
    """The stat cache of one asset layout in ``repo``."""
    return StatCache(
        repo.dvlin_dir, repo.catalog, base, roots, algorithm=repo.config.hash, enabled=enabled
    )


def workspace_entries(
    repo: Repo,
    base: str,
    roots: Sequence[str],
    *,
    progress: Progress | None = None,
    base_abs: str | None = None,
    follow_links: bool = False,
) -> tuple[list[Entry], StatCache, int]:
    """The tree now on disk under ``roots``, hashing only files the stat cache cannot vouch for.

    ``base_abs`` points somewhere other than the asset's own folder (``checkout --to``); the
    stat cache is then not consulted. The cache is left holding this scan as its next
    snapshot (for callers that :meth:`StatCache.save` it).
    """
    cache = stat_cache(repo, base, roots, enabled=base_abs is None)
    base_abs = base_abs or str(repo.root / base)
    cols = scan_columns(
        base_abs, roots, store_root=repo.local_store_root, strict=False, follow_links=follow_links
    )
    manifest, hashed = scanned_manifest(repo, cols, cache, base_abs=base_abs, progress=progress)
    return list(manifest.entries()), cache, hashed


def scanned_manifest(
    repo: Repo,
    cols: Columns,
    cache: StatCache,
    *,
    base_abs: str,
    progress: Progress | None = None,
) -> tuple[Manifest, int]:
    """The manifest of a scan, and how many files had to be hashed for it.

    Oids come from the stat cache (looked up by columns) and links into the store; only the
    other files are read. The cache is left holding this scan as its next snapshot.
    """
    progress = progress or NullProgress()
    started = time.time_ns()
    remembered = cache.lookup_all(cols)
    if cols.oid.count(None) != len(cols):  # a link into the store stands for its object
        remembered = [linked or oid for linked, oid in zip(cols.oid, remembered, strict=True)]
    to_hash = [
        i
        for i, (kind, oid) in enumerate(zip(cols.type, remembered, strict=True))
        if oid is None and kind == "file"
    ]
    oids = list(remembered) if to_hash else remembered
    gone: set[int] = set()
    if to_hash:
        progress.start("hashing", files=len(to_hash), bytes=sum(cols.size[i] for i in to_hash))
        for i in to_hash:
            try:
                oid = hash_file(repo.config.hash, os.path.join(base_abs, cols.path[i]))
            except FileNotFoundError:
                gone.add(i)  # deleted while we looked: it is simply not there
                continue
            oids[i] = oid
            # A file modified within the racy window may change again unseen: not vouched for.
            remembered[i] = None if is_racy(cols.mtime_ns[i], started) else oid
            progress.advance(files=1, bytes=cols.size[i])
        progress.finish()
    cache.snapshot(cols, remembered, "")
    columns: dict[str, Sequence[Any]] = {
        "path": cols.path,
        "type": cols.type,
        "mode": cols.mode,
        "size": cols.size,
        "oid": oids,
        "target": cols.target,
    }
    if gone:
        columns = {k: [v for i, v in enumerate(c) if i not in gone] for k, c in columns.items()}
    return Manifest.from_columns(**columns), len(to_hash)


def asset_status(
    repo: Repo, name: str, *, progress: Progress | None = None
) -> tuple[AssetStatus, StatCache | None, int]:
    """Compare one asset's folder with its workspace version.

    A scan whose fingerprint is the one the stat cache vouches for the version's tree with is
    clean: no file is hashed, no entry built, no manifest read. Otherwise the scan's manifest
    is built by columns and, only if its digest differs, diffed with the version's.
    """
    catalog = repo.catalog
    latest = catalog.latest_version(name)
    if latest is None:
        raise NotFoundError(f"asset {name!r} has no versions", hint="commit it first")
    synced = catalog.workspace_version(name)
    version = (catalog.version(synced) if synced else None) or latest
    if version.id != latest.id and _expired(repo, version.id):
        version = latest  # gc removed the version the folder was synced to: compare with latest
    base_abs = str(repo.root / version.base)
    stopped = [
        p
        for p in pending.overlapping(repo.dvlin_dir, base_abs)
        if not pending.is_running(repo.dvlin_dir, p)
    ]
    interrupted = next((p for p in stopped if p.asset == name), stopped[0] if stopped else None)
    if synced is None and interrupted is None and not _on_disk(base_abs, version.roots):
        # Never checked out here (clone --no-checkout): not "every file removed".
        return AssetStatus(name, version, latest, Diff(), None, checked_out=False), None, 0
    cache = stat_cache(repo, version.base, version.roots)
    cols = scan_columns(
        base_abs,
        version.roots,
        store_root=repo.local_store_root,
        strict=False,
        follow_links=follows(version),
    )
    hashed = 0
    if cache.tree == version.tree and cache.matches(cols):
        diff = Diff()
    else:
        manifest, hashed = scanned_manifest(repo, cols, cache, base_abs=base_abs, progress=progress)
        tree = manifest.digest(repo.config.hash)
        cache.vouch(tree)
        if tree == version.tree:
            diff = Diff()
        else:
            diff = diff_manifests(load_manifest(repo, version), manifest)
    return AssetStatus(name, version, latest, diff, interrupted), cache, hashed


def _on_disk(base_abs: str, roots: Sequence[str]) -> bool:
    """True when any of a version's roots exists under ``base_abs``."""
    return any(os.path.lexists(os.path.join(base_abs, r)) for r in roots)


def _expired(repo: Repo, version_id: str) -> bool:
    from dvlin.catalog.gc import GcStore

    return version_id in GcStore(repo.catalog).expired()


def status(
    repo: Repo, names: Sequence[str] = (), *, progress: Progress | None = None
) -> StatusReport:
    """The status of the named assets, or of every asset."""
    catalog = repo.catalog
    from dvlin.ops.refs import resolve_asset

    known = catalog.asset_names()
    names = list(dict.fromkeys(resolve_asset(repo, n) for n in names))
    results = []
    caches: list[StatCache] = []
    hashed = 0
    for n in names or known:
        result, cache, count = asset_status(repo, n, progress=progress)
        results.append(result)
        if cache is not None:
            caches.append(cache)
        hashed += count
    # A read-only repo still answers; it only cannot remember the hashes for next time.
    if not catalog.read_only:
        for c in caches:
            c.save()
        if not names:  # every asset was looked at: drop the caches of layouts none uses
            prune(
                repo.dvlin_dir,
                [(v.base, v.roots) for r in results for v in (r.version, r.latest)],
            )
    stopped = [
        p
        for p in pending.pending_checkouts(repo.dvlin_dir)
        if not pending.is_running(repo.dvlin_dir, p)
    ]
    return StatusReport(tuple(results), hashed, tuple(stopped))


@sealed
@dataclass(frozen=True, slots=True)
class WorkspaceStatus:
    """``dvlin status``: each asset's state, and where ``dvlin.lock`` disagrees with it."""

    report: StatusReport
    drift: tuple[Drift, ...] = ()

    @property
    def clean(self) -> bool:
        """True when no asset's folder is modified or half checked out (the lock aside)."""
        return self.report.clean

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {**self.report.to_dict(), "lock": [d.to_dict() for d in self.drift]}


def workspace_status(
    repo: Repo, names: Sequence[str] = (), *, progress: Progress | None = None
) -> WorkspaceStatus:
    """:func:`status` of the named assets (names or paths), with the lock's disagreements."""
    from dvlin.ops.asset import asset_names
    from dvlin.ops.lock import check as check_lock

    wanted = asset_names(repo, list(names)) if names else []  # a path names its asset
    report = status(repo, wanted, progress=progress)
    locked = check_lock(repo)
    # A repo from before dvlin.lock has none: nothing to disagree with yet.
    drift = tuple(d for d in locked.drift if locked.exists and (not wanted or d.asset in wanted))
    return WorkspaceStatus(report, drift)
