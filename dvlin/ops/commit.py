"""``dvlin commit``: snapshot files and folders as a new immutable version of an asset."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin import lean
from dvlin.audit import records
from dvlin.catalog import Version
from dvlin.catalog.versions import VersionInfo
from dvlin.errors import ConflictError, UsageError
from dvlin.faults import BEFORE_CATALOG, pause_point
from dvlin.git import code_info
from dvlin.identity import AuthorLater, utc_now
from dvlin.identity import author as current_author
from dvlin.objects.diff import Diff
from dvlin.objects.ingest import Ingester
from dvlin.objects.manifest import Manifest
from dvlin.objects.store import StoredObject
from dvlin.ops import commit_tree, lock
from dvlin.ops.commit_record import CommitResult, record
from dvlin.ops.commit_request import CommitRequest, Layout
from dvlin.ops.manifests import load_manifest_soon, remember_written
from dvlin.ops.refs import has_contracts
from dvlin.progress import NullProgress, Progress
from dvlin.workspace import pending
from dvlin.workspace.scan import Item, scan_columns
from dvlin.workspace.statcache import StatCache

if TYPE_CHECKING:
    from dvlin.repo import Repo

__all__ = ["CommitResult", "PreparedCommit", "commit", "prepare", "record"]


@dataclass
class PreparedCommit:
    """A commit whose objects are written and durable, waiting for its catalog transaction.

    :func:`prepare` builds it (holding the repo lock); :func:`record` writes it inside the
    caller's transaction, so several versions (the outputs of one run, say) can become
    visible together.
    """

    name: str
    kind: str
    layout: Layout
    parent: Version | None
    version: Version | None
    """The new version, or None when the tree equals the parent's (nothing to commit)."""
    diff: Diff
    tags: tuple[str, ...]
    cache: StatCache
    new_objects: list[StoredObject]
    storage: set[str]
    new_bytes: int
    items: Sequence[Item] = field(default_factory=list)
    """What was scanned, for checks that look at the files before they are committed."""
    stored: Any = None
    """The objects the ingester stored, as catalog rows (an Arrow table: no object per blob
    in a million-file commit); :attr:`new_objects` holds the few others (manifest, profiles)."""


