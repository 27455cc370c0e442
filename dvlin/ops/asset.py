"""Assets by name or by path, and the verbs that manage them as a whole.

``rm`` untracks an asset (its versions stay, under retention as before); ``mv`` renames it,
keeping the old name as an alias so old refs and lineage still resolve; ``delete_tag``
removes a tag on purpose. Each is one audited transaction, then ``dvlin.lock`` is rewritten.
"""

from __future__ import annotations

import difflib
import os
import posixpath
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.catalog.assets import AssetStore
from dvlin.errors import ConflictError, NotFoundError, UsageError
from dvlin.identity import author, utc_now
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.catalog.catalog import Asset
    from dvlin.ops.tag import TagResult
    from dvlin.repo import Repo


def asset_paths(asset: Asset) -> list[str]:
    """The repo-relative paths an asset's files live under (its roots inside its base)."""
    return [
        asset.base if root == "." else posixpath.normpath(posixpath.join(asset.base, root))
        for root in asset.roots
    ]


def asset_name(repo: Repo, text: str) -> str:
    """The asset ``text`` names: an asset name, or a path the asset was committed from.

    Raises:
        NotFoundError: neither an asset nor the path of one (with close names as a hint).
    """
    catalog = repo.catalog
    if catalog.get_asset_kind(text) is not None:
        return text
    renamed = AssetStore(catalog).alias_target(text)
    if renamed is not None:
        return renamed
    try:
        rel = repo.relpath(text)
    except UsageError:
        rel = None
    if rel is not None:
        rel = rel or "."
        for asset in catalog.list_assets():
            if rel in asset_paths(asset):
                return asset.name
    close = difflib.get_close_matches(text, catalog.asset_names(), n=5, cutoff=0.5)
    raise NotFoundError(
        f"unknown asset {text!r}",
        hint=f"did you mean: {', '.join(close)}" if close else "`dvlin ls` lists assets",
        candidates=close,
    )


def refuse_old_name(repo: Repo, name: str) -> None:
    """Refuse ``name`` for a new asset when it is an old name ``dvlin mv`` kept.

    Raises:
        ConflictError: refs to ``name`` resolve to the renamed asset; a new asset under it
            would silently take them over.
    """
    if repo.catalog.get_asset_kind(name) is not None:
        return
    renamed = AssetStore(repo.catalog).alias_target(name)
    if renamed is not None:
        raise ConflictError(
            f"{name} is an old name of {renamed} (refs to it resolve there)",
            hint=f"commit to {renamed}, or choose another name",
        )


def asset_names(repo: Repo, texts: list[str] | tuple[str, ...]) -> list[str]:
    """:func:`asset_name` of each argument, without duplicates, in the order given."""
    seen: dict[str, None] = {}
    for text in texts:
        seen[asset_name(repo, text.rstrip(os.sep) or text)] = None
    return list(seen)


@sealed
@dataclass(frozen=True, slots=True)
class RemoveResult:
    """What ``dvlin rm`` did."""

    asset: str
    versions: int
    paths: tuple[str, ...]
    """The asset's paths in the repo."""
    deleted_files: bool

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "asset": self.asset,
            "versions": self.versions,
            "paths": list(self.paths),
            "deleted_files": self.deleted_files,
        }


def rm(repo: Repo, text: str, *, keep_files: bool = False, force: bool = False) -> RemoveResult:
    """Stop tracking an asset; delete its files too unless ``keep_files``.

    Its versions, tags and lineage stay (``NAME@vN`` and ids still resolve) until retention
    expires them; committing the name again tracks it anew.

    Raises:
        ConflictError: the files have uncommitted changes (deleting would lose them).
        UsageError: deleting the files of an asset at the repo root.
    """
    from dvlin.ops import lock
    from dvlin.ops.status import asset_status

    with repo.lock():
        catalog = repo.catalog
        name = asset_name(repo, text)
        if AssetStore(catalog).is_removed(name):
            raise NotFoundError(
                f"{name} is not tracked (dvlin rm untracked it)",
                hint=f"its versions remain: `dvlin log {name}`; committing it tracks it again",
            )
        asset = next(a for a in catalog.list_assets(include_removed=True) if a.name == name)
        paths = tuple(asset_paths(asset))
        if not keep_files:
            if "." in paths:
                raise UsageError(
                    f"{name} is the whole repo; refusing to delete its files",
                    hint="use --keep-files to untrack it and keep the files",
                )
            state, _, _ = asset_status(repo, name)
            # Paths already gone lose nothing; added or edited ones would be lost.
            changed = [*state.diff.added, *state.diff.changed]
            if changed and not force:
                shown = ", ".join(changed[:10]) + (
                    f" and {len(changed) - 10} more" if len(changed) > 10 else ""
                )
                raise ConflictError(
                    f"{name} has uncommitted changes that rm would delete: {shown}",
                    hint="commit them, use --keep-files, or --force to delete them anyway",
                    paths=changed,
                )
        versions = len(catalog.versions(name))
        with repo.change("rm", name) as tx:
            AssetStore(catalog).mark_removed(name, at=utc_now())
            tx.audit(
                details={"versions": versions, "paths": list(paths), "keep_files": keep_files},
            )
        if not keep_files:
            for rel in paths:
                _delete(repo.root / rel)
        lock.sync(repo)
    return RemoveResult(name, versions, paths, deleted_files=not keep_files)


