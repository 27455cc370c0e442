"""``dvlin remote add / list / remove / show``, and opening a configured remote."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.catalog.remotes import RemoteState
from dvlin.config import RemoteConfig, save_config
from dvlin.errors import ConflictError, UsageError
from dvlin.remote.errors import RemoteAccessError, UnknownRemoteError
from dvlin.remote.layout import group_prefix, parse_segment_ref
from dvlin.remote.options import check_url, option_kwargs
from dvlin.remote.transport import Transport
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.remote.refs import Refs
    from dvlin.remote.segments import Segment
    from dvlin.remote.store import RemoteStore
    from dvlin.repo import Repo

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


@sealed
@dataclass(frozen=True, slots=True)
class RemoteInfo:
    """A configured remote, and (for ``show``) what it holds and what is not pushed yet."""

    name: str
    url: str
    default: bool
    options: dict[str, Any] = field(default_factory=dict)
    heads: dict[str, int] = field(default_factory=dict)
    """Asset → version number of its head on the remote (``show`` only)."""
    holds: dict[str, int] = field(default_factory=dict)
    """Record kind → how many the remote holds, and ``objects`` (``show`` only)."""
    unpushed: dict[str, int] = field(default_factory=dict)
    """Asset → how many local versions the remote lacks (``show`` only)."""
    behind: dict[str, int] = field(default_factory=dict)
    """Asset → how many remote versions this clone lacks (``show`` only)."""
    no_access: dict[str, str] = field(default_factory=dict)
    """Storage group → prefix the store refused to this clone (``show`` only)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "name": self.name,
            "url": self.url,
            "default": self.default,
            "options": dict(self.options),
            "heads": dict(self.heads),
            "holds": dict(self.holds),
            "unpushed": dict(self.unpushed),
            "behind": dict(self.behind),
            "no_access": dict(self.no_access),
        }


def _info(r: RemoteConfig) -> RemoteInfo:
    return RemoteInfo(r.name, r.url, r.default, dict(r.options))


def _parse_value(value: str) -> Any:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def add(
    repo: Repo,
    name: str,
    url: str,
    *,
    options: Mapping[str, str] | None = None,
    default: bool = False,
    groups: Mapping[str, str] | None = None,
) -> RemoteInfo:
    """Add a remote to ``.dvlin/config.toml`` (nothing is contacted).

    ``groups`` keeps storage groups in other stores (``pii=s3://pii-bucket/dvlin``).

    Raises:
        UsageError: a bad name or URL, or an option that looks like a secret.
        ConflictError: a remote of that name exists.
    """
    if not _NAME.match(name):
        raise UsageError(
            f"invalid remote name {name!r}", hint="use letters, digits, '_', '.' and '-'"
        )
    url = local_url(url, root=repo.root)
    groups = {g: local_url(u, root=repo.root) for g, u in (groups or {}).items()}
    parsed = {k: _parse_value(v) for k, v in (options or {}).items()}
    option_kwargs(parsed)  # refuses secret-like options before anything is written
    config = repo.config
    if any(r.name == name for r in config.remotes):
        raise ConflictError(
            f"remote {name} exists", hint=f"`dvlin remote remove {name}` first, or pick a name"
        )
    remotes = tuple(
        RemoteConfig(r.name, r.url, r.options, r.default and not default, r.groups)
        for r in config.remotes
    )
    new = RemoteConfig(name, url, parsed, default or not config.remotes, dict(groups or {}))
    with repo.lock():
        repo.config = config.with_remotes((*remotes, new))
        save_config(repo.dvlin_dir / "config.toml", repo.config)
    return _info(new)


def local_url(url: str, *, root: str | os.PathLike[str] | None = None) -> str:
    """``url`` checked; a folder given as a relative path becomes absolute (cwd-independent).

    Raises:
        UsageError: an empty URL, an unsupported protocol, a path that is a file, or a folder
            inside the repo at ``root`` (its workspace, its ``.dvlin`` or the repo itself).
    """
    from pathlib import Path

    if not url.strip():
        raise UsageError("empty remote URL", hint="give a URL: s3://bucket/prefix or a folder")
    if check_url(url) != "file":
        return url
    raw = url[len("file://") :] if url.startswith("file://") else url
    path = Path(os.path.abspath(os.path.expanduser(raw)))
    if path.exists() and not path.is_dir():
        raise UsageError(f"remote {url!r} is a file, not a folder", hint="give a folder")
    if root is not None:
        top = Path(os.path.abspath(root))
        if path == top or top in path.parents:
            raise UsageError(
                f"remote {url!r} is inside the repo {top}",
                hint="put the remote outside the repo, e.g. next to it",
            )
    return url if url.startswith("file://") and raw == str(path) else str(path)


def list_remotes(repo: Repo) -> list[RemoteInfo]:
    """Every configured remote, by name."""
    return [_info(r) for r in repo.config.remotes]