def prepare(
    repo: Repo,
    request: CommitRequest,
    *,
    progress: Progress | None = None,
    author: Callable[[], str] = current_author,
) -> PreparedCommit:
    """Scan, hash and store the request's paths; build the version. The caller holds
    ``repo.lock()``.

    Nothing in the catalog changes here: objects are written and flushed to disk, and the
    version is returned for :func:`record` to insert.
    """
    progress = progress or NullProgress()
    layout, name, kind, tags = request.layout, request.name, request.kind, request.tags
    message, follow_links = request.message, request.follow_links
    catalog = repo.catalog
    existing_kind = catalog.get_asset_kind(name)
    if existing_kind is not None and kind is not None and kind != existing_kind:
        raise UsageError(
            f"asset {name} is a {existing_kind}, not a {kind}",
            hint="an asset keeps its kind; commit under another name",
        )
    for t in tags:
        if catalog.tag(name, t) is not None:
            raise ConflictError(f"tag {name}@{t} exists", hint="choose another tag name")
    parent = catalog.latest_version(name)

    started = time.time_ns()
    base_abs = str(repo.root / layout.base)
    pending.refuse_overlapping(repo.dvlin_dir, base_abs)  # never snapshot a half checkout
    from dvlin.ops.status import stat_cache

    cache = stat_cache(repo, layout.base, layout.roots)
    cols = scan_columns(
        base_abs, layout.roots, store_root=repo.local_store_root, follow_links=follow_links
    )
    # The asset's contract runs before a single object is written: a failing commit leaves
    # the store and the catalog exactly as they were. Without a dvlin.toml there is none, and
    # the policy modules (~10 ms of imports) are not loaded.
    checks: dict[str, Any] = {}
    if has_contracts(repo.root):
        from dvlin.ops.check import enforce

        checks = enforce(repo, name, base_abs, cols, force=request.force, reason=request.reason)
    resolved_kind = kind or existing_kind or "dataset"
    if (
        parent is not None
        and parent.base == layout.base
        and parent.roots == layout.roots
        and cache.tree == parent.tree
        and cache.matches(cols)
    ):
        # The stat cache vouches that this scan is the parent's tree: nothing to commit, and
        # nothing to read, hash or write (not even the parent's manifest).
        return PreparedCommit(
            name,
            resolved_kind,
            layout,
            parent,
            None,
            Diff(),
            tuple(tags),
            cache,
            [],
            set(),
            0,
            cols,
        )
    if not checks and len(cols) <= lean.MAX_ROWS and not _has_tables(cols.path):
        # No contract to run, no table or array to describe or profile: nothing below needs
        # NumPy (~0.1 s of start-up), as long as pyarrow is not imported yet.
        lean.without_numpy()
    # A big parent's manifest is read and decoded while build() compares the scan with the
    # stat cache.
    parent_manifest = load_manifest_soon(repo, parent) if parent else Manifest.empty()
    described = dict(parent.info.files) if parent else {}
    ingester = Ingester(
        repo.store,
        catalog,
        catalog_empty=not catalog.has_objects(),
        chunker=repo.config.chunker,
    )
    new = commit_tree.build(
        cols,
        cache,
        parent_manifest,
        ingester,
        algorithm=repo.config.hash,
        base_abs=base_abs,
        started_ns=started,
        progress=progress,
        wanted=frozenset(described),
        parent_tree=parent.tree if parent is not None else "",
    )
    manifest, changed, kept = new.manifest, new.changed, new.kept
    algorithm = repo.config.hash
    written = commit_tree.parquet_soon(manifest)
    tree = manifest.digest(algorithm)
    cache.snapshot(cols, new.oids, tree, new.arrays, new.rows)
    diff = new.diff
    # The snapshot holds the scan as Arrow columns now: a million files' paths and oids as
    # Python objects (about 250 MB) are freed before the manifest is written.
    del cols, new
    ingester.hashed_tags.clear()  # the oids went to the snapshot too
    ingester.hashed_oids.clear()
    if (
        parent is not None
        and parent.tree == tree
        and parent.base == layout.base
        and parent.roots == layout.roots
    ):
        repo.store.sync()
        return PreparedCommit(
            name,
            resolved_kind,
            layout,
            parent,
            None,
            diff,
            tuple(tags),
            cache,
            [],
            set(),
            0,
        )

    info = {
        **_describe(base_abs, changed, {p: described[p] for p in kept}, described),
        **checks,
        **code_info(repo.root),
    }
    if follow_links:
        info["follow_links"] = True  # status and checkout scan this version's folder the same way
    from dvlin.ops.profiles import commit_profiles

    files_info: dict[str, dict[str, Any]] = info.get("files", {})
    profiles = commit_profiles(
        repo, base_abs, info, oids={p: m["oid"] for p, m in files_info.items() if m.get("oid")}
    )
    manifest_data = written()
    manifest_oid = repo.store.put(manifest_data)
    repo.store.sync()  # objects are durable before the catalog references them
    remember_written(repo, manifest_oid, manifest_data)  # build() validated it

    created_at = utc_now()
    who = author()
    meta = dict(request.meta)
    identity = records.version_identity(
        asset=name,
        parent=parent.id if parent else None,
        tree=tree,
        manifest=manifest_oid,
        author=who,
        created_at=created_at,
        message=message,
        meta=meta,
    )
    version = Version(
        id=records.version_id(algorithm, identity),
        asset=name,
        number=(parent.number + 1) if parent else 1,
        parent=parent.id if parent else None,
        tree=tree,
        manifest=manifest_oid,
        author=who,
        created_at=created_at,
        message=message,
        meta=meta,
        files=manifest.file_count(),
        bytes=manifest.file_bytes(),
        base=layout.base,
        roots=layout.roots,
        info=VersionInfo.from_dict(info),
    )
    storage = manifest.storage_oids()
    storage.add(manifest_oid)
    storage.update(p.oid for p in profiles)
    new_objects = [StoredObject(manifest_oid, len(manifest_data), None, None), *profiles]
    stored = ingester.new_object_table(manifest.table)
    return PreparedCommit(
        name,
        resolved_kind,
        layout,
        parent,
        version,
        diff,
        tuple(tags),
        cache,
        new_objects,
        storage,
        ingester.new_bytes,
        (),  # the scan went to the stat cache's snapshot: not held twice
        stored,
    )


