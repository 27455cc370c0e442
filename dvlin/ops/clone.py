"""``dvlin clone``: a new repo from a remote, with each asset's head checked out.

The remote's ``refs.json`` is read before anything is created (an empty or missing remote is
exit 3 and leaves nothing behind); the repo takes the remote's hash algorithm, adds it as
``origin``, fetches, and checks out unless asked not to. Any failure removes the new repo.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvlin.errors import ConflictError, FileSystemError, UsageError
from dvlin.ops.fetch import FetchResult, expired_versions, fetch
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

    Nothing is left behind when it fails: the repo folder is removed again. A clone killed
    outright (SIGKILL, power loss) leaves its marker; running the same clone again resumes it.

    Raises:
        RemoteMissingError: nothing dvlin made is at ``url``.
        ConflictError: ``dest`` is already a dvlin repo.
    """
    from dvlin.config import DVLIN_DIR
    from dvlin.ops import remote as remote_ops
    from dvlin.remote.refs import Refs
    from dvlin.remote.transport import Transport
    from dvlin.repo import Repo

    if dest is not None and not str(dest).strip():
        raise UsageError("empty folder name for the clone", hint="give a folder, or '.' for here")
    target = Path(dest) if dest is not None else Path(url.rstrip("/").rsplit("/", 1)[-1])
    target = target.resolve()
    url = remote_ops.local_url(url, root=target)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a folder", hint="clone into a folder")
    marker = target / CLONE_MARKER
    unfinished = marker.is_file()  # a clone killed before it finished: resume it
    if unfinished:
        _check_marker(marker, url)
    elif (target / DVLIN_DIR).exists():
        raise ConflictError(f"{target} is already a dvlin repo", hint="clone into another folder")
    parsed = {k: remote_ops._parse_value(v) for k, v in (options or {}).items()}
    transport = Transport.open(url, parsed)
    found = transport.read_ref("refs.json")
    if found is None:
        raise RemoteMissingError(
            f"no dvlin remote at {url}", hint="check the URL, or push to it from a repo first"
        )
    refs = Refs.parse(found[0], url=url)
    created_root = _created_root(marker) if unfinished else not target.exists()
    repo: Repo | None = None
    try:
        # The marker goes first, so a clone killed at any point (even inside init) is
        # recognised, and its rerun resumes it instead of refusing a half-made repo.
        try:
            target.mkdir(parents=True, exist_ok=True)
            _write_marker(marker, url, created_root)
        except OSError as exc:
            raise FileSystemError.from_os(exc, action="create", path=target) from None
        for junk in target.glob(".dvlin.init-*"):
            shutil.rmtree(junk, ignore_errors=True)  # an init killed half-way
        if (target / DVLIN_DIR).is_dir():
            repo = Repo.open(target)
        else:
            repo = Repo.init(target, hash=refs.hash, chunker=_chunker(refs.chunker))
        if repo.config.remote(name) is None:
            remote_ops.add(repo, name, url, options=options, default=True)
        result = fetch(repo, remote=name, progress=progress)
        checked_out: list[str] = []
        if not no_checkout:
            checked_out = _checkout_heads(repo, progress)
        marker.unlink()
    except BaseException:
        # Nothing half-made stays behind: the new repo goes, and its folder if clone made it.
        if repo is not None:
            repo.close()
        shutil.rmtree(target / DVLIN_DIR, ignore_errors=True)
        with contextlib.suppress(OSError):
            marker.unlink(missing_ok=True)
        if created_root:
            shutil.rmtree(target, ignore_errors=True)
        raise
    repo.close()
    return CloneResult(str(target), result, tuple(checked_out))


CLONE_MARKER = ".dvlin.clone"
"""A file in the clone's folder while the clone is unfinished: its URL, and whether the clone
made the folder. A rerun of the same clone resumes; the finished clone removes it."""


def _write_marker(marker: Path, url: str, created_root: bool) -> None:
    import json

    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({"url": url, "created_root": created_root}))
    os.replace(tmp, marker)


def _read_marker(marker: Path) -> dict[str, Any]:
    import json

    try:
        found = json.loads(marker.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _created_root(marker: Path) -> bool:
    return bool(_read_marker(marker).get("created_root"))


def _check_marker(marker: Path, url: str) -> None:
    other = _read_marker(marker).get("url")
    if other != url:
        raise ConflictError(
            f"{marker.parent} holds an unfinished clone of {other or 'another remote'}",
            hint=f"rerun that clone to finish it, or remove {marker.parent} and clone again",
        )


def _checkout_heads(repo: Repo, progress: Progress | None) -> list[str]:
    from dvlin.ops.checkout import checkout

    expired = expired_versions(repo)
    done = []
    for asset in repo.catalog.list_assets():
        if asset.latest_id is None or asset.latest_id in expired:
            continue
        result = checkout(repo, asset.name, progress=progress)
        done.append(result.version.label)
    return done


def _chunker(recorded: str) -> str:
    """The chunker a clone cuts big files with: the one its remote records (the team's), the
    one every repo used before remotes recorded it when there is none, and this dvlin's
    default when it does not know the recorded one (a newer dvlin's)."""
    from dvlin.objects.cdc import CHUNKERS, DEFAULT_CHUNKER, LEGACY_CHUNKER

    if not recorded:
        return LEGACY_CHUNKER
    return recorded if recorded in CHUNKERS else DEFAULT_CHUNKER
