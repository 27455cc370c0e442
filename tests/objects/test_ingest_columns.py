"""A commit's scan and new objects held as arrays give what the straightforward path gives.

The scan keeps its numbers in 8-byte arrays and the ingester keeps no object per stored blob:
its catalog rows come from its manifest rows by columns. These tests compare both with a
reference built one file at a time (``os.lstat``, hashing every file, one record per distinct
blob) on random trees with odd names, empty files, duplicates, executables and links, with
packs and batches made tiny so that one example crosses many of them.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin import Repo
from dvlin.objects import ingest
from dvlin.objects.arrays import Int64s, UInt64s
from dvlin.objects.hashing import hash_bytes
from dvlin.objects.manifest import EXEC_MODE, FILE_MODE, table_entries
from dvlin.objects.store import ObjectStore, StoredObject
from dvlin.ops.manifests import load_manifest
from dvlin.workspace.scan import Item, scan_columns
from tests.objects.memory_index import MemoryIndex

NAMES = ["a", "b.txt", "sub/c", "sub/deep/d.csv", "ünï/é", "tab\tx", "new\nline", "-x", "日本/語"]
NAMES += [" lead", "trail ", "semi;colon", "quote'\"", "z" * 90, "sub/a", "%41"]
BLOBS = [b"", b"1", b"22", b"hello", b"x" * 70, bytes(range(256)), b"y" * 3000]
SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TREES = st.lists(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(BLOBS), st.booleans()),
    min_size=1,
    max_size=14,
)


def _make(root: Path, tree: list[tuple[str, bytes, bool]], links: list[tuple[str, str]]) -> None:
    for name, blob, executable in tree:
        target = root / name
        if target.is_dir() or any(p.is_file() for p in target.parents if p != root):
            continue  # a name taken by a folder, or under a file: skip it
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
        target.chmod(0o755 if executable else 0o644)
    for name, to in links:
        where = root / name
        if not os.path.lexists(where) and where.parent.is_dir():
            os.symlink(to, where)


def _reference_items(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path under ``root`` with what a scan reports, from ``os.lstat`` one by one."""
    found: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            full = Path(folder) / name
            rel = full.relative_to(root).as_posix()
            st_ = os.lstat(full)
            if stat.S_ISLNK(st_.st_mode):
                found[rel] = ("link", st_.st_ino, os.readlink(full))
            elif stat.S_ISDIR(st_.st_mode):
                found[rel] = ("dir", st_.st_ino, None)
            else:
                mode = EXEC_MODE if st_.st_mode & 0o111 else FILE_MODE
                found[rel] = ("file", mode, st_.st_size, st_.st_mtime_ns, st_.st_ino)
    return found


@SETTINGS
@given(TREES, st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(["b.txt", "../out"]))))
def test_the_scan_columns_are_what_lstat_reports_and_convert_to_arrow_exactly(
    tmp_path_factory: pytest.TempPathFactory,
    tree: list[tuple[str, bytes, bool]],
    links: list[tuple[str, str]],
) -> None:
    root = tmp_path_factory.mktemp("tree")
    _make(root, tree, links)
    cols = scan_columns(str(root), ["."], strict=False)
    assert isinstance(cols.size, Int64s) and isinstance(cols.inode, UInt64s)
    got: dict[str, tuple[object, ...]] = {}
    for it in cols:
        if it.type == "file":
            got[it.path] = ("file", it.mode, it.size, it.mtime_ns, it.inode)
        else:
            got[it.path] = (it.type, it.inode, it.target)
    assert got == _reference_items(root)
    # Arrow takes the arrays from their bytes: the same values as from the Python ints.
    for name, kind in [("mode", pa.int32()), ("size", pa.int64()), ("inode", pa.uint64())]:
        values = getattr(cols, name)
        assert pa.array(values, kind).to_pylist() == list(values)
    assert pa.array(cols.mtime_ns).to_pylist() == list(cols.mtime_ns)