def commit(
    repo: Repo,
    paths: Sequence[str | os.PathLike[str]],
    *,
    name: str | None = None,
    message: str = "",
    kind: str | None = None,
    tags: Sequence[str] = (),
    meta: dict[str, str] | None = None,
    progress: Progress | None = None,
    force: bool = False,
    reason: str | None = None,
    overlap: bool = False,
    follow_links: bool = False,
) -> CommitResult:
    """Snapshot ``paths`` as a new version of asset ``name``.

    Objects are written (and flushed) first; the version becomes visible in one catalog
    transaction at the end, so an interrupted commit leaves at most unreferenced objects.

    Without ``name`` a path that an asset owns (its contract's ``path``, or where it was
    committed) commits to that asset; ``overlap`` allows a path inside another asset's folder
    (or containing one) to become an asset of its own.
    """
    request = CommitRequest.parse(
        repo,
        paths,
        name=name,
        message=message,
        kind=kind,
        tags=tags,
        meta=meta,
        force=force,
        reason=reason,
        overlap=overlap,
        follow_links=follow_links,
    )
    who = AuthorLater()  # git config runs while the tree is scanned and hashed
    try:
        with repo.lock():
            prepared = prepare(repo, request, progress=progress, author=who)
            if prepared.version is not None:
                pause_point(BEFORE_CATALOG)
            with repo.change("commit", prepared.name) as tx:
                result = record(repo, prepared, tx)
            lock.sync(repo)  # dvlin.lock (and the .gitignore block) name the new version
            return result
    finally:
        who.close()


def _has_tables(paths: Sequence[str]) -> bool:
    """True when some path is a table or an array that a commit describes and profiles."""
    import re

    from dvlin.inspect.tables import TABLE_SUFFIXES

    suffixes = "|".join(re.escape(s.lstrip(".")) for s in [*TABLE_SUFFIXES, ".npy"])
    # One search over the joined paths rather than a suffix test per path (20,000 paths: 2 ms).
    found = re.search(f"\\.(?:{suffixes})(?:\\n|$)", "\n".join(paths), re.IGNORECASE)
    return found is not None


def _describe(
    base_abs: str,
    changed: Mapping[str, str],
    kept: Mapping[str, dict[str, Any]],
    before: Mapping[str, dict[str, Any]],
) -> dict[str, Any]:
    """Schemas of tables and shapes of arrays in the version, reusing the parent's by oid.

    Only files not taken unchanged from the parent are looked at (``changed``); ``kept`` are
    the parent's descriptions of files the version keeps as they were.
    """
    from dvlin.inspect.tables import describe, is_described

    described: dict[str, dict[str, Any]] = dict(kept)
    for path, oid in changed.items():
        if not is_described(path):
            continue
        old = before.get(path)
        if old is not None and old.get("oid") == oid:
            described[path] = dict(old)
            continue
        found = describe(os.path.join(base_abs, path), path)
        if found is not None:
            described[path] = {**found, "oid": oid}
    return {"files": dict(sorted(described.items()))} if described else {}
