"""Candidates for shell completion: asset names, and refs once an ``@`` is typed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dvlin.catalog.assets import AssetStore

if TYPE_CHECKING:
    from dvlin.repo import Repo


def asset_candidates(repo: Repo, incomplete: str) -> list[str]:
    """Tracked asset names starting with ``incomplete``."""
    return [n for n in repo.catalog.asset_names() if n.startswith(incomplete)]


def ref_candidates(repo: Repo, incomplete: str) -> list[str]:
    """Refs starting with ``incomplete``: asset names, then ``NAME@`` + latest, tags, vN."""
    name, at, selector = incomplete.partition("@")
    if not at:
        return asset_candidates(repo, incomplete)
    catalog = repo.catalog
    asset = name if catalog.get_asset_kind(name) else AssetStore(catalog).alias_target(name)
    if asset is None:
        return []
    latest = catalog.latest_version(asset)
    numbers = [f"v{n}" for n in range(latest.number, 0, -1)] if latest else []
    tags = [t.name for t in catalog.tags(asset)]
    options = ["latest", *tags, *numbers]
    return [f"{name}@{o}" for o in options if o.startswith(selector)]
