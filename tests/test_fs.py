"""``dvlin://``: versions read through fsspec, pyarrow and pandas without a checkout."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import cast

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dvlin
from dvlin.errors import IntegrityError, NotFoundError
from dvlin.fs import DvlinFileSystem
from dvlin.objects.ingest import CHUNK_MIN_FILE
from dvlin.objects.store import ObjectStore
from dvlin.repo import Repo
from tests.conftest import write_tree


def _table(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    return pa.table(
        {
            "id": list(range(n)),
            "score": [rng.random() for _ in range(n)],
            "tag": ["a", "b"] * (n // 2),
        }
    )


@pytest.fixture
def events(repo: Repo) -> Repo:
    """events@v1 and events@v2: two parquet parts each (one packed, one loose), tagged."""
    folder = repo.root / "data" / "events"
    folder.mkdir(parents=True)
    pq.write_table(_table(100, 1), folder / "part-0.parquet")
    pq.write_table(_table(40_000, 2), folder / "part-1.parquet")  # > 128 KiB: a loose object
    repo.commit(["data/events"], name="events", tags=["first"])
    pq.write_table(_table(200, 3), folder / "part-0.parquet")
    repo.commit(["data/events"], name="events")
    return repo


def test_the_protocol_is_registered(repo: Repo) -> None:
    assert isinstance(fsspec.filesystem("dvlin"), DvlinFileSystem)
    assert fsspec.get_filesystem_class("dvlin") is DvlinFileSystem


def test_files_read_through_the_filesystem_equal_the_checked_out_bytes(
    events: Repo, tmp_path: Path
) -> None:
    fs = fsspec.filesystem("dvlin")
    events.checkout("events@v1", to=tmp_path / "v1")
    for name in ("part-0.parquet", "part-1.parquet"):
        want = (tmp_path / "v1" / name).read_bytes()
        assert fs.cat_file(f"events@first/{name}") == want
        with fsspec.open(f"dvlin://events@v1/{name}", "rb") as f:
            assert f.read() == want
    assert (
        fs.cat_file("dvlin://events/part-0.parquet")
        == (events.root / "data/events/part-0.parquet").read_bytes()
    )


def test_ls_and_info(events: Repo) -> None:
    fs = fsspec.filesystem("dvlin")
    assert fs.ls("events@v2", detail=False) == [
        "events@v2/part-0.parquet",
        "events@v2/part-1.parquet",
    ]
    info = fs.info("dvlin://events@v2/part-1.parquet")
    assert info["type"] == "file"
    assert info["size"] == (events.root / "data/events/part-1.parquet").stat().st_size
    assert fs.info("events@v2")["type"] == "directory"
    assert fs.ls("", detail=False) == ["events"]
    assert not fs.exists("events@v2/nope.parquet")
    with pytest.raises(FileNotFoundError):
        fs.cat_file("events@v2/nope.parquet")
    with pytest.raises(NotFoundError):
        fs.info("events@v9/part-0.parquet")


def test_pyarrow_reads_a_table_and_a_dataset(events: Repo, tmp_path: Path) -> None:
    import pyarrow.dataset as ds

    fs = fsspec.filesystem("dvlin")
    events.checkout("events@v1", to=tmp_path / "v1")
    want = pq.read_table(tmp_path / "v1" / "part-0.parquet")
    assert pq.read_table("events@v1/part-0.parquet", filesystem=fs).equals(want)

    dataset = ds.dataset("events@first/", filesystem=fs, format="parquet")
    got = dataset.to_table().sort_by("id")
    expected = ds.dataset(str(tmp_path / "v1"), format="parquet").to_table().sort_by("id")
    assert got.equals(expected)


def test_pandas_reads_a_version(events: Repo, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    events.checkout("events@v1", to=tmp_path / "v1")
    got = pd.read_parquet("dvlin://events@v1/part-0.parquet")
    assert got.equals(pd.read_parquet(tmp_path / "v1" / "part-0.parquet"))


def test_repo_named_in_the_url(
    events: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with fsspec.open(f"dvlin://events@v2/part-0.parquet?repo={events.root}", "rb") as f:
        assert f.read() == (events.root / "data/events/part-0.parquet").read_bytes()
    fs = fsspec.filesystem("dvlin", repo=str(events.root))
    assert fs.ls("events@v2", detail=False)


def test_a_range_read_touches_only_the_chunks_it_needs(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = random.Random(5).randbytes(3 * CHUNK_MIN_FILE)
    (repo.root / "big.bin").write_bytes(data)
    repo.commit(["big.bin"], name="big")
    fs = fsspec.filesystem("dvlin")
    entry = fs._entry("big@v1/big.bin")[2]
    assert entry.chunks is not None and len(entry.chunks) > 5

    read: list[str] = []
    real_get = ObjectStore.get

    def counting_get(self: ObjectStore, oid: str) -> bytes:
        read.append(oid)
        return real_get(self, oid)

    monkeypatch.setattr(ObjectStore, "get", counting_get)
    start = len(data) // 2
    got = fs.cat_file("big@v1/big.bin", start=start, end=start + 1000)
    assert got == data[start : start + 1000]
    offsets, pos = [], 0
    for c in entry.chunks:
        offsets.append((pos, pos + c.size, c.oid))
        pos += c.size
    needed = [oid for lo, hi, oid in offsets if hi > start and lo < start + 1000]
    assert read == needed
    assert 1 <= len(needed) <= 2

    read.clear()
    with fs.open("big@v1/big.bin", block_size=64 * 1024) as f:
        f.seek(len(data) - 10)
        assert f.read() == data[-10:]
    assert read == [entry.chunks[-1].oid]


@pytest.mark.parametrize("name", ["part-0.parquet", "part-1.parquet"])
def test_a_corrupt_object_raises_instead_of_returning_data(events: Repo, name: str) -> None:
    fs = fsspec.filesystem("dvlin")
    entry = fs._entry(f"events@v1/{name}")[2]
    oid = entry.pack or entry.oid
    path = Path(events.store.path(oid))
    os.chmod(path, 0o644)
    raw = bytearray(path.read_bytes())
    raw[(entry.offset or 0) + 10] ^= 0xFF
    path.write_bytes(bytes(raw))
    fresh = fsspec.filesystem("dvlin")
    with pytest.raises(IntegrityError, match="corrupt.*events@v1"):
        fresh.cat_file(f"events@v1/{name}")
    with pytest.raises(IntegrityError), fresh.open(f"events@v1/{name}") as f:
        f.read()
    with pytest.raises(IntegrityError):
        pq.read_table(f"events@v1/{name}", filesystem=fresh)


def test_links_inside_a_version_are_followed(repo: Repo) -> None:
    write_tree(
        repo.root / "tree",
        {"real/a.txt": b"alpha", "alias": ("link", "real"), "b.txt": ("link", "real/a.txt")},
    )
    repo.commit(["tree"], name="tree")
    fs = fsspec.filesystem("dvlin")
    assert fs.cat_file("tree@v1/b.txt") == b"alpha"
    assert fs.cat_file("tree@v1/alias/a.txt") == b"alpha"
    assert fs.info("tree@v1/alias")["type"] == "directory"


def test_the_filesystem_is_read_only(events: Repo) -> None:
    fs = fsspec.filesystem("dvlin")
    with pytest.raises(PermissionError):
        fs.open("events@v1/part-0.parquet", "wb")


def test_versions_read_inside_track_become_inputs(events: Repo) -> None:
    (events.root / "out").mkdir()
    with dvlin.track("summarise", outputs={"out": "summary"}, repo=events) as run:
        table = pq.read_table("events@first/part-0.parquet", filesystem=fsspec.filesystem("dvlin"))
        (events.root / "out" / "rows.txt").write_text(str(table.num_rows))
    assert run.result is not None
    v1 = events.resolve("events@v1")
    assert [v.id for v in run.result.inputs] == [v1.id]
    edges = events.catalog.conn.execute(
        "SELECT src FROM edges WHERE dst = ?", (run.result.run.id,)
    ).fetchall()
    assert edges == [(v1.id,)]


def test_many_paths_at_once(events: Repo) -> None:
    fs = fsspec.filesystem("dvlin")
    got = fs.cat(["dvlin://events@v1/part-0.parquet", "events@v2/part-0.parquet"])
    assert set(got) == {"events@v1/part-0.parquet", "events@v2/part-0.parquet"}
    assert (
        got["events@v2/part-0.parquet"] == (events.root / "data/events/part-0.parquet").read_bytes()
    )
    assert sorted(fs.find("events@v1")) == ["events@v1/part-0.parquet", "events@v1/part-1.parquet"]


def test_any_store(any_repo: Repo) -> None:
    write_tree(any_repo.root, {"d/a.bin": os.urandom(300_000), "d/s.txt": "small"})
    any_repo.commit(["d"], name="d")
    fs = DvlinFileSystem()
    assert fs.cat_file("d@v1/a.bin") == (any_repo.root / "d/a.bin").read_bytes()
    assert fs.cat_file("d@v1/s.txt", start=1, end=3) == b"ma"


@pytest.mark.parametrize(
    "call",
    [
        lambda fs: fs.rm("events@v1/part-0.parquet"),
        lambda fs: fs.rm_file("events@v1/part-0.parquet"),
        lambda fs: fs.pipe_file("events@v1/new.txt", b"x"),
        lambda fs: fs.mkdir("events@v1/new"),
        lambda fs: fs.makedirs("events@v1/new/deeper"),
        lambda fs: fs.rmdir("events@v1"),
        lambda fs: fs.touch("events@v1/new.txt"),
        lambda fs: fs.mv("events@v1/part-0.parquet", "events@v1/moved.parquet"),
        lambda fs: fs.cp_file("events@v1/part-0.parquet", "events@v1/copy.parquet"),
        lambda fs: fs.put_file(__file__, "events@v1/put.py"),
    ],
)
def test_every_writing_call_is_refused_as_read_only(events: Repo, call) -> None:  # type: ignore[no-untyped-def]
    fs = fsspec.filesystem("dvlin")
    before = fs.ls("events@v1", detail=False)
    with pytest.raises(PermissionError, match="dvlin:// is read-only"):
        call(fs)
    assert fs.ls("events@v1", detail=False) == before


def test_an_absolute_link_never_resolves_inside_the_version(repo: Repo) -> None:
    write_tree(
        repo.root / "tree",
        {"etc/passwd": b"inside", "abs": ("link", "/etc/passwd"), "a.txt": b"a"},
    )
    repo.commit(["tree"], name="tree")
    fs = fsspec.filesystem("dvlin")
    with pytest.raises(FileNotFoundError, match="'abs' links outside the version"):
        fs.cat_file("tree@v1/abs")
    assert fs.ls("tree@v1", detail=False) == ["tree@v1/a.txt", "tree@v1/etc"]


def test_dot_segments_are_harmless_and_dotdot_never_climbs(repo: Repo) -> None:
    write_tree(repo.root, {"a/x.txt": b"x", "b/secret.txt": b"s"})
    repo.commit(["a"], name="a")
    repo.commit(["b"], name="b")
    fs = fsspec.filesystem("dvlin")
    assert fs.cat_file("a@v1/./x.txt") == b"x"
    assert fs.cat_file("a@v1//x.txt") == b"x"
    for path in ("a@v1/../b@v1/secret.txt", "a@v1/x/../../b/secret.txt", "a@v1/.."):
        with pytest.raises(FileNotFoundError):
            fs.cat_file(path)


def test_folder_children_by_columns_match_the_entry_walk() -> None:
    from dvlin.catalog import Version
    from dvlin.fs import _Resolved
    from dvlin.objects import manifest as manifests
    from dvlin.objects.manifest import Entry, Manifest

    tree = Manifest.from_entries(
        [
            Entry("a", "dir", 0o755),
            Entry("a/b", "file", 0o644, 1, "1" * 32),
            Entry("a/c", "dir", 0o755),
            Entry("a/c/d", "file", 0o644, 1, "2" * 32),
            Entry("ab", "file", 0o644, 1, "3" * 32),
            Entry("é/x y", "file", 0o644, 1, "4" * 32),
            Entry("é", "dir", 0o755),
        ]
    )
    resolved = _Resolved(cast(Version, None), tree)
    folders = ["", "a", "a/c", "é", "missing"]
    by_entries = {f: resolved.children(f) for f in folders}
    saved, manifests.SMALL = manifests.SMALL, 0
    try:
        assert {f: resolved.children(f) for f in folders} == by_entries
    finally:
        manifests.SMALL = saved
    assert [e.path for e in by_entries[""]] == ["a", "ab", "é"]
    assert [e.path for e in by_entries["a"]] == ["a/b", "a/c"]
    assert [e.path for e in by_entries["é"]] == ["é/x y"]
