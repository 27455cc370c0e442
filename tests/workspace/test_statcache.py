"""The stat cache: trusted only while size, mtime and inode match, and never for racy files."""

from __future__ import annotations

import time

from dvlin import Repo
from dvlin.workspace.scan import Item
from dvlin.workspace.statcache import StatCache, repo_path

OLD = time.time_ns() - 60 * 1_000_000_000  # a minute ago: safely in the past


def item(path: str = "a.csv", *, size: int = 10, mtime_ns: int = OLD, inode: int = 7) -> Item:
    return Item(path, "file", 0o644, size, mtime_ns, inode)


def test_repo_path_joins_the_base() -> None:
    assert repo_path(".", "a/b") == "a/b" and repo_path("", "a") == "a"
    assert repo_path("data/events", "a.csv") == "data/events/a.csv"


def test_a_recorded_file_is_found_until_its_stat_changes(repo: Repo) -> None:
    cache = StatCache(repo.catalog, "data")
    cache.record(item(), "f" * 32)
    assert cache.lookup(item()) == "f" * 32
    assert cache.lookup(item(size=11)) is None
    assert cache.lookup(item(mtime_ns=OLD + 1)) is None
    assert cache.lookup(item(inode=8)) is None
    assert cache.lookup(item("b.csv")) is None


def test_saved_rows_are_read_back_under_their_base_only(repo: Repo) -> None:
    cache = StatCache(repo.catalog, "data")
    cache.record(item(), "f" * 32)
    with repo.catalog.transaction():
        cache.save(repo.catalog)
    assert cache.updates == []
    assert StatCache(repo.catalog, "data").lookup(item()) == "f" * 32
    assert StatCache(repo.catalog, "other").lookup(item()) is None
    assert repo.catalog.stat_rows("data") == {"data/a.csv": (10, OLD, 7, "f" * 32)}


def test_a_file_modified_within_the_racy_window_is_not_remembered(repo: Repo) -> None:
    now = time.time_ns()
    cache = StatCache(repo.catalog, ".")
    cache.record(item(mtime_ns=now - 1_000_000), "f" * 32, hashed_at_ns=now)  # 1 ms before
    whole_second = (now // 1_000_000_000) * 1_000_000_000 - 1_000_000_000
    cache.record(item("b", mtime_ns=whole_second), "e" * 32, hashed_at_ns=now)  # coarse: 2 s
    assert cache.updates == [] and cache.lookup(item(mtime_ns=now - 1_000_000)) is None


def test_an_unchanged_row_is_not_written_again(repo: Repo) -> None:
    cache = StatCache(repo.catalog, ".")
    cache.record(item(), "f" * 32)
    with repo.catalog.transaction():
        cache.save(repo.catalog)
    again = StatCache(repo.catalog, ".")
    again.record(item(), "f" * 32)
    assert again.updates == []


def test_a_disabled_cache_knows_and_remembers_nothing(repo: Repo) -> None:
    StatCache(repo.catalog, ".").record(item(), "f" * 32)
    off = StatCache(repo.catalog, ".", enabled=False)
    off.record(item(), "f" * 32)
    assert off.rows == {} and off.updates == [] and off.lookup(item()) is None
