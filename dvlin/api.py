"""The Python API: :class:`Repo`, a repository with the verbs as typed methods.

``dvlin.Repo.init(path)`` / ``dvlin.Repo.open(path)`` return this class. It sits at the top
of the layers, beside the CLI: the core :class:`dvlin.repo.Repo` (opening, the lock, the
unit of work, paths) knows nothing of the verbs, and each method here calls one function of
``dvlin.ops`` and returns its frozen dataclass.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dvlin import repo

if TYPE_CHECKING:
    from dvlin.catalog import Version
    from dvlin.catalog.versions import Tag
    from dvlin.ops.checkout import CheckoutResult, LinkMode
    from dvlin.ops.commit import CommitResult
    from dvlin.ops.log import FileRow, VersionDetail
    from dvlin.ops.status import StatusReport
    from dvlin.progress import Progress

__all__ = ["Repo"]


class Repo(repo.Repo):
    """An open dvlin repository with its verbs: commit, status, checkout, log, show, tag …"""

    # The ops are imported on first use: `import dvlin` stays cheap for scripts that only
    # open a repo or read through dvlin://.

    def commit(
        self,
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
        """Snapshot ``paths`` as a new version; see :func:`dvlin.ops.commit.commit`."""
        from dvlin.ops.commit import commit

        return commit(
            self,
            paths,
            name=name,
            message=message,
            kind=kind,
            tags=tags,
            meta=meta,
            progress=progress,
            force=force,
            reason=reason,
            overlap=overlap,
            follow_links=follow_links,
        )

    def status(
        self, names: Sequence[str] = (), *, progress: Progress | None = None
    ) -> StatusReport:
        """Compare the workspace with each asset's version; see :func:`dvlin.ops.status.status`."""
        from dvlin.ops.status import status

        return status(self, names, progress=progress)

    def checkout(
        self,
        ref: str,
        paths: Sequence[str] = (),
        *,
        to: str | os.PathLike[str] | None = None,
        link: LinkMode = "copy",
        force: bool = False,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> CheckoutResult:
        """Materialise a version; see :func:`dvlin.ops.checkout.checkout`."""
        from dvlin.ops.checkout import checkout

        return checkout(
            self, ref, paths, to=to, link=link, force=force, dry_run=dry_run, progress=progress
        )

    def log(self, name: str | None = None, *, limit: int | None = None) -> list[Version]:
        """Versions newest first, of one asset or of all."""
        from dvlin.ops.log import log

        return log(self, name, limit=limit)

    def resolve(self, ref: str) -> Version:
        """The version a ref names; see :func:`dvlin.ops.refs.resolve`."""
        from dvlin.ops.refs import resolve

        return resolve(self, ref)

    def show(self, ref: str) -> VersionDetail:
        """A version with its tags and recorded table and array details."""
        from dvlin.ops.log import show

        return show(self, ref)

    def files(self, ref: str) -> list[FileRow]:
        """The files of a version."""
        from dvlin.ops.log import files

        return files(self, ref)

    def tag(self, ref: str, name: str, *, retain: str | None = None) -> Tag:
        """Name a version; see :func:`dvlin.ops.tag.tag`."""
        from dvlin.ops.tag import tag

        return tag(self, ref, name, retain=retain).tag
