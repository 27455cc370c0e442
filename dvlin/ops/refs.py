"""Resolve refs and asset names — the one resolver every command uses.

A ref is ``NAME``, ``NAME@latest``, ``NAME@vN``, ``NAME@TAG``, ``NAME@~N`` or an id prefix, and
``NAME`` may also be the asset's path (``data/events``, ``./data/events/``, absolute, or via
``..`` from a subfolder): a path that a contract in ``dvlin.toml`` or an existing asset covers
names that asset, so leaving out ``--name`` never creates a second asset beside it.
"""

from __future__ import annotations

import difflib
import os
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dvlin.catalog import Catalog, Version
from dvlin.catalog.assets import AssetStore
from dvlin.errors import AmbiguousRefError, ConflictError, NotFoundError, UsageError
from dvlin.ids import VERSION_ID_LENGTH, is_hex, parse_version_id
from dvlin.values import sealed

if TYPE_CHECKING:
    from pathlib import Path

    from dvlin.repo import Repo

MIN_PREFIX = 6
_NUMBER = re.compile(r"^v(\d+)$")
_BACK = re.compile(r"^~(\d+)$")


@sealed
@dataclass(frozen=True, slots=True)
class Place:
    """A path (relative to the repo root, ``.`` for the root) that belongs to an asset."""

    asset: str
    path: str
    contract: bool
    """True when the place comes from ``path`` in the asset's ``dvlin.toml`` contract."""

    def covers(self, rel: str) -> bool:
        """True when ``rel`` is this place or inside it."""
        return _inside(rel, self.path)


def _inside(rel: str, folder: str) -> bool:
    return folder == "." or rel == folder or rel.startswith(folder + "/")


POLICY_FILE = "dvlin.toml"
"""The contracts' file (``dvlin.policy.config.POLICY_FILE``, which a test checks it equals)."""


def has_contracts(root: Path) -> bool:
    """False when ``root`` has no ``dvlin.toml``: no contract, and no need to import the policy
    modules (~10 ms of every commit) to read one."""
    return os.path.lexists(root / POLICY_FILE)


def places(repo: Repo) -> list[Place]:
    """Where every asset lives: contract paths from ``dvlin.toml`` and committed layouts."""
    found: list[Place] = []
    if has_contracts(repo.root):
        from dvlin.policy.config import load_policy

        for name, policy in load_policy(repo.root).assets.items():
            if policy.path:
                found.append(Place(name, _normal(policy.path), True))
    for a in repo.catalog.list_assets():
        for r in a.roots:
            path = a.base if r == "." else (r if a.base == "." else f"{a.base}/{r}")
            found.append(Place(a.name, _normal(path), False))
    return found


def _normal(path: str) -> str:
    return posixpath.normpath(path.replace(os.sep, "/")).lstrip("/") or "."


def owners(repo: Repo, rel: str, *, known: Sequence[Place] | None = None) -> list[Place]:
    """The places that cover the repo path ``rel``, most specific first (contracts first among
    equals)."""
    covering = [p for p in (places(repo) if known is None else known) if p.covers(rel)]
    deepest = sorted(covering, key=lambda p: (-_depth(p.path), not p.contract, p.asset))
    return deepest


def _depth(path: str) -> int:
    return 0 if path == "." else path.count("/") + 1


def _looks_like_path(text: str) -> bool:
    return (
        text.startswith((".", "/"))
        or text.endswith("/")
        or os.sep in text
        or "/" in text
        or os.path.lexists(text)
    )


def asset_at(repo: Repo, path: str) -> str | None:
    """The asset whose place ``path`` (relative to the working folder, or absolute) is or is
    inside, the most specific one first; None when no asset covers it or it is outside the
    repo."""
    try:
        rel = _normal(repo.relpath(path))
    except UsageError:
        return None
    found = owners(repo, rel)
    if not found:
        return None
    best = found[0]
    rivals = {p.asset for p in found if p.path == best.path and p.contract == best.contract}
    if len(rivals) > 1:
        raise ConflictError(
            f"{path} belongs to several assets: {', '.join(sorted(rivals))}",
            hint="name the asset instead of its path",
        )
    return best.asset


