"""``dvlin log``, ``show`` and ``ls``: read-only views of versions and assets."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.catalog import Version
from dvlin.catalog.catalog import Asset
from dvlin.errors import NotFoundError, UsageError
from dvlin.ops.manifests import load_manifest
from dvlin.ops.refs import resolve, resolve_asset
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.ids import Oid
    from dvlin.objects.manifest import Manifest
    from dvlin.ops.lineage import Provenance
    from dvlin.policy.results import RuleResult
    from dvlin.repo import Repo


def version_dict(v: Version, *, tags: list[str] | None = None) -> dict[str, Any]:
    """The stable ``--json`` shape of a version."""
    return {
        "id": v.id,
        "asset": v.asset,
        "number": v.number,
        "label": v.label,
        "parent": v.parent,
        "author": v.author,
        "created_at": v.created_at,
        "message": v.message,
        "meta": v.meta,
        "files": v.files,
        "bytes": v.bytes,
        "path": v.base,
        "roots": list(v.roots),
        "tree": v.tree,
        "manifest": v.manifest,
        "tags": tags or [],
    }


@sealed
@dataclass(frozen=True, slots=True)
class VersionDetail:
    """A version with its tags, kind and recorded table and array details."""

    version: Version
    kind: str
    tags: tuple[str, ...]
    latest: int
    expired_at: str | None = None
    """When gc expired the version (metadata and lineage stay; its data may be gone)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of ``dvlin show``."""
        return {
            **version_dict(self.version, tags=list(self.tags)),
            "expired_at": self.expired_at,
            "kind": self.kind,
            "latest": self.latest,
            "described": dict(self.version.info.files),
            "checks": list(self.version.info.checks),
            "override": info.override.to_dict() if (info := self.version.info).override else None,
        }

    @property
    def failed_checks(self) -> list[RuleResult]:
        """The contract rules the version failed (committed with ``--force``)."""
        from dvlin.policy.results import RuleResult

        return [RuleResult.from_dict(c) for c in self.version.info.checks if not c["passed"]]


@sealed
@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of ``dvlin log``: a version, its tags, the run that made it, its expiry."""

    version: Version
    tags: tuple[str, ...] = ()
    run: str | None = None
    """The id of the run that produced the version, if a run did."""
    expired_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of ``dvlin log``."""
        return {
            **version_dict(self.version, tags=list(self.tags)),
            "run": self.run,
            "expired_at": self.expired_at,
        }


@sealed
@dataclass(frozen=True, slots=True)
class ShownVersion:
    """What ``dvlin show`` prints: the version's details and its lineage."""

    detail: VersionDetail
    lineage: Provenance

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of ``dvlin show``."""
        return {**self.detail.to_dict(), "lineage": self.lineage.to_dict()}


@sealed
@dataclass(frozen=True, slots=True)
class AssetSummary:
    """One asset as ``dvlin ls`` lists it: kind, path, newest version, size, owner."""

    asset: Asset

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of ``dvlin ls``."""
        a = self.asset
        return {
            "name": a.name,
            "kind": a.kind,
            "path": a.base,
            "latest": f"v{a.latest}" if a.latest else None,
            "latest_id": a.latest_id,
            "files": a.files,
            "bytes": a.bytes,
            "owner": a.owner,
        }


@sealed
@dataclass(frozen=True, slots=True)
class FileRow:
    """One path of a version, as ``dvlin ls REF`` lists it."""

    path: str
    type: str
    mode: int
    size: int
    oid: Oid | None
    target: str | None

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "path": self.path,
            "type": self.type,
            "mode": f"{self.mode:o}",
            "size": self.size,
            "oid": self.oid,
            "target": self.target,
        }


def log(repo: Repo, name: str | None = None, *, limit: int | None = None) -> list[Version]:
    """Versions newest first, of one asset (which must exist) or of all.

    Raises:
        UsageError: ``limit`` is below 1.
    """
    if limit is not None and limit < 1:
        raise UsageError(
            f"the number of versions to show must be at least 1, not {limit}",
            hint="e.g. dvlin log -n 5",
        )
    if name is not None:
        name = resolve_asset(repo, name)  # a name or its path; NotFoundError with candidates
    return repo.catalog.versions(name, limit=limit)


