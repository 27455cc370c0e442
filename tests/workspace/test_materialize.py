"""Materialising entries: exact bytes and modes, never through a symlink, verified reads.

Atomic publication and link-mode fallbacks are in test_writer.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem

from dvlin.errors import ConflictError, IntegrityError
from dvlin.objects.hashing import hash_bytes
from dvlin.objects.manifest import DIR_MODE, EXEC_MODE, FILE_MODE, LINK_MODE, Chunk, Entry
from dvlin.objects.store import ObjectStore
from dvlin.workspace.folders import remove, safe_parent
from dvlin.workspace.materialize import Writer, make_dir, write_link

ALG = "xxh3-128"


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(LocalFileSystem(), str(tmp_path / "objects"), algorithm=ALG)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    (tmp_path / "out").mkdir()
    return tmp_path / "out"


def loose(store: ObjectStore, path: str, data: bytes, mode: int = FILE_MODE) -> Entry:
    return Entry(path, "file", mode, len(data), store.put(data))


def packed(store: ObjectStore, blobs: dict[str, bytes]) -> list[Entry]:
    pack = store.put(b"".join(blobs.values()))
    entries, offset = [], 0
    for path, data in blobs.items():
        entries.append(
            Entry(path, "file", FILE_MODE, len(data), hash_bytes(ALG, data), None, pack, offset)
        )
        offset += len(data)
    return entries


@pytest.mark.parametrize("n", [2, 6])  # below and above the whole-pack threshold
def test_loose_and_packed_files_are_written_exactly(store: ObjectStore, out: Path, n: int) -> None:
    blobs = {f"p/{i}.txt": f"blob {i}".encode() * (i + 1) for i in range(n)} | {"p/empty": b""}
    entries = [
        loose(store, "a/big.bin", os.urandom(200_000)),
        loose(store, "run.sh", b"#!", EXEC_MODE),
    ]
    entries += packed(store, blobs)
    writer = Writer(store, str(out), link="copy")
    done: list[str] = []
    writer.write_all(entries, lambda e: done.append(e.path))
    assert sorted(done) == sorted(e.path for e in entries)
    for path, data in blobs.items():
        assert (out / path).read_bytes() == data
    assert (out / "run.sh").stat().st_mode & 0o111
    assert not (out / "a/big.bin").stat().st_mode & 0o111
    assert writer.bytes == sum(e.size for e in entries)


def test_a_chunked_file_is_streamed_and_checked_whole(store: ObjectStore, out: Path) -> None:
    parts = [b"a" * 1000, b"b" * 2000, b"c" * 10]
    chunks = tuple(Chunk(store.put(p), len(p)) for p in parts)
    whole = b"".join(parts)
    entry = Entry("big", "file", FILE_MODE, len(whole), hash_bytes(ALG, whole), chunks=chunks)
    Writer(store, str(out), link="copy").write_one(entry)
    assert (out / "big").read_bytes() == whole
    lying = entry._replace(oid=hash_bytes(ALG, b"something else"))
    with pytest.raises(IntegrityError, match="chunks of big2 do not add up"):
        Writer(store, str(out), link="copy").write_one(lying._replace(path="big2"))
    assert not (out / "big2").exists()


def test_a_corrupt_packed_blob_is_never_written(store: ObjectStore, out: Path) -> None:
    (entry,) = packed(store, {"f": b"good bytes"})
    with pytest.raises(IntegrityError):
        Writer(store, str(out), link="copy").write_one(entry._replace(oid=hash_bytes(ALG, b"x")))
    assert not (out / "f").exists()


def test_an_existing_path_is_replaced_through_a_temporary_name(
    store: ObjectStore, out: Path
) -> None:
    (out / "f").write_text("old")
    entry = loose(store, "f", b"new")
    Writer(store, str(out), link="copy").write_one(entry)
    assert (out / "f").read_bytes() == b"new"
    assert os.listdir(out) == ["f"]


def test_nothing_is_written_through_a_symlinked_folder(
    store: ObjectStore, out: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "d")
    with pytest.raises(IntegrityError, match="refusing to write d/f: d is not a real folder"):
        Writer(store, str(out), link="copy").write_one(loose(store, "d/f", b"x"))
    assert list(elsewhere.iterdir()) == []


def test_safe_parent_makes_missing_folders(out: Path) -> None:
    assert safe_parent(str(out), "a/b/c.txt") == f"{out}/a/b/c.txt"
    assert (out / "a/b").is_dir()


def test_links_and_folders(out: Path) -> None:
    make_dir(str(out), Entry("d", "dir", DIR_MODE))
    make_dir(str(out), Entry("d", "dir", DIR_MODE))  # already there: fine
    write_link(str(out), Entry("d/l", "link", LINK_MODE, target="../x"))
    write_link(str(out), Entry("d/l", "link", LINK_MODE, target="../y"))  # replaced atomically
    assert os.readlink(out / "d/l") == "../y"
    (out / "f").write_text("a file")
    with pytest.raises(IntegrityError, match="something other than a folder"):
        make_dir(str(out), Entry("f", "dir", DIR_MODE))


def test_remove_goes_deepest_first_and_refuses_a_folder_that_filled(out: Path) -> None:
    (out / "d/e").mkdir(parents=True)
    (out / "d/e/f").write_text("x")
    entries = [
        Entry("d", "dir", DIR_MODE),
        Entry("d/e", "dir", DIR_MODE),
        Entry("d/e/f", "file", FILE_MODE),
    ]
    assert remove(str(out), entries + [Entry("gone", "file", FILE_MODE)]) == 3
    assert list(out.iterdir()) == []
    (out / "d").mkdir()
    (out / "d/stranger").write_text("appeared")
    with pytest.raises(ConflictError, match="d is not empty"):
        remove(str(out), [Entry("d", "dir", DIR_MODE)])


def test_hardlinks_fall_back_to_copies_for_root(store: ObjectStore, out: Path) -> None:
    entry = loose(store, "f", b"linked or copied")
    writer = Writer(store, str(out), link="hardlink")
    writer.write_one(entry)
    assert (out / "f").read_bytes() == b"linked or copied"
    linked = os.stat(out / "f").st_ino == os.stat(store.local_path(entry.oid or "") or "").st_ino
    assert linked is (os.geteuid() != 0)
    assert sum(writer.fallbacks.values()) == (1 if os.geteuid() == 0 else 0)
