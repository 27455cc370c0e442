"""Recording a prepared commit: the catalog rows of its version, its tags and audit entries.

:func:`dvlin.ops.commit.prepare` stores the objects; :func:`record` makes the version visible
inside the caller's unit of work (one commit, or every output of a run at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.catalog import Version
from dvlin.identity import author as current_author
from dvlin.identity import utc_now
from dvlin.objects.diff import Diff
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.audit.change import Change
    from dvlin.ops.commit import PreparedCommit
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
        if catalog.workspace_version(prepared.name) != prepared.parent.id:
            # The folder was checked out at an older version and edited back to the latest
            # tree: it is at the latest now (status clean, a checkout sees no local edits).
            with tx.unaudited():  # a workspace row, as a checkout writes it
                catalog.set_workspace_version(
                    prepared.name, prepared.parent.id, updated_at=utc_now()
                )
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
    if prepared.stored is not None:
        catalog.add_object_table(prepared.stored)
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
        new_objects=_loose_count(prepared),
        new_bytes=prepared.new_bytes,
        tags=prepared.tags,
    )


def _loose_count(prepared: PreparedCommit) -> int:
    """How many objects the commit stored as files of their own (not inside a pack)."""
    count = sum(1 for o in prepared.new_objects if o.pack in (None, o.oid))
    stored = prepared.stored
    if stored is not None and stored.num_rows:
        import pyarrow.compute as pc

        pack = stored.column("pack")
        alone = pc.or_kleene(pc.is_null(pack), pc.equal(pack, stored.column("oid")))
        count += pc.sum(pc.fill_null(alone, False)).as_py() or 0
    return count


def _insert_tags(repo: Repo, tx: Change, name: str, version_id: str, tags: Sequence[str]) -> None:
    for t in tags:
        repo.catalog.insert_tag(name, t, version_id, created_at=utc_now(), author=current_author())
        tx.audit(
            action="tag",
            target=f"{name}@{t}",
            details={"version": version_id},
            record=("tag", f"{name}@{t}"),
        )