def resolve_asset(repo: Repo, text: str) -> str:
    """The asset name ``text`` names: an asset's name, or a path that an asset covers.

    Raises:
        NotFoundError: no such asset, and no asset at that path (with close candidates).
    """
    text = text.strip()
    if not text:
        raise UsageError("empty asset name", hint="e.g. events or data/events")
    catalog = repo.catalog
    if catalog.get_asset_kind(text) is not None:
        return text
    from dvlin.catalog.assets import AssetStore

    renamed = AssetStore(catalog).alias_target(text)  # an old name `dvlin mv` kept
    if renamed is not None:
        return renamed
    if _looks_like_path(text):
        found = asset_at(repo, text)
        if found is not None:
            return found
    from dvlin.policy.config import load_policy

    if load_policy(repo.root).get(text) is not None:
        return text  # a contract without versions yet: callers say "has no versions"
    close = difflib.get_close_matches(text, catalog.asset_names(), n=5, cutoff=0.5)
    raise NotFoundError(
        f"unknown asset {text!r}",
        hint=f"did you mean: {', '.join(close)}" if close else "`dvlin ls` lists assets",
        candidates=close,
    )


def asset_for_paths(
    repo: Repo, rels: Sequence[str], *, name: str | None, overlap: bool = False
) -> str | None:
    """The asset that committing the repo paths ``rels`` writes to, or None when no asset owns
    them (the caller then names a new asset).

    A path that is an asset's place (from its contract or an earlier commit) belongs to that
    asset. Committing it under another ``name`` is refused, and so is a path that lies inside
    another asset's place or contains one, unless ``overlap`` asks for that explicitly.

    Raises:
        ConflictError: ``name`` is not the asset that owns a path, two assets own it, or the
            paths overlap another asset without ``overlap``.
    """
    known = places(repo)
    chosen: set[str] = set()
    unowned = False
    for rel in rels:
        rel = _normal(rel)
        exact = [p for p in known if p.path == rel]
        contracts = {p.asset for p in exact if p.contract}
        owning = contracts or {p.asset for p in exact}
        if name is not None and owning and name not in {p.asset for p in exact}:
            owner = sorted(owning)[0]
            raise ConflictError(
                f"{rel} is the path of asset {owner}, not {name}",
                hint=f"commit it as {owner} (drop --name), or move the files for {name} elsewhere",
            )
        if name is None and len(owning) > 1:
            raise ConflictError(
                f"{rel} is the path of several assets: {', '.join(sorted(owning))}",
                hint="pass --name with the one you mean",
            )
        chosen |= owning if name is None else {name}
        unowned = unowned or not owning
    if name is None and len(chosen) > 1:
        raise ConflictError(
            f"these paths belong to different assets: {', '.join(sorted(chosen))}",
            hint="commit each asset on its own",
        )
    if name is None and chosen and unowned:
        raise ConflictError(
            f"some of these paths belong to asset {next(iter(chosen))} and some to none",
            hint="pass --name to say which asset they make, or commit them apart",
        )
    target = name or (next(iter(chosen)) if chosen else None)
    if overlap:
        return target
    for rel in map(_normal, rels):
        for p in known:
            if p.asset == target or p.path == rel:
                continue
            if _inside(rel, p.path):
                raise ConflictError(
                    f"{rel} is inside asset {p.asset} ({p.path})",
                    hint=f"commit {p.path} as {p.asset}, or pass --allow-overlap "
                    "to version it as an asset of its own",
                )
            if _inside(p.path, rel):
                raise ConflictError(
                    f"{rel} contains asset {p.asset} ({p.path})",
                    hint="commit the assets one by one, or pass --allow-overlap "
                    "to version the whole folder as one asset",
                )
    return target


def resolve(repo: Repo, ref: str) -> Version:
    """The version ``ref`` names; ``NAME`` may be the asset's path (see the module doc).

    Raises:
        NotFoundError: no such asset, version, tag or id (the error lists close candidates).
        AmbiguousRefError: an id prefix that matches several versions.
    """
    ref = ref.strip()
    if not ref:
        raise UsageError("empty ref", hint="e.g. events, events@v3, events@latest or an id prefix")
    catalog = repo.catalog
    name, sep, selector = ref.rpartition("@")
    if not sep:
        name = ref
    if name and catalog.get_asset_kind(name) is None and _looks_like_path(name):
        found = asset_at(repo, name)
        if found is not None:
            ref = f"{found}@{selector}" if sep else found
    return resolve_name(catalog, ref)


class ExpiredVersionError(ConflictError):
    """A verb that needs a version's data was pointed at a version gc has expired (exit 5)."""