def _delete(path: os.PathLike[str]) -> None:
    """Remove a file, link or folder without following links out of it."""
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


@sealed
@dataclass(frozen=True, slots=True)
class MoveResult:
    """What ``dvlin mv`` did."""

    old: str
    new: str
    versions: int

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"from": self.old, "to": self.new, "versions": self.versions}


def mv(repo: Repo, text: str, new: str) -> MoveResult:
    """Rename an asset; the old name stays an alias, so ``old@v3`` still resolves.

    Files do not move (an asset's path is not its name). Contracts in ``dvlin.toml`` are keyed
    by name: one for ``old`` must be renamed to ``new`` by hand first, or the asset would
    lose it.

    Raises:
        ConflictError: ``new`` names another asset, or an alias of another asset, or
            ``dvlin.toml`` still has the contract under ``old``.
    """
    from dvlin.ops import lock
    from dvlin.ops.common import check_asset_name

    check_asset_name(new)
    with repo.lock():
        catalog = repo.catalog
        old = asset_name(repo, text)
        store = AssetStore(catalog)
        if old == new:
            raise UsageError(f"{old} is already called {new}")
        if catalog.get_asset_kind(new) is not None:
            if store.is_removed(new):
                raise ConflictError(
                    f"asset {new} exists (untracked, its versions remain)",
                    hint="choose another name",
                )
            raise ConflictError(f"asset {new} exists", hint="choose another name, or rm it first")
        _refuse_orphaned_contract(repo, old, new)
        taken = store.alias_target(new)
        if taken is not None and taken != old:
            raise ConflictError(
                f"{new} is an old name of {taken} (refs to it resolve there)",
                hint="choose another name",
            )
        moved = catalog.versions(old)
        versions = len(moved)
        tags = [t.name for t in catalog.tags(old)]
        with repo.change("mv", old) as tx:
            store.rename(old, new, at=utc_now(), author=author())
            tx.audit(details={"to": new, "versions": versions})
            # The rows now carry the new name: the chain records each as it now is, and each
            # tag as gone under its old key and present under its new one.
            for v in moved:
                tx.audit(
                    target=f"{new}@v{v.number}",
                    details={"from": f"{old}@v{v.number}"},
                    record=("version", v.id),
                )
            for t in tags:
                tx.audit(
                    target=f"{old}@{t}", details={"to": f"{new}@{t}"}, record=("tag", f"{old}@{t}")
                )
                tx.audit(
                    target=f"{new}@{t}",
                    details={"from": f"{old}@{t}"},
                    record=("tag", f"{new}@{t}"),
                )
        lock.sync(repo)
    return MoveResult(old, new, versions)


def _refuse_orphaned_contract(repo: Repo, old: str, new: str) -> None:
    """Contracts are keyed by name: renaming the asset alone would leave it unguarded."""
    from dvlin.policy.config import load_policy

    policy = load_policy(repo.root)
    if policy.get(old) is not None and policy.get(new) is None:
        raise ConflictError(
            f"dvlin.toml has a contract for {old}; renaming only the asset would leave "
            f"{new} without it",
            hint=f"rename [assets.{old}] to [assets.{new}] in dvlin.toml, then run mv again",
        )


def delete_tag(repo: Repo, ref: str, name: str) -> TagResult:
    """Delete tag ``name`` of the asset ``ref`` names (tags never move; this removes one).

    When ``ref`` names a version (``events@v1``), the tag must be on that version.

    Raises:
        NotFoundError: the asset has no such tag.
        ConflictError: the tag is on another version than ``ref`` names.
    """
    from dvlin.ops.refs import resolve
    from dvlin.ops.tag import TagResult

    with repo.lock():
        catalog = repo.catalog
        version = resolve(repo, ref)
        found = catalog.tag(version.asset, name)
        if found is None:
            known = [t.name for t in catalog.tags(version.asset)]
            raise NotFoundError(
                f"{version.asset} has no tag {name!r}",
                hint=f"its tags: {', '.join(known)}" if known else "it has no tags",
                candidates=known,
            )
        if "@" in ref and found.version != version.id:
            raise ConflictError(
                f"tag {version.asset}@{name} is on v{found.number}, not {version.label}",
                hint=f"dvlin tag --delete {version.asset}@v{found.number} {name}",
            )
        with repo.change("tag-delete", f"{version.asset}@{name}") as tx:
            AssetStore(catalog).delete_tag(version.asset, name)
            tx.audit(
                details={"version": found.version, "number": found.number},
                record=("tag", f"{version.asset}@{name}"),
            )
    return TagResult(found, deleted=True)
