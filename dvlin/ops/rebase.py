"""``dvlin pull --rebase``: replay this clone's unpushed versions on top of the remote head.

For an asset whose local and remote histories diverged after a common version ``base``, each
local-only version's changes (against its parent) are applied to the remote head's tree, in
order. The replayed versions get new ids and numbers; their bytes are the objects already
stored (nothing is re-hashed). A path changed on both sides to different contents is a
conflict: the rebase stops before changing anything and lists the paths. Tags, holds, model
stages, lineage edges and the workspace record move to the new versions, in one transaction
with an audit entry mapping old ids to new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.audit import log as audit
from dvlin.audit.records import snapshot
from dvlin.catalog import Version
from dvlin.catalog.remotes import RemoteState, Row
from dvlin.errors import ConflictError
from dvlin.objects.hashing import VersionId, hash_bytes
from dvlin.objects.manifest import Entry, Manifest
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.remote.store import RemoteStore
    from dvlin.repo import Repo


@sealed
@dataclass(frozen=True, slots=True)
class Rebased:
    """One asset rebased: old version id → new version (None when it became empty)."""

    asset: str
    onto: str
    """Label of the remote head the local versions now follow."""
    moved: dict[str, str | None] = field(default_factory=dict)
    labels: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "asset": self.asset,
            "onto": self.onto,
            "moved": self.moved,
            "new": list(self.labels),
        }


def _entries(repo: Repo, manifest: str) -> Manifest:
    from dvlin.ops.pull import fetch_missing

    fetch_missing(repo, [manifest])
    found = Manifest.from_parquet(repo.store.get(manifest))
    found.validate(repo.config.hash)
    return found


def _changes(parent: Manifest, child: Manifest) -> dict[str, Entry | None]:
    """Paths whose content differs (the child's entry) or that the child removed (None).

    A join of the two manifests' columns: only the changed paths become Python objects.
    """
    import pyarrow as pa

    from dvlin.objects import columns

    added, both, previous, removed = columns.match_paths(parent.paths(), child.paths())
    moved = columns.differing(
        parent.table, child.table, previous, both, ("type", "mode", "oid", "target")
    )
    changed: dict[str, Entry | None] = {
        e.path: e for e in child.take(pa.concat_arrays([added, both.filter(moved)])).entries()
    }
    for path in parent.paths().take(removed).to_pylist():
        changed[path] = None
    return changed


def _same(a: Entry | None, b: Entry | None) -> bool:
    return (a is None and b is None) or (a is not None and a.same_content(b))


def rebase_asset(repo: Repo, store: RemoteStore, asset: str) -> Rebased:
    """Replay ``asset``'s unpushed local versions on the remote head (the repo lock is held).

    Raises:
        ConflictError: paths changed on both sides; nothing was changed.
    """
    catalog = repo.catalog
    state = RemoteState(catalog)
    pending = [sid for sid, done in state.segments(store.name).items() if not done]
    remote_rows: dict[str, Row] = {}
    for sid in pending:
        for row in store.read_segment(sid).records.get("version", ()):
            if row["asset"] == asset:
                remote_rows[row["id"]] = row
    on_remote = set(state.records(store.name, "version")) | set(remote_rows)
    local = sorted((v for v in catalog.versions(asset)), key=lambda v: v.number)
    base = next((v for v in reversed(local) if v.id in on_remote), None)
    mine = [v for v in local if base is None or v.number > base.number]
    chain = sorted(
        (r for r in remote_rows.values() if base is None or r["number"] > base.number),
        key=lambda r: r["number"],
    )
    if not mine or not chain:
        return Rebased(asset, "", {})
    head = chain[-1]
    base_entries = _entries(repo, base.manifest) if base else Manifest.empty()
    theirs = _entries(repo, head["manifest"])
    remote_changed = _changes(base_entries, theirs)

    # Every local change, against the base, must agree with the remote or not touch its paths.
    steps: list[tuple[Version, dict[str, Entry | None]]] = []
    previous = base_entries
    for v in mine:
        entries = _entries(repo, v.manifest)
        steps.append((v, _changes(previous, entries)))
        previous = entries
    ours = _changes(base_entries, previous)
    conflicts = sorted(
        p for p, e in ours.items() if p in remote_changed and not _same(e, remote_changed[p])
    )
    if conflicts:
        shown = ", ".join(conflicts[:10]) + (
            f" and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
        )
        raise ConflictError(
            f"{asset}: local and remote versions change the same paths differently: {shown}",
            hint="nothing was changed; check out the remote version, redo your change on top "
            "of it and commit",
            paths=conflicts,
        )

    # Objects before records: the new manifests are stored first.
    algorithm = repo.config.hash
    current = theirs
    parent_id, parent_number, parent_tree = head["id"], int(head["number"]), head["tree"]
    new_versions: list[tuple[Version, set[str], int]] = []
    moved: dict[str, str | None] = {}
    for v, change in steps:
        current = current.replace(
            list(change), Manifest.from_entries(e for e in change.values() if e is not None)
        )
        tree = current.digest(algorithm)
        if tree == parent_tree:
            moved[v.id] = new_versions[-1][0].id if new_versions else None
            continue
        manifest_data = current.to_parquet()
        manifest = repo.store.put(manifest_data)
        identity = json.dumps(
            {
                "asset": asset,
                "parent": parent_id,
                "tree": tree,
                "manifest": manifest,
                "author": v.author,
                "created_at": v.created_at,
                "message": v.message,
                "meta": v.meta,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        files = current.within(None, ("file",))
        new = Version(
            id=VersionId(hash_bytes(algorithm, identity.encode())[:32]),
            asset=asset,
            number=parent_number + 1,
            parent=parent_id,
            tree=tree,
            manifest=manifest,
            author=v.author,
            created_at=v.created_at,
            message=v.message,
            meta=v.meta,
            files=len(files),
            bytes=files.file_bytes(),
            base=v.base,
            roots=v.roots,
            info=v.info,
        )
        storage = files.storage_oids() | {manifest}
        new_versions.append((new, storage, len(manifest_data)))
        moved[v.id] = new.id
        parent_id, parent_number, parent_tree = new.id, new.number, tree
    repo.store.sync()

    from dvlin.objects.store import StoredObject

    clone = repo.config.repo_id
    with catalog.transaction():
        before = snapshot(catalog.conn)
        old_ids = [v.id for v in mine]
        catalog.conn.executemany(
            "UPDATE versions SET number = -number WHERE id = ?", ((i,) for i in old_ids)
        )
        for sid in pending:
            applied = state.apply(store.read_segment(sid).records, own_clone=clone)
            if applied.complete:
                state.mark_applied(store.name, sid)
        for new, storage, size in new_versions:
            catalog.insert_version(new)
            catalog.add_objects([StoredObject(new.manifest, size, None, None)])
            catalog.link_version_objects(new.id, storage)
        for old, new_id in moved.items():
            target = new_id or head["id"]
            for table, column in (
                ("tags", "version"),
                ("holds", "version"),
                ("model_stages", "version"),
                ("workspace", "version"),
            ):
                catalog.conn.execute(
                    f"UPDATE OR IGNORE {table} SET {column} = ? WHERE {column} = ?", (target, old)
                )
            for column in ("src", "dst"):
                catalog.conn.execute(
                    f"UPDATE OR IGNORE edges SET {column} = ? WHERE {column} = ?", (target, old)
                )
            catalog.conn.execute("DELETE FROM edges WHERE src = ? OR dst = ?", (old, old))
            catalog.conn.execute("DELETE FROM version_objects WHERE version = ?", (old,))
            catalog.conn.execute("DELETE FROM versions WHERE id = ?", (old,))
        audit.append(
            catalog,
            action="rebase",
            target=asset,
            details={"onto": head["id"], "moved": {k: v or head["id"] for k, v in moved.items()}},
        )
        # The replayed versions, and the tags, holds, stages and edges that followed them.
        audit.append_changes(catalog, before, action="rebase", target=asset)
    labels = tuple(f"{asset}@v{n.number}" for n, _, _ in new_versions)
    return Rebased(asset, f"{asset}@v{head['number']}", moved, labels)
