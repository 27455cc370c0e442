"""The catalog: one connection with dvlin's queries as methods, grouped by noun.

``db`` opens the connection and runs transactions; ``versions``, ``objects``, ``workspace``
and ``checks`` hold the queries of their tables; the other modules of this package are
functions over a :class:`Catalog`.
"""

from __future__ import annotations

from dvlin.catalog.checks import ManifestCheckQueries
from dvlin.catalog.db import select_in, translate
from dvlin.catalog.objects import ObjectQueries
from dvlin.catalog.versions import VERSION_COLUMNS, Asset, Tag, Version, VersionQueries
from dvlin.catalog.workspace import WorkspaceQueries

__all__ = ["VERSION_COLUMNS", "Asset", "Catalog", "Tag", "Version", "select_in", "translate"]


class Catalog(VersionQueries, ObjectQueries, WorkspaceQueries, ManifestCheckQueries):
    """A connection to ``catalog.db`` with dvlin's queries as methods."""
