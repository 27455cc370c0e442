"""The SQLite catalog: schema, migrations and every query dvlin runs."""

from dvlin.catalog.catalog import Catalog, Version

__all__ = ["Catalog", "Version"]
