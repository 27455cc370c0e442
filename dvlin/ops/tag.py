"""``dvlin tag``: give a version a name that stays with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.catalog.catalog import Tag
from dvlin.errors import ConflictError
from dvlin.identity import author, utc_now
from dvlin.ops.common import check_tag_name
from dvlin.ops.refs import resolve_live
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.repo import Repo


@sealed
@dataclass(frozen=True, slots=True)
class TagResult:
    """A tag as ``dvlin tag`` made it, ``dvlin tags`` lists it or ``tag --delete`` removed it."""

    tag: Tag
    deleted: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        t = self.tag
        shape: dict[str, Any] = {
            "asset": t.asset,
            "tag": t.name,
            "version": f"v{t.number}",
            "version_id": t.version,
        }
        if self.deleted:
            return {**shape, "deleted": True}
        return {**shape, "created_at": t.created_at, "author": t.author}


def tag(repo: Repo, ref: str, name: str, *, retain: str | None = None) -> TagResult:
    """Tag the version ``ref`` names as ``asset@name``.

    ``retain`` (``180d``) is the tag's own maximum age: with ``keep_tagged`` retention keeps
    the version only that long after tagging.

    Raises:
        ConflictError: the asset already has a tag of that name.
    """
    check_tag_name(name)
    if retain is not None:
        from dvlin.policy.config import check_duration

        check_duration(retain, flag="--retain")
    catalog = repo.catalog
    with repo.change("tag") as tx:
        version = resolve_live(repo, ref, action="tag")
        existing = catalog.tag(version.asset, name)
        if existing is not None:
            raise ConflictError(
                f"tag {version.asset}@{name} exists (on v{existing.number})",
                hint="tags do not move; choose another name",
            )
        catalog.insert_tag(version.asset, name, version.id, created_at=utc_now(), author=author())
        if retain is not None:
            from dvlin.catalog.holds import RetentionStore

            RetentionStore(catalog).set_tag_retain(version.asset, name, retain)
        tx.audit(
            target=f"{version.asset}@{name}",
            details={"version": version.id, "number": version.number, "retain": retain},
            record=("tag", f"{version.asset}@{name}"),
        )
    found = catalog.tag(version.asset, name)
    assert found is not None
    return TagResult(found)


def tags(repo: Repo, name: str | None = None) -> list[TagResult]:
    """Tags of one asset (by name or path) or of all."""
    from dvlin.ops.refs import resolve_asset

    return [
        TagResult(t)
        for t in repo.catalog.tags(resolve_asset(repo, name) if name is not None else None)
    ]
