"""Inputs of a run: refs and tracked paths as versions, and making the workspace hold them.

A run records which versions it read; the command reads the asset folders. So an input ref is
true only when the folder holds that version unchanged: ``ensure_in_workspace`` checks it
(the stat cache answers without reading unchanged files) or checks the version out.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dvlin.catalog import Version
from dvlin.errors import ConflictError, NotFoundError
from dvlin.ops.refs import check_live, resolve_live

if TYPE_CHECKING:
    from dvlin.repo import Repo


def resolve_inputs(
    repo: Repo,
    refs: Sequence[str],
    *,
    commit_inputs: bool = False,
    in_workspace: bool = False,
    checkout_inputs: bool = False,
) -> list[Version]:
    """Each input as a version: a ref, or a tracked path whose folder is clean (or committed
    first with ``commit_inputs``). An expired version is refused.

    With ``in_workspace`` (``dvlin run``, ``repro``) the command reads the inputs from the
    asset folders, so the record is true only if each folder holds exactly the version the
    ref names: it must already (the stat cache tells), or ``checkout_inputs`` checks it out.

    Raises:
        ConflictError: an input folder holds another version or uncommitted changes (exit 5),
            or an input version is expired.
    """
    found: list[Version] = []
    for ref in refs:
        if "@" not in ref and os.path.lexists(ref):
            found.append(_input_from_path(repo, ref, commit_inputs=commit_inputs))
        else:
            version = resolve_live(repo, ref, action="use as an input")
            if in_workspace:
                ensure_in_workspace(repo, version, checkout=checkout_inputs)
            found.append(version)
    unique: dict[str, Version] = {v.id: v for v in found}
    return list(unique.values())


def ensure_in_workspace(repo: Repo, version: Version, *, checkout: bool = False) -> None:
    """Make sure the asset's folder holds ``version`` unchanged, checking it out if asked.

    Raises:
        ConflictError: the folder holds another version or uncommitted changes and
            ``checkout`` is off (or checking out would lose those changes).
    """
    from dvlin.ops.status import status as status_of

    folder = version.base
    current = repo.catalog.workspace_version(version.asset)
    if current == version.id:
        asset_status = status_of(repo, [version.asset]).assets[0]
        if asset_status.diff.clean:
            return
        if not checkout:
            c = asset_status.diff.counts()
            raise ConflictError(
                f"input {version.label}: {folder} has uncommitted changes "
                f"({c['added']} added, {c['changed']} changed, {c['removed']} removed)",
                hint="commit them (and name the new version), or discard them with "
                f"dvlin checkout --force {version.label}",
            )
    elif not checkout:
        held = repo.catalog.version(current) if current else None
        holds = f"holds {held.label}" if held is not None else "does not hold it"
        raise ConflictError(
            f"input {version.label} is not in the workspace: {folder} {holds}",
            hint=f"check it out first (dvlin checkout {version.label}), or pass --checkout-inputs",
        )
    from dvlin.ops.checkout import checkout as checkout_version

    checkout_version(repo, version.id)  # refuses (exit 5) to overwrite uncommitted changes


def _input_from_path(repo: Repo, path: str, *, commit_inputs: bool) -> Version:
    from dvlin.ops.commit import commit
    from dvlin.ops.refs import asset_at
    from dvlin.ops.status import status

    asset = asset_at(repo, path)
    if asset is not None and repo.catalog.get_asset_kind(asset) is None:
        asset = None  # a contract whose asset has no versions yet
    if asset is None:
        if commit_inputs:
            return commit(repo, [path]).version
        raise NotFoundError(
            f"input {path} is not a tracked asset",
            hint=f"commit it first (dvlin commit {path}), or pass --commit-inputs",
        )
    report = status(repo, [asset])
    st = report.assets[0]
    if not st.diff.clean:
        if not commit_inputs:
            raise ConflictError(
                f"input {path} ({asset}) has uncommitted changes",
                hint="commit them first, or pass --commit-inputs",
            )
        # Commit the whole asset where it lives, even when the input named a file inside it.
        v = st.version
        places = [v.base if r == "." else posixpath.join(v.base, r) for r in v.roots]
        return commit(repo, [repo.root / p for p in places], name=asset).version
    return check_live(repo, st.version, action="use as an input")
