"""Commit cost follows the change: what an unchanged or barely changed tree does not touch."""

from __future__ import annotations

import os
import time

import pytest

from dvlin import Repo
from dvlin.ops import commit as commit_module
from tests.conftest import write_tree


def _aged(repo: Repo, files: dict[str, str]) -> None:
    write_tree(repo.root, files)
    past = time.time() - 60
    for p in files:
        os.utime(repo.root / p, (past, past))


def test_an_unchanged_tree_commits_nothing_without_reading_the_manifest(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    _aged(repo, {"d/a.txt": "a", "d/sub/b.txt": "b"})
    first = repo.commit(["d"], name="d")

    def no_manifest(*args: object, **kwargs: object) -> None:
        raise AssertionError("the parent's manifest was read")

    monkeypatch.setattr(commit_module, "load_manifest_soon", no_manifest)
    again = repo.commit(["d"], name="d", tags=["same"])
    assert not again.created and again.version.id == first.version.id
    assert again.diff.clean and repo.catalog.tag("d", "same") is not None


def test_a_changed_tree_still_reads_the_parent(repo: Repo) -> None:
    _aged(repo, {"d/a.txt": "a", "d/sub/b.txt": "b"})
    repo.commit(["d"], name="d")
    (repo.root / "d/a.txt").write_text("changed")
    second = repo.commit(["d"], name="d")
    assert second.created and second.diff.changed == ("a.txt",)
    assert second.version.files == 2


def _joins(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the size of every value set a hash join (``index_in``) is asked to look in."""
    import pyarrow.compute as pc

    sizes: list[int] = []
    real = pc.index_in

    def counted(
        values: object, *args: object, value_set: object = None, **kwargs: object
    ) -> object:
        sizes.append(len(value_set))  # type: ignore[arg-type]
        return real(values, *args, value_set=value_set, **kwargs)

    monkeypatch.setattr(pc, "index_in", counted)
    return sizes


def _paths_tree(n: int) -> dict[str, str]:
    return {f"d/{i % 7}/f{i:03d}.txt": f"v{i}" for i in range(n)}


def test_a_commit_with_its_parents_paths_finds_their_rows_without_a_join(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _paths_tree(40)
    _aged(repo, files)
    repo.commit(["d"], name="d")
    _aged(repo, {"d/3/f003.txt": "changed"})
    second = repo.commit(["d"], name="d")  # joins on paths, and remembers the rows
    from dvlin.ops.manifests import load_manifest

    rows = len(load_manifest(repo, second.version))
    assert rows == 47  # 40 files in 7 folders
    joins = _joins(monkeypatch)
    _aged(repo, {"d/5/f005.txt": "changed too"})
    third = repo.commit(["d"], name="d")
    assert third.created and third.diff.changed == ("5/f005.txt",)
    assert rows not in joins  # no join over the parent's paths
    _aged(repo, {"d/new.txt": "added"})
    fourth = repo.commit(["d"], name="d")  # a new path: joins again
    assert fourth.diff.added == ("new.txt",) and rows in joins


def test_wrong_parent_rows_in_the_stat_cache_are_not_trusted(repo: Repo) -> None:
    import pyarrow as pa

    from dvlin.ops.manifests import load_entries
    from dvlin.workspace import statfile

    files = _paths_tree(30)
    _aged(repo, files)
    repo.commit(["d"], name="d")
    _aged(repo, {"d/1/f001.txt": "one"})
    second = repo.commit(["d"], name="d")
    file = statfile.cache_file(repo.dvlin_dir, "d", (".",))
    table, found = statfile.read_rows(file, repo.config.hash)
    assert found and table is not None and statfile.rows_of(table) == second.version.tree
    rows = table.column("row").to_pylist()
    shuffled = pa.array([rows[-1], *rows[:-1]], pa.int64())  # every path at another's row
    statfile.write_rows(
        file,
        table.set_column(table.schema.get_field_index("row"), "row", shuffled),
        repo.config.hash,
        second.version.tree,
    )
    _aged(repo, {"d/2/f002.txt": "two"})
    third = repo.commit(["d"], name="d")
    assert third.diff.changed == ("2/f002.txt",) and not third.diff.added
    entries = load_entries(repo, third.version)
    assert {p: e.oid for p, e in entries.items() if e.type == "file"} == {
        p.removeprefix("d/"): e.oid
        for p, e in load_entries(repo, second.version).items()
        if e.type == "file" and p != "2/f002.txt"
    } | {"2/f002.txt": entries["2/f002.txt"].oid}
    assert (repo.root / "d/2/f002.txt").read_text() == "two"


def test_hashed_rows_reported_out_of_order_are_put_in_row_order() -> None:
    """A big file is reported as soon as it is cut, before the small files queued ahead of
    it: the rows the cache may vouch for come back ascending, each with its own oid, racy
    ones left out, and the ingester's lists emptied."""
    from types import SimpleNamespace
    from typing import Any

    import pyarrow as pa

    from dvlin.objects.arrays import Int64s
    from dvlin.ops.commit_tree import _fresh, _with_oids

    started = 10**18
    old, racy = started - 10**10, started
    ingester: Any = SimpleNamespace(hashed_tags=[0, 4, 1, 3], hashed_oids=["a", "e", "b", "d"])
    mtimes = Int64s([old, old, old, racy, old])
    rows, oids = _fresh(ingester, mtimes, started)
    assert (rows, oids) == ([0, 1, 4], ["a", "b", "e"])
    assert ingester.hashed_tags == [] and ingester.hashed_oids == []
    known = pa.array([None, None, "c", None, None], pa.string())
    assert _with_oids(known, rows, oids).to_pylist() == ["a", "b", "c", None, "e"]
    few = pa.array([None, *["k"] * 30], pa.string())
    assert _with_oids(few, [0, 30], ["x", "y"]).to_pylist() == ["x", *["k"] * 29, "y"]


def test_only_a_commit_of_many_files_tunes_the_heap(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dvlin.ops import commit_tree

    calls: list[int] = []
    monkeypatch.setattr(commit_tree, "_heap_for_many_files", lambda: calls.append(1))
    write_tree(repo.root, {f"d/f{i}.txt": f"{i}" for i in range(5)})
    repo.commit(["d"], name="d")
    assert calls == []
    monkeypatch.setattr(commit_tree, "MANY_FILES", 3)
    write_tree(repo.root, {f"e/f{i}.txt": f"{i}" for i in range(5)})
    assert repo.commit(["e"], name="e").version.files == 5
    assert calls == [1]


@pytest.mark.parametrize("batch", [2, 4096])
def test_files_whose_oids_the_stat_cache_knows_are_looked_up_in_one_query(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    from dvlin.ops import commit_tree

    monkeypatch.setattr(commit_tree, "LOOK_UP_ROWS", batch)  # a query per two rows, or one
    files = {f"d/f{i}.txt": f"content {i}" for i in range(6)}
    _aged(repo, files)
    first = repo.commit(["d"], name="d")
    # Three files take contents the catalog holds already (another file's); a status hashes
    # them, so the stat cache knows their oids when the commit comes.
    swapped = {"d/f0.txt": "content 1", "d/f1.txt": "content 2", "d/f5.txt": "content 0"}
    _aged(repo, swapped)
    repo.status()
    from dvlin.catalog.objects import ObjectQueries
    from dvlin.ops.manifests import load_entries

    def one_by_one(self: ObjectQueries, oid: str) -> object:
        raise AssertionError(f"{oid} was looked up alone")

    monkeypatch.setattr(ObjectQueries, "find_object", one_by_one)
    second = repo.commit(["d"], name="d")
    assert second.diff.changed == ("f0.txt", "f1.txt", "f5.txt")
    ours = load_entries(repo, second.version)
    theirs = load_entries(repo, first.version)
    assert ours["f0.txt"].oid == theirs["f1.txt"].oid
    assert ours["f5.txt"].oid == theirs["f0.txt"].oid
    assert (ours["f1.txt"].pack, ours["f1.txt"].offset) == (
        theirs["f2.txt"].pack,
        theirs["f2.txt"].offset,
    )


def test_a_manifest_written_beside_the_digest_has_the_reference_bytes(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dvlin.objects.manifest import to_parquet, tree_digest
    from dvlin.ops import commit_tree
    from dvlin.ops.manifests import load_entries

    monkeypatch.setattr(commit_tree, "WRITE_BESIDE_FROM", 0)  # every manifest in the thread
    files = _paths_tree(30)
    _aged(repo, files)
    first = repo.commit(["d"], name="d")
    _aged(repo, {"d/0/f000.txt": "new", "d/6/f006.txt": "new too", "d/7/added.txt": "x"})
    second = repo.commit(["d"], name="d")
    for version in (first.version, second.version):
        entries = sorted(load_entries(repo, version).values(), key=lambda e: e.path.encode())
        assert repo.store.get(version.manifest) == to_parquet(entries)
        assert version.tree == tree_digest(repo.config.hash, entries)
