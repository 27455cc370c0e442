"""``dvlin commit``: snapshot files and folders as a new immutable version of an asset."""

from __future__ import annotations

import json
import os
import posixpath
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from dvlin.catalog import Version
from dvlin.errors import ConflictError, NotFoundError, UsageError
from dvlin.objects.hashing import hash_bytes
from dvlin.objects.ingest import Ingester
from dvlin.objects.manifest import Entry, to_parquet, tree_digest
from dvlin.ops.common import (
    author as current_author,
)
from dvlin.ops.common import (
    check_asset_name,
    check_kind,
    check_tag_name,
    utc_now,
)
from dvlin.ops.diff import Diff, diff_entries
from dvlin.ops.manifests import load_entries
from dvlin.progress import NullProgress, Progress
from dvlin.workspace.scan import Item, scan
from dvlin.workspace.statcache import StatCache

if TYPE_CHECKING:
    from dvlin.repo import Repo


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


@dataclass(frozen=True, slots=True)
class Layout:
    """Where an asset's files are: a base folder (relative to the repo) and roots inside it."""

    base: str
    roots: tuple[str, ...]


def layout_of(repo: Repo, paths: Sequence[str | os.PathLike[str]]) -> tuple[Layout, str]:
    """Work out the base folder, roots and default name of the paths being committed."""
    if not paths:
        raise UsageError("nothing to commit: no paths given", hint="e.g. dvlin commit data/events")
    rels: list[str] = []
    for p in paths:
        rel = repo.relpath(p)
        full = repo.root / rel
        if not os.path.lexists(full):
            raise NotFoundError(f"{p} does not exist", hint="check the path")
        if os.path.islink(full):
            raise UsageError(
                f"{p} is a symlink", hint="commit the folder or file it points to instead"
            )
        rels.append("." if rel in ("", ".") else rel)
    rels = sorted(set(rels))
    if len(rels) == 1:
        rel = rels[0]
        if rel == "." or (repo.root / rel).is_dir():
            return Layout(rel, (".",)), rel
        return Layout(posixpath.dirname(rel) or ".", (posixpath.basename(rel),)), rel
    for a in rels:
        for b in rels:
            if a != b and (a == "." or b.startswith(a + "/")):
                raise UsageError(f"{b} is inside {a}", hint="commit the outer path alone")
    base = posixpath.commonpath(rels) if all(r != "." for r in rels) else "."
    base = base or "."
    roots = tuple(r if base == "." else posixpath.relpath(r, base) for r in rels)
    return Layout(base, roots), ""


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
) -> CommitResult:
    """Snapshot ``paths`` as a new version of asset ``name``.

    Objects are written (and flushed) first; the version becomes visible in one catalog
    transaction at the end, so an interrupted commit leaves at most unreferenced objects.
    """
    progress = progress or NullProgress()
    layout, default_name = layout_of(repo, paths)
    if not name:
        if not default_name or default_name == ".":
            raise UsageError("an asset name is needed for these paths", hint="pass --name NAME")
        name = default_name
    check_asset_name(name)
    for t in tags:
        check_tag_name(t)
    if kind is not None:
        check_kind(kind)

    with repo.lock():
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
        items = list(scan(base_abs, layout.roots, store_root=repo.local_store_root))
        cache = StatCache(catalog, layout.base)
        ingester = Ingester(repo.store, catalog)
        ingester.on_hashed = lambda item, oid: cache.record(
            cast(Item, item), oid, hashed_at_ns=started
        )
        entries: list[Entry] = []
        files = [i for i in items if i.type == "file"]
        progress.start("committing", files=len(files), bytes=sum(i.size for i in files))
        for item in items:
            if item.type != "file":
                entries.append(Entry(item.path, item.type, item.mode, 0, None, item.target))
                continue
            oid = item.oid or cache.lookup(item)
            known = parent_entries.get(item.path)
            if oid is not None and known is not None and known.oid == oid and known.type == "file":
                entries.append(
                    Entry(
                        item.path,
                        "file",
                        item.mode,
                        known.size,
                        known.oid,
                        None,
                        known.pack,
                        known.offset,
                        known.chunks,
                    )
                )
            elif oid is None or not ingester.add_known(item.path, item.mode, item.size, oid):
                ingester.add_file(
                    os.path.join(base_abs, item.path), item.path, item.mode, item.size, tag=item
                )
            progress.advance(files=1, bytes=item.size)
        entries.extend(ingester.finish())
        progress.finish()

        algorithm = repo.config.hash
        tree = tree_digest(algorithm, entries)
        diff = diff_entries(parent_entries, {e.path: e for e in entries})
        if (
            parent is not None
            and parent.tree == tree
            and parent.base == layout.base
            and parent.roots == layout.roots
        ):
            repo.store.sync()
            with catalog.transaction():
                cache.save(catalog)
                if tags:
                    _insert_tags(repo, name, parent.id, tags)
            return CommitResult(False, parent, diff, tags=tuple(catalog.tags_of(parent.id)))

        info = _describe(base_abs, entries, parent)
        manifest_data = to_parquet(entries)
        manifest = repo.store.put(manifest_data)
        repo.store.sync()  # objects are durable before the catalog references them

        file_entries = [e for e in entries if e.type == "file"]
        created_at = utc_now()
        who = current_author()
        meta = dict(meta or {})
        number = (parent.number + 1) if parent else 1
        identity = json.dumps(
            {
                "asset": name,
                "parent": parent.id if parent else None,
                "tree": tree,
                "manifest": manifest,
                "author": who,
                "created_at": created_at,
                "message": message,
                "meta": meta,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        version = Version(
            id=hash_bytes(algorithm, identity.encode())[:32],
            asset=name,
            number=number,
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
            info=info,
        )
        storage = {oid for e in file_entries for oid in e.storage_oids()}
        storage.add(manifest)
        from dvlin.catalog.catalog import StoredObject

        _pause_for_crash_tests()
        with catalog.transaction():
            catalog.upsert_asset(
                name,
                kind=kind or existing_kind or "dataset",
                base=layout.base,
                roots=layout.roots,
                created_at=created_at,
            )
            catalog.insert_version(version)
            catalog.add_objects(ingester.new_objects.values())
            catalog.add_objects([StoredObject(manifest, len(manifest_data), None, None)])
            catalog.link_version_objects(version.id, storage)
            _insert_tags(repo, name, version.id, tags)
            cache.save(catalog)
            catalog.set_workspace_version(name, version.id, updated_at=created_at)
        return CommitResult(
            True,
            version,
            diff,
            new_objects=len(ingester.new_objects),
            new_bytes=ingester.new_bytes,
            tags=tuple(tags),
        )


def _insert_tags(repo: Repo, name: str, version_id: str, tags: Sequence[str]) -> None:
    for t in tags:
        repo.catalog.insert_tag(name, t, version_id, created_at=utc_now(), author=current_author())


def _describe(base_abs: str, entries: list[Entry], parent: Version | None) -> dict[str, Any]:
    """Schemas of tables and shapes of arrays in the version, reusing the parent's by oid."""
    from dvlin.inspect.tables import describe, is_described

    before: dict[str, dict[str, Any]] = dict(parent.info.get("files", {})) if parent else {}
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


def _pause_for_crash_tests() -> None:
    """Fault injection for the crash tests: objects are written, the catalog is not yet.

    With ``DVLIN_TEST_PAUSE_BEFORE_CATALOG=FILE`` set, touch FILE and wait to be killed.
    """
    marker = os.environ.get("DVLIN_TEST_PAUSE_BEFORE_CATALOG")
    if marker:
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)
