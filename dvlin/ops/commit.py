"""``dvlin commit``: snapshot files and folders as a new immutable version of an asset."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from dvlin.audit import records
from dvlin.catalog import Version
from dvlin.catalog.versions import VersionInfo
from dvlin.errors import ConflictError, UsageError
from dvlin.faults import BEFORE_CATALOG, pause_point
from dvlin.git import code_info
from dvlin.identity import author as current_author
from dvlin.identity import utc_now
from dvlin.objects.hashing import Oid
from dvlin.objects.ingest import Ingester
from dvlin.objects.manifest import Entry, to_parquet, tree_digest
from dvlin.objects.store import StoredObject
from dvlin.ops import lock
from dvlin.ops.commit_request import CommitRequest, Layout
from dvlin.ops.diff import Diff, diff_entries
from dvlin.ops.manifests import load_entries
from dvlin.progress import NullProgress, Progress
from dvlin.values import sealed
from dvlin.workspace import pending
from dvlin.workspace.scan import Item, scan_columns
from dvlin.workspace.statcache import StatCache, is_racy

if TYPE_CHECKING:
    from dvlin.audit.change import Change
    from dvlin.repo import Repo


@sealed
@dataclass(frozen=True, slots=True)
class CommitResult:
    """What a commit did: the new version, or the unchanged latest when nothing changed."""

    created: bool
    version: Version
    diff: Diff
    new_objects: int = 0
    new_bytes: int = 0
    tags: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        from dvlin.ops.log import version_dict

        return {
            "created": self.created,
            "version": version_dict(self.version, tags=list(self.tags)),
            "changes": self.diff.counts(),
            "new_objects": self.new_objects,
            "new_bytes": self.new_bytes,
        }


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
    items: list[Item] = field(default_factory=list)
    """What was scanned, for checks that look at the files before they are committed."""


def prepare(
    repo: Repo, request: CommitRequest, *, progress: Progress | None = None
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
    parent_entries = load_entries(repo, parent) if parent else {}

    started = time.time_ns()
    base_abs = str(repo.root / layout.base)
    pending.refuse_overlapping(repo.dvlin_dir, base_abs)  # never snapshot a half checkout
    from dvlin.ops.status import stat_cache

    cache = stat_cache(repo, layout.base, layout.roots)
    cols = scan_columns(
        base_abs, layout.roots, store_root=repo.local_store_root, follow_links=follow_links
    )
    items = list(cols.items())
    # The asset's contract runs before a single object is written: a failing commit leaves
    # the store and the catalog exactly as they were.
    from dvlin.ops.check import enforce

    checks = enforce(repo, name, base_abs, items, force=request.force, reason=request.reason)
    cached = cache.lookup_all(cols)
    hashed: dict[str, Oid] = {}

    def on_hashed(tag: object, oid: str) -> None:
        item = cast(Item, tag)
        if not is_racy(item.mtime_ns, started):
            hashed[item.path] = Oid(oid)

    ingester = Ingester(repo.store, catalog)
    ingester.on_hashed = on_hashed
    entries: list[Entry] = []
    files = [i for i in items if i.type == "file"]
    progress.start("committing", files=len(files), bytes=sum(i.size for i in files))
    for item, known_oid in zip(items, cached, strict=True):
        if item.type != "file":
            entries.append(Entry(item.path, item.type, item.mode, 0, None, item.target))
            continue
        oid = item.oid or known_oid
        known = parent_entries.get(item.path)
        if oid is not None and known is not None and known.oid == oid and known.type == "file":
            # Unchanged since the parent: reuse where its bytes live (pack slice or chunks).
            entries.append(known._replace(mode=item.mode))
        elif oid is None or not ingester.add_known(item.path, item.mode, item.size, oid):
            ingester.add_file(
                os.path.join(base_abs, item.path), item.path, item.mode, item.size, tag=item
            )
        progress.advance(files=1, bytes=item.size)
    entries.extend(ingester.finish())
    progress.finish()

    algorithm = repo.config.hash
    tree = tree_digest(algorithm, entries)
    cache.snapshot(
        cols,
        [i.oid or c or hashed.get(i.path) for i, c in zip(items, cached, strict=True)],
        tree,
    )
    diff = diff_entries(parent_entries, {e.path: e for e in entries})
    resolved_kind = kind or existing_kind or "dataset"
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
            items,
        )

    info = {**_describe(base_abs, entries, parent), **checks, **code_info(repo.root)}
    if follow_links:
        info["follow_links"] = True  # status and checkout scan this version's folder the same way
    from dvlin.ops.profiles import commit_profiles

    profiles = commit_profiles(repo, base_abs, info, oids={e.path: e.oid for e in entries if e.oid})
    manifest_data = to_parquet(entries)
    manifest = repo.store.put(manifest_data)
    repo.store.sync()  # objects are durable before the catalog references them

    file_entries = [e for e in entries if e.type == "file"]
    created_at = utc_now()
    who = current_author()
    meta = dict(request.meta)
    identity = records.version_identity(
        asset=name,
        parent=parent.id if parent else None,
        tree=tree,
        manifest=manifest,
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
        manifest=manifest,
        author=who,
        created_at=created_at,
        message=message,
        meta=meta,
        files=len(file_entries),
        bytes=sum(e.size for e in file_entries),
        base=layout.base,
        roots=layout.roots,
        info=VersionInfo.from_dict(info),
    )
    storage = {oid for e in file_entries for oid in e.storage_oids()}
    storage.add(manifest)
    storage.update(p.oid for p in profiles)
    new_objects = [
        *ingester.new_objects.values(),
        StoredObject(manifest, len(manifest_data), None, None),
        *profiles,
    ]
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
        items,
    )


def _retrack(repo: Repo, prepared: PreparedCommit, tx: Change) -> None:
    """Committing an asset ``dvlin rm`` untracked tracks it again, even with its tree unchanged."""
    from dvlin.catalog.assets import AssetStore

    catalog, parent = repo.catalog, prepared.parent
    if parent is None or not AssetStore(catalog).is_removed(prepared.name):
        return
    now = utc_now()
    catalog.upsert_asset(
        prepared.name,
        kind=prepared.kind,
        base=prepared.layout.base,
        roots=prepared.layout.roots,
        created_at=now,
    )
    catalog.set_workspace_version(prepared.name, parent.id, updated_at=now)
    tx.audit(action="commit", target=parent.label, details={"id": parent.id, "tracked": True})


def record(repo: Repo, prepared: PreparedCommit, tx: Change) -> CommitResult:
    """Insert a prepared commit's rows inside the caller's unit of work ``tx``."""
    catalog = repo.catalog
    prepared.cache.save()  # a file beside the catalog: no row, nothing to audit
    version = prepared.version
    if version is None:
        assert prepared.parent is not None
        _insert_tags(repo, tx, prepared.name, prepared.parent.id, prepared.tags)
        _retrack(repo, prepared, tx)
        return CommitResult(
            False,
            prepared.parent,
            prepared.diff,
            tags=tuple(catalog.tags_of(prepared.parent.id)),
        )
    catalog.upsert_asset(
        prepared.name,
        kind=prepared.kind,
        base=prepared.layout.base,
        roots=prepared.layout.roots,
        created_at=version.created_at,
    )
    catalog.insert_version(version)
    catalog.add_objects(prepared.new_objects)
    catalog.link_version_objects(version.id, prepared.storage)
    tx.audit(
        action="commit",
        target=version.label,
        actor=version.author,
        at=version.created_at,
        details={
            "id": version.id,
            "files": version.files,
            "bytes": version.bytes,
            "manifest": version.manifest,
            "kind": prepared.kind,
        },
        record=("version", version.id),
    )
    override = version.info.override
    if override is not None:
        tx.audit(
            action="contract-override",
            target=version.label,
            outcome="overridden",
            reason=override.reason,
            details={"failed_rules": override.failed, "id": version.id},
            record=("override", version.id),
        )
    _insert_tags(repo, tx, prepared.name, version.id, prepared.tags)
    with tx.unaudited():
        catalog.set_workspace_version(prepared.name, version.id, updated_at=version.created_at)
    return CommitResult(
        True,
        version,
        prepared.diff,
        new_objects=sum(1 for o in prepared.new_objects if o.pack in (None, o.oid)),
        new_bytes=prepared.new_bytes,
        tags=prepared.tags,
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
    with repo.lock():
        prepared = prepare(repo, request, progress=progress)
        if prepared.version is not None:
            pause_point(BEFORE_CATALOG)
        with repo.change("commit", prepared.name) as tx:
            result = record(repo, prepared, tx)
        lock.sync(repo)  # dvlin.lock (and the .gitignore block) name the new version
        return result


def _insert_tags(repo: Repo, tx: Change, name: str, version_id: str, tags: Sequence[str]) -> None:
    for t in tags:
        repo.catalog.insert_tag(name, t, version_id, created_at=utc_now(), author=current_author())
        tx.audit(
            action="tag",
            target=f"{name}@{t}",
            details={"version": version_id},
            record=("tag", f"{name}@{t}"),
        )


def _describe(base_abs: str, entries: list[Entry], parent: Version | None) -> dict[str, Any]:
    """Schemas of tables and shapes of arrays in the version, reusing the parent's by oid."""
    from dvlin.inspect.tables import describe, is_described

    before: dict[str, dict[str, Any]] = dict(parent.info.files) if parent else {}
    described: dict[str, dict[str, Any]] = {}
    for e in entries:
        if e.type != "file" or not is_described(e.path):
            continue
        old = before.get(e.path)
        if old is not None and old.get("oid") == e.oid:
            described[e.path] = old
            continue
        found = describe(os.path.join(base_abs, e.path), e.path)
        if found is not None:
            described[e.path] = {**found, "oid": e.oid}
    return {"files": described} if described else {}
