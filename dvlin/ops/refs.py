"""Resolve refs: ``NAME``, ``NAME@latest``, ``NAME@vN``, ``NAME@TAG``, ``NAME@~N``, id prefix."""

from __future__ import annotations

import difflib
import re

from dvlin.catalog import Catalog, Version
from dvlin.catalog.assets import AssetStore
from dvlin.errors import AmbiguousRefError, NotFoundError, UsageError
from dvlin.objects.hashing import is_hex

MIN_PREFIX = 6
_NUMBER = re.compile(r"^v(\d+)$")
_BACK = re.compile(r"^~(\d+)$")


def resolve(catalog: Catalog, ref: str) -> Version:
    """The version ``ref`` names.

    Raises:
        NotFoundError: no such asset, version, tag or id (the error lists close candidates).
        AmbiguousRefError: an id prefix that matches several versions.
    """
    ref = ref.strip()
    if not ref:
        raise UsageError("empty ref", hint="e.g. events, events@v3, events@latest or an id prefix")
    name, sep, selector = ref.rpartition("@")
    if not sep:
        name, selector = ref, ""
    kind = catalog.get_asset_kind(name) if name else None
    if kind is None and name and (renamed := AssetStore(catalog).alias_target(name)):
        name, kind = renamed, catalog.get_asset_kind(renamed)  # an old name `dvlin mv` kept
    if kind is None:
        if not sep and len(ref) >= MIN_PREFIX and is_hex(ref.lower()):
            return _by_prefix(catalog, ref.lower())
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


def _by_prefix(catalog: Catalog, prefix: str) -> Version:
    matches = catalog.versions_with_prefix(prefix)
    if not matches:
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
