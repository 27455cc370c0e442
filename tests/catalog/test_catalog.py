"""The catalog: schema version, WAL mode, secure delete, refusing a newer schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.catalog.catalog import Catalog
from dvlin.catalog.schema import SCHEMA_VERSION
from dvlin.errors import UsageError


def test_new_catalog_is_migrated_and_in_wal_mode(repo: Repo) -> None:
    cat = repo.catalog
    assert cat.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert cat.get_meta("repo_id") == repo.config.repo_id
    assert cat.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert cat.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    tables = {r[0] for r in cat.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"assets", "versions", "tags", "objects", "version_objects", "stat_cache"} <= tables


def test_a_newer_schema_is_refused(repo: Repo) -> None:
    with repo.catalog.transaction():
        repo.catalog.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    repo.close()
    with pytest.raises(UsageError, match="newer than this dvlin"):
        Catalog.open(repo.dvlin_dir / "catalog.db")


def test_failed_transaction_rolls_back(repo: Repo, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), repo.catalog.transaction():
        repo.catalog.set_meta("x", "1")
        raise RuntimeError("boom")
    assert repo.catalog.get_meta("x") is None
