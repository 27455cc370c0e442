"""The stat cache: trusted only while size, mtime and inode match, and never for racy files."""

from __future__ import annotations

import os
import time
from array import array

import pytest

from dvlin import Repo
from dvlin.objects.hashing import StatRow
from dvlin.workspace.scan import Columns, Item, scan_columns
from dvlin.workspace.statcache import StatCache, cache_file, repo_path
from tests.conftest import write_tree

OLD = time.time_ns() - 60 * 1_000_000_000  # a minute ago: safely in the past


def item(path: str = "a.csv", *, size: int = 10, mtime_ns: int = OLD, inode: int = 7) -> Item:
    return Item(path, "file", 0o644, size, mtime_ns, inode)


def cache(repo: Repo, base: str = "data", roots: tuple[str, ...] = (".",)) -> StatCache:
    return StatCache(repo.dvlin_dir, repo.catalog, base, roots, algorithm=repo.config.hash)


def columns(*items: Item) -> Columns:
    cols = Columns()
    for i in items:
        cols.add(i)
    return cols


def test_repo_path_joins_the_base() -> None:
    assert repo_path(".", "a/b") == "a/b" and repo_path("", "a") == "a"
    assert repo_path("data/events", "a.csv") == "data/events/a.csv"


def test_a_recorded_file_is_found_until_its_stat_changes(repo: Repo) -> None:
    c = cache(repo)
    c.record(item(), "f" * 32)
    assert c.lookup(item()) == "f" * 32
    assert c.lookup(item(size=11)) is None
    assert c.lookup(item(mtime_ns=OLD + 1)) is None
    assert c.lookup(item(inode=8)) is None
    assert c.lookup(item("b.csv")) is None


def test_saved_rows_are_read_back_for_their_layout_only(repo: Repo) -> None:
    c = cache(repo)
    c.record(item(), "f" * 32)
    c.save()
    assert not c.dirty
    assert cache(repo).lookup(item()) == "f" * 32
    assert cache(repo).lookup_all(columns(item(), item("b.csv"))) == ["f" * 32, None]
    assert cache(repo, "other").lookup(item()) is None
    assert cache(repo, "data", ("a.csv",)).lookup(item()) is None
    assert repo.catalog.stat_rows("") == {}  # the SQLite table is no longer written


