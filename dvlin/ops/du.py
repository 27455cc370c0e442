"""``dvlin du``: what storage costs — logical vs stored bytes, dedup, objects and packs.

Every figure comes from the catalog's record of the store (sizes as written), so ``du`` is
as fast on S3 as on a local disk and lists nothing remotely. For a version, *stored* is the
bytes of every storage object it needs (loose files, packs its small files sit in, chunks,
its manifest); *unique* is the part no other version needs — what deleting that version
alone would free — and *shared* the rest. For an asset the same, over all its versions
against every other asset.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.catalog.usage import UsageStore
from dvlin.ops.asset import asset_names
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.repo import Repo


@sealed
@dataclass(frozen=True, slots=True)
class VersionUsage:
    """Storage of one version."""

    label: str
    id: str
    logical: int
    stored: int
    unique: int
    objects: int
    expired: bool

    @property
    def shared(self) -> int:
        """Stored bytes that other versions need too."""
        return self.stored - self.unique

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "version": self.label,
            "id": self.id,
            "logical_bytes": self.logical,
            "stored_bytes": self.stored,
            "unique_bytes": self.unique,
            "shared_bytes": self.shared,
            "objects": self.objects,
            "expired": self.expired,
        }


@sealed
@dataclass(frozen=True, slots=True)
class AssetUsage:
    """Storage of one asset: its versions together, against every other asset."""

    name: str
    logical: int
    stored: int
    unique: int
    objects: int
    versions: tuple[VersionUsage, ...]

    @property
    def shared(self) -> int:
        """Stored bytes that other assets need too."""
        return self.stored - self.unique

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "asset": self.name,
            "logical_bytes": self.logical,
            "stored_bytes": self.stored,
            "unique_bytes": self.unique,
            "shared_bytes": self.shared,
            "objects": self.objects,
            "versions": [v.to_dict() for v in self.versions],
        }


@sealed
@dataclass(frozen=True, slots=True)
class UsageReport:
    """Storage of the whole store and of the assets asked about."""

    assets: tuple[AssetUsage, ...]
    logical: int
    """Bytes of every kept version's files, as if each were stored whole."""
    stored: int
    """Bytes of every object in the store."""
    objects: int
    """Objects in the store (files on disk, requests on S3)."""
    packs: int
    packed_files: int
    """Small files stored as slices of the packs."""
    unreferenced_objects: int
    unreferenced_bytes: int
    gc_versions: int
    gc_objects: int
    gc_bytes: int
    """What ``dvlin gc --apply`` would delete now, under the retention policy."""

    @property
    def saved(self) -> int:
        """Bytes deduplication saves: logical minus what the kept versions need stored."""
        return max(self.logical - (self.stored - self.unreferenced_bytes), 0)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "total": {
                "logical_bytes": self.logical,
                "stored_bytes": self.stored,
                "saved_bytes": self.saved,
                "objects": self.objects,
                "packs": self.packs,
                "packed_files": self.packed_files,
                "unreferenced_objects": self.unreferenced_objects,
                "unreferenced_bytes": self.unreferenced_bytes,
            },
            "gc": {
                "versions": self.gc_versions,
                "objects": self.gc_objects,
                "bytes": self.gc_bytes,
            },
            "assets": [a.to_dict() for a in self.assets],
        }


def du(repo: Repo, names: Sequence[str] = (), *, now: float | None = None) -> UsageReport:
    """Account for the store: per asset and version (all assets, or ``names``), and in total.

    ``names`` may be asset names or the paths they were committed from.
    """
    from dvlin.ops.gc import preview

    catalog = repo.catalog
    wanted = asset_names(repo, tuple(names)) if names else catalog.asset_names()
    usage = UsageStore(catalog)
    sizes = usage.stored_sizes()
    packs = usage.packs()
    expired = usage.expired()
    needs: dict[str, set[str]] = defaultdict(set)
    users: dict[str, set[str]] = defaultdict(set)
    for version_id, oid in usage.iter_needs():
        if oid in sizes:  # an object gc already deleted is no longer stored
            needs[version_id].add(oid)
            users[oid].add(version_id)
    versions = catalog.versions()
    asset_of: dict[str, str] = {v.id: v.asset for v in versions}
    asset_users: dict[str, set[str]] = {
        oid: {asset_of[v] for v in vs if v in asset_of} for oid, vs in users.items()
    }

    rows = []
    for name in wanted:
        own = sorted((v for v in versions if v.asset == name), key=lambda v: v.number)
        version_rows = []
        asset_oids: set[str] = set()
        for v in own:
            oids = needs.get(v.id, set())
            asset_oids |= oids
            version_rows.append(
                VersionUsage(
                    label=v.label,
                    id=v.id,
                    logical=v.bytes,
                    stored=sum(sizes[o] for o in oids),
                    unique=sum(sizes[o] for o in oids if users[o] == {v.id}),
                    objects=len(oids),
                    expired=v.id in expired,
                )
            )
        rows.append(
            AssetUsage(
                name=name,
                logical=sum(v.logical for v in version_rows if not v.expired),
                stored=sum(sizes[o] for o in asset_oids),
                unique=sum(sizes[o] for o in asset_oids if asset_users[o] == {name}),
                objects=len(asset_oids),
                versions=tuple(version_rows),
            )
        )
    unreferenced = [o for o in sizes if o not in users]
    plan = preview(repo, now=time.time() if now is None else now)
    return UsageReport(
        assets=tuple(rows),
        logical=sum(v.bytes for v in versions if v.id not in expired),
        stored=sum(sizes.values()),
        objects=len(sizes),
        packs=sum(1 for p in packs if p in sizes),
        packed_files=sum(n for p, n in packs.items() if p in sizes),
        unreferenced_objects=len(unreferenced),
        unreferenced_bytes=sum(sizes[o] for o in unreferenced),
        gc_versions=len(plan.versions),
        gc_objects=len(plan.objects),
        gc_bytes=plan.bytes,
    )