def check_live(repo: Repo, version: Version, *, action: str) -> Version:
    """``version``, unless gc expired it: then nothing may tag, hold, link, stage or read it.

    Raises:
        ExpiredVersionError: the version is expired (exit 5, like any state that forbids the
            action); its metadata and lineage stay readable.
    """
    row = repo.catalog.conn.execute(
        "SELECT expired_at FROM versions WHERE id = ?", (version.id,)
    ).fetchone()
    if row is not None and row[0] is not None:
        raise ExpiredVersionError(
            f"{version.label} expired on {str(row[0])[:10]} and its data is gone: cannot {action} it",
            hint="`dvlin retention` says why it expired; use a version that is kept, "
            "e.g. " + f"{version.asset}@latest",
        )
    return version


def resolve_live(repo: Repo, ref: str, *, action: str) -> Version:
    """The version ``ref`` names, which must not be expired (see :func:`check_live`)."""
    return check_live(repo, resolve(repo, ref), action=action)


def resolve_name(catalog: Catalog, ref: str) -> Version:
    """The version ``ref`` names, by asset name only (no paths): for refs stored by dvlin.

    Raises:
        NotFoundError: no such asset, version, tag or id (the error lists close candidates).
        AmbiguousRefError: an id prefix that matches several versions.
    """
    name, sep, selector = ref.rpartition("@")
    if not sep:
        name, selector = ref, ""
    elif not selector or not name:
        missing = "version after @" if not selector else "asset name before @"
        raise UsageError(
            f"ref {ref!r} has no {missing}",
            hint=f"e.g. {name or 'events'}@latest, {name or 'events'}@v3 or {name or 'events'}@TAG",
        )
    kind = catalog.get_asset_kind(name) if name else None
    if kind is None and name and (renamed := AssetStore(catalog).alias_target(name)):
        name, kind = renamed, catalog.get_asset_kind(renamed)  # an old name `dvlin mv` kept
    if kind is None:
        if not sep and len(ref) >= MIN_PREFIX and is_hex(ref.lower()):
            return _by_id(catalog, ref.lower())
        close = difflib.get_close_matches(name, catalog.asset_names(), n=5, cutoff=0.5)
        looks_like_id = not sep and len(ref) >= MIN_PREFIX and is_hex(ref.lower())
        raise NotFoundError(
            f"no asset or version {ref!r}" if looks_like_id else f"unknown asset {name!r}",
            hint=f"did you mean: {', '.join(close)}" if close else "`dvlin ls` lists assets",
            candidates=close,
        )
    if selector in ("", "latest"):
        version = catalog.latest_version(name)
        if version is None:
            raise NotFoundError(f"asset {name!r} has no versions", hint="commit it first")
        return version
    if m := _NUMBER.match(selector):
        version = catalog.version_by_number(name, int(m.group(1)))
        if version is None:
            return _missing(catalog, name, selector)
        return version
    if m := _BACK.match(selector):
        latest = catalog.latest_version(name)
        back = int(m.group(1))
        if latest is None or latest.number - back < 1:
            return _missing(catalog, name, selector)
        version = catalog.version_by_number(name, latest.number - back)
        if version is None:
            return _missing(catalog, name, selector)
        return version
    tag = catalog.tag(name, selector)
    if tag is not None:
        version = catalog.version(tag.version)
        if version is not None:
            return version
    return _missing(catalog, name, selector)


def _missing(catalog: Catalog, name: str, selector: str) -> Version:
    latest = catalog.latest_version(name)
    numbers = [f"v{n}" for n in range(1, (latest.number if latest else 0) + 1)]
    tags = [t.name for t in catalog.tags(name)]
    shown = (numbers[-5:] if len(numbers) > 5 else numbers) + tags[:10]
    raise NotFoundError(
        f"{name} has no version {selector!r}",
        hint=f"known: {', '.join(shown)}" if shown else "it has no versions yet",
        candidates=[f"{name}@{s}" for s in shown],
    )


def _by_id(catalog: Catalog, prefix: str) -> Version:
    """The version whose id is, or starts with, the hex the user typed."""
    matches: list[Version] = []
    if len(prefix) == VERSION_ID_LENGTH:
        found = catalog.version(parse_version_id(prefix))  # a whole id: one lookup
        matches = [found] if found is not None else []
    elif len(prefix) < VERSION_ID_LENGTH:
        matches = catalog.versions_with_prefix(prefix)
    if not matches:  # longer than any version id, or no such id
        raise NotFoundError(
            f"no version id starts with {prefix!r}",
            hint="`dvlin log` shows version ids",
        )
    if len(matches) > 1:
        labels = [f"{v.id[:12]} ({v.label})" for v in matches]
        raise AmbiguousRefError(
            f"id prefix {prefix!r} is ambiguous: {', '.join(labels)}",
            hint="give more characters of the id",
            candidates=[v.id for v in matches],
        )
    return matches[0]
