"""The stat cache's delta: a save that changes few rows of the cached paths writes only them.

Read back, the rows file plus its delta must be exactly the rows a whole rewrite would have
written (same columns, same ``row`` tree); a delta that is torn, names another rows file or
puts a row at another path is ignored, never trusted.
"""

from __future__ import annotations

import os
import time
from array import array
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin import Repo
from dvlin.objects.manifest import tree_digest
from dvlin.workspace import statcache, statfile
from dvlin.workspace.scan import Columns, Item
from dvlin.workspace.statcache import StatCache, cache_file
from tests.ops.test_hotpath_property import CONTENTS, NAMES, World

OLD = time.time_ns() - 60 * 1_000_000_000

PATHS = st.lists(
    st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\0/"),
        min_size=1,
        max_size=12,
    ),
    min_size=1,
    max_size=40,
    unique=True,
)


def _cache(repo: Repo) -> StatCache:
    return StatCache(repo.dvlin_dir, repo.catalog, "data", (".",), algorithm=repo.config.hash)


def _columns(paths: list[str], sizes: list[int], ctime: int = OLD) -> Columns:
    cols = Columns()
    for i, (p, size) in enumerate(zip(paths, sizes, strict=True)):
        cols.add(Item(p, "file", 0o644, size, OLD + i, 1000 + i))
    cols.ctime_ns = array("q", [ctime] * len(paths))
    return cols


def _plain(table: object) -> object:
    import pyarrow as pa

    assert isinstance(table, pa.Table)
    return table.replace_schema_metadata(None).combine_chunks()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PATHS, st.data())
def test_a_delta_read_back_is_the_table_written_whole(
    tmp_path_factory: pytest.TempPathFactory, paths: list[str], data: st.DataObject
) -> None:
    import pyarrow as pa

    folder = tmp_path_factory.mktemp("delta")
    file = folder / "rows.arrow"
    n = len(paths)
    base = statfile.scan_table(
        _columns(paths, [1] * n),
        pa.array([f"{i:032x}" for i in range(n)], pa.string()),
        {"row": pa.array(range(n), pa.int64())},
    )
    written = statfile.write_rows(file, base, "xxh3-128", "t" * 32)
    # Random rows changed in every column but the path, nulls included.
    changed = data.draw(st.sets(st.integers(0, n - 1)))
    sizes = [7 if i in changed else 1 for i in range(n)]
    oids = [None if i in changed and i % 2 else f"{i + (i in changed):032x}" for i in range(n)]
    rows = [None if i in changed and i % 3 == 0 else i for i in range(n)]
    new = statfile.scan_table(
        _columns(paths, sizes), pa.array(oids, pa.string()), {"row": pa.array(rows, pa.int64())}
    )
    at = statfile.changed_rows(written, new)
    assert sorted(at.to_pylist()) == sorted(changed)
    statfile.write_delta(file, new, at, written, "u" * 32)
    read, found = statfile.read_rows(file, "xxh3-128")
    assert found and read is not None
    merged = statfile.read_delta(file, read)
    assert merged is not None
    assert _plain(merged).equals(_plain(new))
    assert statfile.rows_of(merged) == "u" * 32


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, str]]:
    """Record the rows (and their ``row`` tree) each save of the stat cache was given."""
    seen: list[tuple[object, str]] = []
    save = StatCache.save

    def spying(self: StatCache, catalog: object = None) -> None:
        snap = self._snapshot
        if snap is not None and not self.updates:
            seen.append((snap.table, snap.rows_of))
        save(self, catalog)

    monkeypatch.setattr(StatCache, "save", spying)
    return seen


edit = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), st.sampled_from(CONTENTS), st.booleans()),
    st.tuples(st.just("chmod"), st.sampled_from(NAMES), st.none(), st.booleans()),
    st.tuples(st.just("remove"), st.sampled_from(NAMES), st.none(), st.booleans()),
    st.tuples(st.just("status"), st.just(""), st.none(), st.booleans()),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.lists(edit, max_size=3), min_size=1, max_size=5), st.sampled_from([1 / 16, 1]))
def test_commits_and_statuses_read_back_the_rows_they_saved(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    steps: list[list[tuple[str, str, object, bool]]],
    share: float,
) -> None:
    monkeypatch.setattr(statcache, "DELTA_SHARE", share)  # 1/16: most saves rewrite this tree
    world = World(tmp_path / "repo")
    monkeypatch.chdir(world.repo.root)
    repo = world.repo
    try:
        world.seed()
        seen = _spy(monkeypatch)
        for edits in steps:
            for kind, a, b, aged in edits:
                if kind == "status":
                    repo.status(["d"])
                else:
                    world.apply(kind, a, b, aged)
            result = repo.commit(["d"], name="d")
            assert result.version.tree == tree_digest(repo.config.hash, world.reference().values())
            if not seen:
                continue  # nothing scanned differently: nothing saved
            table, rows_of = seen[-1]
            again = StatCache(repo.dvlin_dir, repo.catalog, "d", (".",), algorithm=repo.config.hash)
            assert again.table is not None
            assert _plain(again.table).equals(_plain(table))
            assert statfile.rows_of(again.table) == rows_of
        assert repo.status(["d"]).clean
    finally:
        repo.close()


