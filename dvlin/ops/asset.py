"""Assets by name or by path, and the verbs that manage them as a whole (``rm``, ``mv``)."""

from __future__ import annotations

import difflib
import os
import posixpath
from typing import TYPE_CHECKING

from dvlin.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from dvlin.catalog.catalog import Asset
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


def asset_names(repo: Repo, texts: list[str] | tuple[str, ...]) -> list[str]:
    """:func:`asset_name` of each argument, without duplicates, in the order given."""
    seen: dict[str, None] = {}
    for text in texts:
        seen[asset_name(repo, text.rstrip(os.sep) or text)] = None
    return list(seen)