@SETTINGS
@given(
    TREES,
    TREES,
    st.integers(1, 4),
    st.sampled_from([1, 80, 400, 10_000]),
    st.sampled_from([100, 200_000]),
)
def test_new_object_rows_are_one_per_distinct_blob_and_locate_its_bytes(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    first: list[tuple[str, bytes, bool]],
    second: list[tuple[str, bytes, bool]],
    batch: int,
    pack_target: int,
    pack_max: int,
) -> None:
    monkeypatch.setattr(ingest, "_BATCH_FILES", batch)
    monkeypatch.setattr(ingest, "PACK_TARGET", pack_target)
    monkeypatch.setattr(ingest, "PACK_MAX_BLOB", pack_max)  # 100: some blobs loose
    root = tmp_path_factory.mktemp("ingest")
    index = MemoryIndex()
    store = ObjectStore.local(str(root / "objects"), algorithm="xxh3-128", index=index)
    for round_no, files in enumerate((first, second)):
        data = root / f"d{round_no}"
        _make(data, files, [])
        ing = ingest.Ingester(store, index)
        ing.catalog_empty = not index.objects
        reference: dict[str, bytes] = {}
        for folder, _, names in os.walk(data):
            for name in names:
                full = Path(folder) / name
                path = full.relative_to(data).as_posix()
                reference[path] = full.read_bytes()
                ing.add_file(str(full), path, FILE_MODE, len(reference[path]))
        manifest = ing.finish_table()
        store.sync()  # loose objects are written on a thread
        rows = ing.new_object_table(manifest).to_pylist()
        # One row per new object; every blob not stored by an earlier round is one of them.
        oids = [r["oid"] for r in rows]
        assert len(oids) == len(set(oids))
        blobs = {hash_bytes("xxh3-128", b): b for b in reference.values()}
        new_blobs = {o for o in blobs if o not in index.objects}
        packs = {r["pack"] for r in rows if r["pack"] not in (None, r["oid"])}
        assert set(oids) == new_blobs | packs
        found = {r["oid"]: StoredObject(r["oid"], r["size"], r["pack"], r["offset"]) for r in rows}
        index.objects.update(found)
        for oid in new_blobs:
            obj = found[oid]
            assert obj.size == len(blobs[oid])
            if obj.pack in (None, oid):
                assert store.get(oid) == blobs[oid]
            else:
                # The pack's own row (a pack whose bytes are one blob is that blob's row).
                assert obj.offset is not None and found[obj.pack].pack in (None, obj.pack)
                assert store.get_slice(obj.pack, obj.offset, obj.size, oid) == blobs[oid]
        # The manifest's rows are the reference's files, each pointing where its blob is.
        entries = {e.path: e for e in table_entries(manifest)}
        assert {p: (e.size, e.oid) for p, e in entries.items()} == {
            p: (len(b), hash_bytes("xxh3-128", b)) for p, b in reference.items()
        }
        for e in entries.values():
            assert e.oid is not None
            where = index.objects[e.oid]
            assert (e.pack, e.offset) == (where.pack, where.offset)


@SETTINGS
@given(TREES, st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(["b.txt", "../out"]))))
def test_a_commit_records_its_blobs_and_the_stat_cache_it_writes_round_trips(
    tmp_path_factory: pytest.TempPathFactory,
    tree: list[tuple[str, bytes, bool]],
    links: list[tuple[str, str]],
) -> None:
    from dvlin.ops.status import stat_cache
    from dvlin.workspace.statcache import fingerprint

    root = tmp_path_factory.mktemp("repo")
    repo = Repo.init(root)
    try:
        data = root / "d"
        _make(data, tree, links)
        old = time.time_ns() - 60 * 1_000_000_000  # nothing racy: every file is vouched for
        for folder, dirs, files in os.walk(data):
            for name in [*dirs, *files]:
                os.utime(Path(folder) / name, ns=(old, old), follow_symlinks=False)
        result = repo.commit([str(data)], name="d")
        version = repo.catalog.latest_version("d")
        assert version is not None and result.created
        manifest = load_manifest(repo, version)
        for e in manifest.entries():
            if e.type != "file":
                continue
            assert e.oid is not None
            row = repo.catalog.find_object(e.oid)
            assert row is not None and (row.pack, row.offset) == (e.pack, e.offset)
            got = (
                repo.store.get(e.oid)
                if e.pack is None
                else repo.store.get_slice(e.pack, e.offset or 0, e.size, e.oid)
            )
            assert got == (data / e.path).read_bytes()
        stored = {r[0] for r in repo.catalog.conn.execute("SELECT oid FROM objects")}
        assert manifest.storage_oids() <= stored
        # The stat cache the commit wrote: the scan's rows, the oids, and the tree it vouches.
        cache = stat_cache(repo, version.base, version.roots)
        scanned = scan_columns(str(data), ["."], strict=False)
        assert cache.table is not None
        rows = cache.table.to_pylist()
        assert [
            Item(r["path"], r["type"], r["mode"], r["size"], r["mtime_ns"], r["inode"], r["target"])
            for r in rows
        ] == [Item(*it[:7]) for it in scanned]
        oids = {e.path: e.oid for e in manifest.entries() if e.type == "file"}
        assert [r["oid"] for r in rows] == [oids.get(it.path) for it in scanned]
        assert [r["ctime_ns"] for r in rows] == list(scanned.ctime_ns)
        assert cache.tree == version.tree and cache.scanned == fingerprint(scanned)
        assert cache.matches(scanned)
        assert repo.status().clean
    finally:
        repo.close()


def test_the_fingerprint_of_array_columns_is_the_one_list_columns_gave() -> None:
    # Heads written before the scan kept arrays still vouch: the bytes hashed are the same.
    import xxhash

    from dvlin.workspace.scan import Columns
    from dvlin.workspace.statcache import fingerprint

    cols = Columns()
    for i, path in enumerate(["a", "ünï/é", "b/c"]):
        cols.add(Item(path, "file", FILE_MODE, i * 1000, 10**18 + i, 2**63 + i), 10**17 + i)
    cols.add(Item("d", "dir", 0o755, 0, 0, 5))
    h = xxhash.xxh3_128()
    h.update("\0".join(cols.path).encode("utf-8", "surrogateescape"))
    h.update("\0".join(cols.type).encode())
    from array import array

    h.update(array("q", list(cols.mode)))
    h.update(array("q", list(cols.size)))
    h.update(array("q", list(cols.mtime_ns)))
    h.update(array("Q", list(cols.inode)))
    h.update(array("q", list(cols.ctime_ns)))
    assert fingerprint(cols) == h.hexdigest()
