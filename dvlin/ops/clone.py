"""``dvlin clone``: a new repo from a remote, with each asset's head checked out.

The remote's ``refs.json`` is read before anything is created (an empty or missing remote is
exit 3 and leaves nothing behind); the repo takes the remote's hash algorithm, adds it as
``origin``, fetches, and checks out unless asked not to. Any failure removes the new repo.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvlin.errors import ConflictError, UsageError
from dvlin.ops.pull import FetchResult, _expired, fetch
from dvlin.progress import Progress
from dvlin.remote.errors import RemoteMissingError
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.repo import Repo


@sealed
@dataclass(frozen=True, slots=True)
class CloneResult:
    """A new repo made from a remote."""

    root: str
    fetch: FetchResult
    checked_out: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"root": self.root, **self.fetch.to_dict(), "checked_out": list(self.checked_out)}


def clone(
    url: str,
    dest: str | os.PathLike[str] | None = None,
    *,
    options: Mapping[str, str] | None = None,
    no_checkout: bool = False,
    name: str = "origin",
    progress: Progress | None = None,
) -> CloneResult:
    """Make a new repo from the remote at ``url``; check out each asset's head unless asked not.

    Nothing is left behind when it fails: the repo folder is removed again.

    Raises:
        RemoteMissingError: nothing dvlin made is at ``url``.
        ConflictError: ``dest`` is already a dvlin repo.
    """
    from dvlin.ops import remote as remote_ops
    from dvlin.remote.refs import Refs
    from dvlin.remote.transport import Transport
    from dvlin.repo import DVLIN_DIR, Repo

    if dest is not None and not str(dest).strip():
        raise UsageError("empty folder name for the clone", hint="give a folder, or '.' for here")
    target = Path(dest) if dest is not None else Path(url.rstrip("/").rsplit("/", 1)[-1])
    target = target.resolve()
    url = remote_ops.local_url(url, root=target)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a folder", hint="clone into a folder")
    if (target / DVLIN_DIR).exists():
        raise ConflictError(f"{target} is already a dvlin repo", hint="clone into another folder")
    parsed = {k: remote_ops._parse_value(v) for k, v in (options or {}).items()}
    transport = Transport.open(url, parsed)
    found = transport.read_ref("refs.json")
    if found is None:
        raise RemoteMissingError(
            f"no dvlin remote at {url}", hint="check the URL, or push to it from a repo first"
        )
    refs = Refs.parse(found[0], url=url)
    created_root = not target.exists()
    repo = Repo.init(target, hash=refs.hash)
    try:
        remote_ops.add(repo, name, url, options=options, default=True)
        result = fetch(repo, remote=name, progress=progress)
        checked_out: list[str] = []
        if not no_checkout:
            checked_out = _checkout_heads(repo, progress)
    except BaseException:
        # Nothing half-made stays behind: the new repo goes, and its folder if clone made it.
        repo.close()
        shutil.rmtree(target / DVLIN_DIR, ignore_errors=True)
        if created_root:
            shutil.rmtree(target, ignore_errors=True)
        raise
    repo.close()
    return CloneResult(str(target), result, tuple(checked_out))


def _checkout_heads(repo: Repo, progress: Progress | None) -> list[str]:
    from dvlin.ops.checkout import checkout

    expired = _expired(repo)
    done = []
    for asset in repo.catalog.list_assets():
        if asset.latest_id is None or asset.latest_id in expired:
            continue
        result = checkout(repo, asset.name, progress=progress)
        done.append(result.version.label)
    return done
