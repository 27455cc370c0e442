"""The SQLite catalog: schema, migrations and every query dvlin runs."""

from dvlin.catalog.catalog import Catalog, Version
from dvlin.catalog.versions import VersionInfo

__all__ = ["Catalog", "Version", "VersionInfo"]