def history(repo: Repo, name: str | None = None, *, limit: int | None = None) -> list[LogEntry]:
    """``dvlin log``: versions newest first with their tags, producing runs and expiry."""
    from dvlin.catalog.runs import LineageStore

    versions = log(repo, name, limit=limit)
    tags = tags_by_version(repo)
    runs = LineageStore(repo.catalog).producers([v.id for v in versions])
    expired = _expired_at(repo)
    return [
        LogEntry(v, tuple(tags.get(v.id, ())), runs.get(v.id), expired.get(v.id)) for v in versions
    ]


def tags_by_version(repo: Repo) -> dict[str, list[str]]:
    """Tag names keyed by version id."""
    result: dict[str, list[str]] = {}
    for t in repo.catalog.tags():
        result.setdefault(t.version, []).append(t.name)
    return result


def show(repo: Repo, ref: str) -> VersionDetail:
    """Everything recorded about one version."""
    v = resolve(repo, ref)
    latest = repo.catalog.latest_version(v.asset)
    return VersionDetail(
        version=v,
        kind=repo.catalog.get_asset_kind(v.asset) or "dataset",
        tags=tuple(repo.catalog.tags_of(v.id)),
        latest=latest.number if latest else v.number,
        expired_at=_expired_at(repo).get(v.id),
    )


def show_version(repo: Repo, ref: str) -> ShownVersion:
    """``dvlin show``: :func:`show` and the version's lineage (:func:`dvlin.ops.lineage.provenance`)."""
    from dvlin.ops.lineage import provenance

    detail = show(repo, ref)
    return ShownVersion(detail, provenance(repo, detail.version.id))


def _expired_at(repo: Repo) -> dict[str, str]:
    from dvlin.catalog.gc import GcStore

    return GcStore(repo.catalog).expired_at()


def assets(repo: Repo) -> list[AssetSummary]:
    """Every asset with its newest version's summary and its owner (from ``dvlin.toml``)."""
    found = repo.catalog.list_assets()
    owners = asset_owners(repo, [a.name for a in found])
    return [AssetSummary(dataclasses.replace(a, owner=owners.get(a.name))) for a in found]


def asset_owners(repo: Repo, names: Iterable[str]) -> dict[str, str]:
    """Asset name → owner, for the assets that have one.

    The owner is policy: ``owner`` in the asset's table of ``dvlin.toml`` decides; an owner
    recorded in the catalog counts only for assets that ``dvlin.toml`` does not name.
    """
    from dvlin.catalog.runs import LineageStore
    from dvlin.policy.config import load_policy

    wanted = list(names)
    policy = load_policy(repo.root)
    recorded = LineageStore(repo.catalog).asset_info(wanted)
    owners: dict[str, str] = {}
    for name in wanted:
        p = policy.get(name)
        owner = p.owner if p is not None else recorded.get(name, ("", None))[1]
        if owner:
            owners[name] = owner
    return owners


def listing(repo: Repo, ref: str) -> Manifest:
    """The validated manifest of the version ``ref`` names, for ``dvlin ls REF``.

    A manifest stays a table: the CLI writes it a batch of rows at a time, so listing a
    million files never builds a million rows in Python.

    Raises:
        NotFoundError: an unknown ref, or a version whose manifest lists nothing but whose
            catalog row counts files.
    """
    from dvlin.objects.manifest import DIFF_COLUMNS

    v = resolve(repo, ref)
    # The listed columns only (what a diff reads too): not the chunk lists nor the packs.
    manifest = load_manifest(repo, v, columns=DIFF_COLUMNS)
    if not len(manifest) and v.files:
        raise NotFoundError(f"{v.label} has an empty manifest")
    return manifest


def files(repo: Repo, ref: str) -> list[FileRow]:
    """The paths of a version, sorted (one Python row each: see :func:`listing` for big ones)."""
    # From the listed columns: a big version's listing is partial (no storage columns).
    table = listing(repo, ref).table.select(["path", "type", "mode", "size", "oid", "target"])
    rows: list[FileRow] = []
    for batch in table.to_batches(max_chunksize=65_536):
        columns = [column.to_pylist() for column in batch.columns]
        rows.extend(FileRow(*row) for row in zip(*columns, strict=True))
    return rows