def get(repo: Repo, name: str | None) -> RemoteConfig:
    """The remote called ``name`` (the default one when None).

    Raises:
        UnknownRemoteError: no such remote, or no default.
    """
    found = repo.config.remote(name)
    if found is None:
        known = ", ".join(r.name for r in repo.config.remotes)
        if name is None:
            raise UnknownRemoteError(
                "no default remote",
                hint="add one: dvlin remote add origin URL --default"
                + (f" (configured: {known})" if known else ""),
            )
        raise UnknownRemoteError(
            f"unknown remote {name!r}",
            hint=f"configured: {known}" if known else "add one: dvlin remote add NAME URL",
        )
    return found


def remove(repo: Repo, name: str) -> RemoteInfo:
    """Remove a remote from the config and forget what this clone knew of it."""
    found = get(repo, name)
    with repo.lock():
        rest = tuple(r for r in repo.config.remotes if r.name != name)
        repo.config = repo.config.with_remotes(rest)
        save_config(repo.dvlin_dir / "config.toml", repo.config)
        with repo.change("remote", name) as tx, tx.unaudited():
            RemoteState(repo.catalog).forget(name)
        shutil.rmtree(cache_dir(repo, name), ignore_errors=True)
    return _info(found)


def cache_dir(repo: Repo, name: str) -> Any:
    """This clone's cache of a remote: segments and the upload journal."""
    return repo.dvlin_dir / "remotes" / name


def open_remote(repo: Repo, name: str | None = None) -> RemoteStore:
    """The configured remote ``name`` (default when None), ready for transfers."""
    from dvlin.remote.store import RemoteStore

    found = get(repo, name)
    transport = Transport.open(found.url, found.options)
    store = RemoteStore(
        found.name,
        transport,
        algorithm=repo.config.hash,
        cache=cache_dir(repo, found.name),
        options=found.options,
    )
    store.route_groups(dict(found.groups))
    return store


@dataclass
class RemoteView:
    """The remote's refs as just read, and segments this clone had not seen before."""

    refs: Refs | None
    token: str | None
    new: list[tuple[str, Segment]]
    no_access: dict[str, str] = field(default_factory=dict)
    """Storage group → the prefix the store refused; its records were skipped."""


def refresh(repo: Repo, remote: RemoteStore) -> RemoteView:
    """Read the remote's refs and note the records of segments not seen before.

    One request when nothing changed; one more per new segment (segments are cached).
    The caller holds the repo lock.
    """
    found = remote.read_refs()
    if found is None:
        return RemoteView(None, None, [])
    refs, token = found
    _remember_groups(repo, remote.name, refs.groups)
    state = RemoteState(repo.catalog)
    seen = state.segments(remote.name)
    new: list[tuple[str, Segment]] = []
    no_access: dict[str, str] = {}
    for ref in refs.segments:
        if ref in seen:
            continue
        group, _ = parse_segment_ref(ref)
        if group in no_access:
            continue
        try:
            new.append((ref, remote.read_segment(ref)))
        except RemoteAccessError:
            if group is None:
                raise
            # A storage group this clone may not read: everything else still syncs.
            no_access[group] = group_prefix(group)
    if new:
        # What the remote holds (applied later, by fetch): bookkeeping, no audit entry.
        with repo.change("fetch", remote.name) as tx, tx.unaudited():
            for sid, segment in new:
                state.add_segment(
                    remote.name,
                    sid,
                    segment.records,
                    {o: (loc.file, loc.offset, loc.size) for o, loc in segment.objects.items()},
                    applied=False,
                )
    return RemoteView(refs, token, new, no_access)


def _remember_groups(repo: Repo, name: str, groups: dict[str, str]) -> None:
    """Keep in the config where the remote says its storage groups live (no request later)."""
    found = repo.config.remote(name)
    if found is None or all(found.groups.get(g) == u for g, u in groups.items()):
        return
    updated = RemoteConfig(
        found.name, found.url, found.options, found.default, {**groups, **found.groups}
    )
    rest = tuple(r for r in repo.config.remotes if r.name != name)
    repo.config = repo.config.with_remotes((*rest, updated))
    save_config(repo.dvlin_dir / "config.toml", repo.config)


def show(repo: Repo, name: str | None) -> RemoteInfo:
    """A remote with its heads, what it holds, and how this clone differs from it."""
    found = get(repo, name)
    remote = open_remote(repo, found.name)
    with repo.lock():
        view = refresh(repo, remote)
    state = RemoteState(repo.catalog)
    heads = {a: h.number for a, h in (view.refs.heads.items() if view.refs else ())}
    remote_versions = state.records(found.name, "version")
    unpushed: dict[str, int] = {}
    behind: dict[str, int] = {}
    local_ids = set()
    for v in repo.catalog.versions():
        local_ids.add(v.id)
        if v.id not in remote_versions:
            unpushed[v.asset] = unpushed.get(v.asset, 0) + 1
    for vid, value in remote_versions.items():
        if vid not in local_ids and value:
            asset = value.rsplit("|", 1)[0]
            behind[asset] = behind.get(asset, 0) + 1
    return RemoteInfo(
        found.name,
        found.url,
        found.default,
        dict(found.options),
        heads=heads,
        holds=state.counts(found.name),
        unpushed=unpushed,
        behind=behind,
        no_access=view.no_access,
    )