def _ipc(table: object) -> bytes:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    assert isinstance(table, pa.Table)
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _replace(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` under a new inode, as dvlin replaces its files (a file still
    mapped by an earlier reader keeps its bytes)."""
    temp = path.with_name(path.name + ".test")
    temp.write_bytes(data)
    os.replace(temp, path)


def _saved(repo: Repo, paths: list[str], sizes: list[int], tree: str) -> Columns:
    """Save a scan of ``paths`` through a cache that compared it with the cached rows."""
    cols = _columns(paths, sizes)
    c = _cache(repo)
    c.lookup_all(cols)
    c.snapshot(cols, [f"{s:032x}" for s in sizes], tree)
    c.save()
    return cols


def test_a_small_change_writes_a_delta_and_a_large_one_rewrites_the_file(repo: Repo) -> None:
    paths = [f"f{i:03d}" for i in range(64)]
    _saved(repo, paths, [1] * 64, "a" * 32)
    file = cache_file(repo.dvlin_dir, "data", (".",))
    before = file.stat().st_ino, file.read_bytes()
    cols = _saved(repo, paths, [2, *[1] * 63], "b" * 32)  # 1 row of 64: a delta
    assert file.read_bytes() == before[1] and statfile.delta_file(file).exists()
    again = _cache(repo)
    assert again.tree == "b" * 32 and again.matches(cols)
    assert again.lookup_all(cols) == [f"{2:032x}", *[f"{1:032x}"] * 63]
    cols = _saved(repo, paths, [3] * 64, "c" * 32)  # every row: the file is rewritten
    assert not statfile.delta_file(file).exists()
    assert _cache(repo).lookup_all(cols) == [f"{3:032x}"] * 64


def test_a_torn_or_foreign_delta_is_ignored(repo: Repo) -> None:
    paths = [f"f{i:03d}" for i in range(64)]
    first = _saved(repo, paths, [1] * 64, "a" * 32)
    second = _saved(repo, paths, [2, *[1] * 63], "b" * 32)
    file = cache_file(repo.dvlin_dir, "data", (".",))
    delta = statfile.delta_file(file)
    data = delta.read_bytes()
    _replace(delta, data[: len(data) // 2])  # torn
    torn = _cache(repo)
    assert torn.lookup_all(second)[0] is None  # the base's row: another size, no oid
    assert torn.lookup_all(first)[0] == f"{1:032x}"
    # A delta of another rows file (an older dvlin rewrote it, or a crash before the delta
    # was removed): ignored.
    _replace(delta, data)
    read, _ = statfile.read_rows(file, repo.config.hash)
    assert read is not None
    statfile.write_rows(file, read, repo.config.hash)  # a new generation
    assert _cache(repo).lookup_all(second)[0] is None
    # A delta whose row sits at another path: ignored.
    _saved(repo, paths, [1] * 64, "a" * 32)
    _saved(repo, paths, [2, *[1] * 63], "b" * 32)
    import pyarrow as pa
    import pyarrow.ipc as ipc

    table = ipc.open_file(pa.BufferReader(delta.read_bytes())).read_all()
    at = table.schema.get_field_index("at")
    table = table.set_column(at, "at", pa.array([5], pa.int64()))
    _replace(delta, _ipc(table))
    assert _cache(repo).lookup_all(second)[0] is None


def test_a_rows_file_from_before_deltas_is_read_then_rewritten_with_a_generation(
    repo: Repo,
) -> None:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    paths = [f"f{i:03d}" for i in range(8)]
    cols = _saved(repo, paths, [1] * 8, "a" * 32)
    file = cache_file(repo.dvlin_dir, "data", (".",))
    table = ipc.open_file(pa.BufferReader(file.read_bytes())).read_all()
    meta = dict(table.schema.metadata)
    del meta[b"dvlin.generation"]  # as format 3 was written before deltas
    _replace(file, _ipc(table.replace_schema_metadata(meta)))
    assert _cache(repo).lookup_all(cols) == [f"{1:032x}"] * 8
    _saved(repo, paths, [2, *[1] * 7], "b" * 32)  # no generation to name: written whole
    assert not statfile.delta_file(file).exists()
    read, _ = statfile.read_rows(file, repo.config.hash)
    assert read is not None and statfile.generation(read)


def test_a_failed_delta_write_leaves_the_cache_as_it_was(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [f"f{i:03d}" for i in range(16)]
    first = _saved(repo, paths, [1] * 16, "a" * 32)

    def refuse(*_a: object, **_k: object) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(statfile, "write_delta", refuse)
    _saved(repo, paths, [2, *[1] * 15], "b" * 32)
    again = _cache(repo)
    assert again.tree == "a" * 32 and again.matches(first)
    assert not os.path.exists(statfile.delta_file(cache_file(repo.dvlin_dir, "data", (".",))))


def test_a_layout_no_asset_uses_loses_its_delta_too(repo: Repo) -> None:
    paths = [f"f{i:03d}" for i in range(32)]
    _saved(repo, paths, [1] * 32, "a" * 32)
    _saved(repo, paths, [2, *[1] * 31], "b" * 32)
    file = cache_file(repo.dvlin_dir, "data", (".",))
    assert statfile.delta_file(file).exists()
    assert statfile.prune(repo.dvlin_dir, [("other", (".",))]) == 3
    assert not statfile.delta_file(file).exists() and not file.exists()
