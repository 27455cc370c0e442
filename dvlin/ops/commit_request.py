"""A commit's arguments, checked once before any work: where the files are and what they become.

:func:`dvlin.ops.commit.commit` (and ``dvlin run`` for each output) parse a
:class:`CommitRequest`; :func:`dvlin.ops.commit.prepare` takes it as it is.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dvlin.errors import NotFoundError, UsageError
from dvlin.ops.common import check_asset_name, check_kind, check_tag_name
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.repo import Repo


@sealed
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


@sealed
@dataclass(frozen=True, slots=True)
class CommitRequest:
    """What to commit and how, validated: build it with :meth:`parse`."""

    layout: Layout
    name: str
    """The asset: ``--name``, else the asset owning the paths, else the path itself."""
    message: str = ""
    kind: str | None = None
    tags: tuple[str, ...] = ()
    meta: Mapping[str, str] = field(default_factory=dict)
    force: bool = False
    """Commit although the asset's contract fails (with ``reason``)."""
    reason: str | None = None
    follow_links: bool = False

    @classmethod
    def parse(
        cls,
        repo: Repo,
        paths: Sequence[str | os.PathLike[str]],
        *,
        name: str | None = None,
        message: str = "",
        kind: str | None = None,
        tags: Sequence[str] = (),
        meta: Mapping[str, str] | None = None,
        force: bool = False,
        reason: str | None = None,
        overlap: bool = False,
        follow_links: bool = False,
    ) -> CommitRequest:
        """Validate a commit's arguments before any work.

        ``overlap`` allows a path inside another asset's folder (or containing one) to
        become an asset of its own.

        Raises:
            UsageError: no paths, a symlink, nested paths, a bad name, kind or tag.
            NotFoundError: a path that does not exist.
            ConflictError: a path another asset owns (without ``overlap``).
        """
        from dvlin.ops.refs import asset_for_paths

        check_override(force=force, reason=reason)  # --force needs --reason: checked here only
        layout, default_name = layout_of(repo, paths)
        rels = [r if layout.base == "." else posixpath.join(layout.base, r) for r in layout.roots]
        # A path that belongs to an asset (its contract's path, or where it was committed) is
        # that asset: leaving out --name must never commit it as a new asset beside its contract.
        owner = asset_for_paths(repo, rels, name=name or None, overlap=overlap)
        if name is None:  # an empty --name is a bad name, not a missing one
            name = owner or default_name
            if not name or name == ".":
                raise UsageError("an asset name is needed for these paths", hint="pass --name NAME")
        check_asset_name(name)
        from dvlin.ops.asset import refuse_old_name

        refuse_old_name(repo, name)  # old refs must keep naming the renamed asset
        repeated = sorted({t for t in tags if list(tags).count(t) > 1})
        if repeated:
            raise UsageError(
                f"tag {repeated[0]!r} is given more than once", hint="give each --tag once"
            )
        for t in tags:
            check_tag_name(t)
        if kind is not None:
            check_kind(kind)
        return cls(
            layout=layout,
            name=name,
            message=message,
            kind=kind,
            tags=tuple(tags),
            meta=dict(meta or {}),
            force=force,
            reason=reason,
            follow_links=follow_links,
        )


def check_override(*, force: bool, reason: str | None) -> None:
    """``--force`` (commit despite a failed contract) needs a ``--reason``, and only it does.

    The one place this is checked: :meth:`CommitRequest.parse`, before any work (here, not
    in :mod:`dvlin.ops.check`, whose policy modules a commit without contracts never loads).
    """
    if force and not (reason and reason.strip()):
        raise UsageError(
            "--force needs --reason", hint='e.g. --force --reason "backfill, DATA-231"'
        )
    if reason and not force:
        raise UsageError("--reason only applies with --force", hint="add --force, or drop --reason")