def test_a_file_modified_within_the_racy_window_is_not_remembered(repo: Repo) -> None:
    now = time.time_ns()
    c = cache(repo, ".")
    c.record(item(mtime_ns=now - 1_000_000), "f" * 32, hashed_at_ns=now)  # 1 ms before
    whole_second = (now // 1_000_000_000) * 1_000_000_000 - 1_000_000_000
    c.record(item("b", mtime_ns=whole_second), "e" * 32, hashed_at_ns=now)  # coarse: 2 s
    assert not c.dirty and c.lookup(item(mtime_ns=now - 1_000_000)) is None


def test_a_disabled_cache_knows_and_remembers_nothing(repo: Repo) -> None:
    c = cache(repo, ".")
    c.record(item(), "f" * 32)
    c.save()
    off = StatCache(repo.dvlin_dir, repo.catalog, ".", enabled=False)
    off.record(item(), "f" * 32)
    assert not off.dirty and off.lookup(item()) is None
    assert off.lookup_all(columns(item())) == [None]
    elsewhere = StatCache(None, repo.catalog, ".")
    assert elsewhere.lookup(item()) is None and not elsewhere.enabled


def test_a_snapshot_vouches_for_its_tree_only_while_every_row_matches(repo: Repo) -> None:
    write_tree(repo.root, {"data/a.txt": "a", "data/sub/b.txt": "b", "data/l": ("link", "a.txt")})
    scanned = scan_columns(str(repo.root / "data"), ["."])
    oids = ["f" * 32 if t == "file" else None for t in scanned.type]
    c = cache(repo)
    c.snapshot(scanned, oids, "t" * 32)
    c.save()
    again = cache(repo)
    assert again.tree == "t" * 32
    assert again.matches(scan_columns(str(repo.root / "data"), ["."]))
    os.utime(repo.root / "data/sub/b.txt", ns=(OLD, OLD))
    assert not again.matches(scan_columns(str(repo.root / "data"), ["."]))
    (repo.root / "data/new").write_text("n")
    assert not again.matches(scan_columns(str(repo.root / "data"), ["."]))


def test_a_snapshot_with_an_unhashed_file_vouches_for_no_tree(repo: Repo) -> None:
    write_tree(repo.root, {"data/a.txt": "a", "data/b.txt": "b"})
    scanned = scan_columns(str(repo.root / "data"), ["."])
    c = cache(repo)
    c.snapshot(scanned, ["f" * 32, None], "t" * 32)  # one racy file: no oid kept
    c.save()
    again = cache(repo)
    assert again.tree == "" and not again.matches(scanned)


def test_updates_over_a_snapshot_keep_both_and_vouch_for_nothing(repo: Repo) -> None:
    c = cache(repo)
    c.snapshot(columns(item("a"), item("b")), ["a" * 32, "b" * 32], "t" * 32)
    c.record(item("b", size=3), "c" * 32)
    c.record(item("c"), "d" * 32)
    c.save()
    again = cache(repo)
    assert again.tree == ""
    found = again.lookup_all(columns(item("a"), item("b", size=3), item("c"), item("b")))
    assert found == ["a" * 32, "c" * 32, "d" * 32, None]


def test_rows_of_an_old_repo_are_honoured_then_moved_to_the_file(repo: Repo) -> None:
    with repo.catalog.transaction():
        repo.catalog.put_stat_rows([("data/a.csv", StatRow(10, OLD, 7, "f" * 32))])  # type: ignore[arg-type]
    old = cache(repo)
    assert old.lookup(item()) == "f" * 32
    assert old.lookup_all(columns(item(), item(size=3))) == ["f" * 32, None]
    old.record(item("b.csv"), "e" * 32)
    old.save()
    assert cache_file(repo.dvlin_dir, "data", (".",)).exists()
    with repo.catalog.transaction():
        repo.catalog.conn.execute("DELETE FROM stat_cache")
    moved = cache(repo)
    assert moved.lookup_all(columns(item(), item("b.csv"))) == ["f" * 32, "e" * 32]


def test_a_failed_write_leaves_the_old_file(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    c = cache(repo)
    c.record(item(), "f" * 32)
    c.save()
    before = cache_file(repo.dvlin_dir, "data", (".",)).read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    c = cache(repo)
    c.record(item("b.csv"), "e" * 32)
    c.save()  # a cache is a shortcut: the failure is not the caller's
    monkeypatch.undo()
    assert cache_file(repo.dvlin_dir, "data", (".",)).read_bytes() == before
    assert os.listdir(cache_file(repo.dvlin_dir, "data", (".",)).parent) == [
        cache_file(repo.dvlin_dir, "data", (".",)).name
    ]


def test_a_damaged_file_is_no_cache(repo: Repo) -> None:
    c = cache(repo)
    c.record(item(), "f" * 32)
    c.save()
    cache_file(repo.dvlin_dir, "data", (".",)).write_bytes(b"not arrow")
    again = cache(repo)
    assert again.lookup(item()) is None and again.tree == ""


def test_a_row_vouches_only_while_its_ctime_is_the_scanned_one(repo: Repo) -> None:
    c = cache(repo)
    scanned = columns(item("a"), item("b"))
    scanned.ctime_ns = array("q", [OLD, OLD])
    c.snapshot(scanned, ["a" * 32, "b" * 32], "t" * 32)
    c.save()
    again = columns(item("a"), item("b"))
    again.ctime_ns = array("q", [OLD, OLD + 1])  # b rewritten, its mtime put back
    assert cache(repo).lookup_all(again) == ["a" * 32, None]


def test_rows_recorded_one_by_one_vouch_without_a_ctime(repo: Repo) -> None:
    c = cache(repo)
    c.record(item("a"), "a" * 32)  # a checkout's write: its ctime is not known
    c.save()
    scanned = columns(item("a"))
    scanned.ctime_ns = array("q", [OLD + 5])
    assert cache(repo).lookup_all(scanned) == ["a" * 32]


def test_a_format_1_file_is_read_without_ctimes_and_rewritten_as_format_3(repo: Repo) -> None:

    _write_old_format(repo, 1, f"x {'t' * 32}")
    old = cache(repo)
    assert old.tree == ""  # a format-1 fingerprint is not this format's
    scanned = columns(item("a"), item("b", size=3))
    scanned.ctime_ns = array("q", [OLD, OLD])
    assert old.lookup_all(scanned) == ["a" * 32, None]
    old.snapshot(scanned, ["a" * 32, "c" * 32], "u" * 32)
    old.save()
    new = cache(repo)
    assert new.tree == "u" * 32 and new.matches(scanned)
    assert new.table is not None and new.table.schema.metadata[b"dvlin.statcache"] == b"3"
    assert new.table.column("ctime_ns").to_pylist() == [OLD, OLD]


def test_a_format_2_file_and_its_head_still_vouch_and_know_no_parent_rows(repo: Repo) -> None:

    from dvlin.workspace import statfile

    scanned = columns(item("a"), item("b"))
    scanned.ctime_ns = array("q", [OLD, OLD])
    tree = "t" * 32
    _write_old_format(repo, 2, f"{statfile.fingerprint(scanned)} {tree}")
    old = cache(repo)
    assert old.tree == tree and old.matches(scanned)  # a clean status stays clean
    assert old.lookup_all(scanned) == ["a" * 32, "b" * 32]
    assert old.parent_rows(scanned, tree) is None  # format 2 has no rows: join on paths


def test_parent_rows_are_kept_for_their_tree_and_dropped_by_one_by_one_updates(
    repo: Repo,
) -> None:
    import pyarrow as pa

    scanned = columns(item("a"), item("b"))
    scanned.ctime_ns = array("q", [OLD, OLD])
    c = cache(repo)
    c.snapshot(scanned, ["a" * 32, "b" * 32], "t" * 32, rows=pa.array([1, 0]))
    c.save()
    again = cache(repo)
    assert again.parent_rows(scanned, "t" * 32) is None  # not before the scan is compared
    assert again.lookup_all(scanned) == ["a" * 32, "b" * 32]
    assert again.parent_rows(scanned, "u" * 32) is None  # another tree's manifest
    rows = again.parent_rows(scanned, "t" * 32)
    assert rows is not None and rows.to_pylist() == [1, 0]
    # A status's snapshot of the same paths keeps them; a checkout's updates drop them.
    again.snapshot(scanned, ["a" * 32, "b" * 32], "")
    again.save()
    kept = cache(repo)
    kept.lookup_all(scanned)
    rows = kept.parent_rows(scanned, "t" * 32)
    assert rows is not None and rows.to_pylist() == [1, 0]
    kept.record(item("c"), "c" * 32)
    kept.save()
    dropped = cache(repo)
    found = columns(item("a"), item("b"), item("c"))
    found.ctime_ns = array("q", [OLD, OLD, OLD])
    assert dropped.lookup_all(found) == ["a" * 32, "b" * 32, "c" * 32]  # row for row
    assert dropped.parent_rows(found, "t" * 32) is None


def _write_old_format(repo: Repo, version: int, head: str) -> None:
    """A stat cache of layout ("data", ".") as dvlin wrote it in format ``version`` (1 or 2):
    rows a and b, without the columns that came later, and its head line ending in ``head``
    (fingerprint and tree)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    from dvlin.workspace import statfile

    fields = list(statfile.schema())[: -3 + version]  # format 1 lacks ctime_ns and row
    rows = {
        "path": ["a", "b"],
        "type": ["file", "file"],
        "mode": [0o644, 0o644],
        "size": [10, 10],
        "mtime_ns": [OLD, OLD],
        "inode": [7, 7],
        "target": [None, None],
        "oid": ["a" * 32, "b" * 32],
        "ctime_ns": [OLD, OLD],
    }
    rows = {f.name: rows[f.name] for f in fields}
    table = pa.Table.from_pydict(rows, schema=pa.schema(fields)).replace_schema_metadata(
        {"dvlin.statcache": str(version), "algorithm": repo.config.hash}
    )
    path = cache_file(repo.dvlin_dir, "data", (".",))
    path.parent.mkdir(exist_ok=True)
    with open(path, "wb") as f, ipc.new_file(f, table.schema) as writer:
        writer.write_table(table)
    path.with_suffix(".tree").write_text(f"dvlin-statcache {version} {repo.config.hash} {head}\n")
