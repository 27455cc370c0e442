"""Writing a chunked file: from the store, or the shared chunks from the file it replaces."""

from __future__ import annotations

import ctypes
import errno
import os
import random
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin.errors import IntegrityError
from dvlin.objects.entry import Chunk
from dvlin.objects.hashing import Oid, hash_bytes
from dvlin.objects.manifest import Entry
from dvlin.objects.packs import PackWriter
from dvlin.objects.store import ObjectStore
from dvlin.workspace import chunked
from dvlin.workspace.chunked import write_chunked
from tests.objects.memory_index import MemoryIndex

ALG = "xxh3-128"


def _store(root: Path, blobs: list[bytes], *, loose: Iterable[int] = ()) -> ObjectStore:
    """A store holding ``blobs``: in small packs, or loose for the indices in ``loose``."""
    index = MemoryIndex()
    store = ObjectStore.local(str(root), algorithm=ALG, index=index)
    packs = PackWriter(store, target=64 * 1024)
    seen: set[str] = set()
    apart = set(loose)
    for i, blob in enumerate(blobs):
        oid = hash_bytes(ALG, blob)
        if oid in seen:
            continue
        seen.add(oid)
        if i in apart:
            store.put(blob, oid)
        else:
            packs.add(blob, oid)
    for found in packs.finish():
        index.objects[found.oid] = found
    store.sync()
    return store


def _entry(path: str, blobs: list[bytes], order: list[int]) -> tuple[Entry, bytes]:
    data = b"".join(blobs[i] for i in order)
    chunks = tuple(Chunk(hash_bytes(ALG, blobs[i]), len(blobs[i])) for i in order)
    return Entry(path, "file", 0o644, len(data), hash_bytes(ALG, data), chunks=chunks), data


def _write(store: ObjectStore, folder: Path, e: Entry, present: Entry | None) -> int:
    full = folder / e.path
    tmp = folder / f".{e.path}.dvlin-0000"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    return write_chunked(store, e, fd, str(tmp), str(full), present=present)


def _leftovers(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if n.startswith(".")]


BLOBS = [random.Random(i).randbytes(random.Random(-i).randint(1, 200_000)) for i in range(10)]


@pytest.fixture(params=["kernel copy", "buffer copy"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ObjectStore:
    """The store, and the copy: by the kernel, or through a buffer where it is refused."""
    if request.param == "buffer copy":
        monkeypatch.setattr(chunked, "_kernel_copy", [False])
    return _store(tmp_path / "objects", BLOBS, loose=[9])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ([0, 1, 2, 3], [7, 1, 2, 3]),  # the first chunk differs
        ([0, 1, 2, 3], [0, 1, 8, 3]),  # one in the middle
        ([0, 1, 2, 3], [0, 1, 2, 6]),  # the last
        ([0, 1, 2, 3], [4, 5, 6]),  # nothing shared
        ([0, 1, 2, 3], [3, 2, 1, 0, 0, 9]),  # shared, moved, repeated, one loose
    ],
)
def test_shared_chunks_come_from_the_file_it_replaces(
    store: ObjectStore, tmp_path: Path, old: list[int], new: list[int]
) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    present, old_bytes = _entry("big.bin", BLOBS, old)
    e, want = _entry("big.bin", BLOBS, new)
    (folder / "big.bin").write_bytes(old_bytes)
    reused = _write(store, folder, e, present)
    assert (folder / "big.bin").read_bytes() == want
    assert reused == sum(len(BLOBS[i]) for i in new if i in old)
    assert _leftovers(folder) == []


@pytest.mark.parametrize("refused", [False, True])
def test_the_working_files_pages_are_dropped_as_its_chunks_are_copied(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused: bool
) -> None:
    """Each range copied from the file being replaced is handed back to the kernel right
    after its copy (so the new file can take those pages); the store's packs are not. A
    kernel or file system that refuses the hint changes nothing."""
    folder = tmp_path / "w"
    folder.mkdir()
    present, old_bytes = _entry("big.bin", BLOBS, [0, 1, 2, 3])
    e, want = _entry("big.bin", BLOBS, [0, 1, 8, 3, 1])
    (folder / "big.bin").write_bytes(old_bytes)
    old_inode = (folder / "big.bin").stat().st_ino
    dropped: list[tuple[int, int, int]] = []

    def fadvise(fd: int, offset: int, size: int, advice: int) -> None:
        dropped.append((os.fstat(fd).st_ino, offset, size))
        assert advice == os.POSIX_FADV_DONTNEED
        if refused:
            raise OSError(errno.ESPIPE, "refused")

    monkeypatch.setattr(chunked, "_fadvise", fadvise)
    reused = _write(store, folder, e, present)
    assert (folder / "big.bin").read_bytes() == want
    assert reused == sum(len(BLOBS[i]) for i in (0, 1, 3, 1))
    at = {0: 0, 1: len(BLOBS[0]), 3: len(BLOBS[0]) + len(BLOBS[1]) + len(BLOBS[2])}
    assert dropped == [(old_inode, at[i], len(BLOBS[i])) for i in (0, 1, 3, 1)]
    assert _leftovers(folder) == []


def test_without_a_present_file_everything_comes_from_the_store(
    store: ObjectStore, tmp_path: Path
) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    present, _ = _entry("big.bin", BLOBS, [0, 1, 2])
    e, want = _entry("big.bin", BLOBS, [0, 1, 5])
    assert _write(store, folder, e, present) == 0  # the working file is missing
    assert (folder / "big.bin").read_bytes() == want
    assert _write(store, folder, e, None) == 0
    assert (folder / "big.bin").read_bytes() == want


@pytest.mark.parametrize("change", ["same size, same time", "other path's content", "shorter"])
def test_a_working_file_that_changed_after_the_stat_check_still_gives_the_version(
    store: ObjectStore, tmp_path: Path, change: str
) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    present, old_bytes = _entry("big.bin", BLOBS, [0, 1, 2, 3])
    e, want = _entry("big.bin", BLOBS, [0, 1, 4, 3])
    target = folder / "big.bin"
    if change == "same size, same time":
        # An edit the stat cache cannot see: same size, modification time put back.
        target.write_bytes(old_bytes)
        st = target.stat()
        target.write_bytes(bytes(len(old_bytes)))
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "other path's content":
        _, other = _entry("x", BLOBS, [5, 6])
        target.write_bytes(other)
        present = present._replace(size=len(other))  # what a lying cache would say
    else:
        target.write_bytes(old_bytes[:-10])
    assert _write(store, folder, e, present) == 0
    assert target.read_bytes() == want
    assert _leftovers(folder) == []


def test_a_corrupt_chunk_in_the_store_leaves_the_old_file(
    store: ObjectStore, tmp_path: Path
) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    present, old_bytes = _entry("big.bin", BLOBS, [0, 1])
    e, _ = _entry("big.bin", BLOBS, [0, 9])  # blob 9 is loose
    path = Path(store.path(hash_bytes(ALG, BLOBS[9])))
    path.chmod(0o644)
    path.write_bytes(b"x" + BLOBS[9][1:])
    (folder / "big.bin").write_bytes(old_bytes)
    with pytest.raises(IntegrityError, match="corrupt"):
        _write(store, folder, e, present)
    assert (folder / "big.bin").read_bytes() == old_bytes
    assert _leftovers(folder) == []


def test_chunks_that_do_not_add_up_to_the_oid_are_refused(
    store: ObjectStore, tmp_path: Path
) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    present, old_bytes = _entry("big.bin", BLOBS, [0, 1])
    e, _ = _entry("big.bin", BLOBS, [0, 2])
    e = e._replace(oid=Oid(hash_bytes(ALG, b"something else")))  # a corrupt manifest
    (folder / "big.bin").write_bytes(old_bytes)
    with pytest.raises(IntegrityError, match="do not add up"):
        _write(store, folder, e, present)
    assert (folder / "big.bin").read_bytes() == old_bytes
    assert _leftovers(folder) == []


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    old=st.lists(st.integers(0, len(BLOBS) - 1), min_size=1, max_size=8),
    new=st.lists(st.integers(0, len(BLOBS) - 1), min_size=1, max_size=8),
    tamper=st.one_of(st.none(), st.integers(0, 2_000_000)),
)
def test_random_chunk_lists_round_trip(
    store: ObjectStore, tmp_path: Path, old: list[int], new: list[int], tamper: int | None
) -> None:
    folder = tmp_path / "w"
    folder.mkdir(exist_ok=True)
    present, old_bytes = _entry("big.bin", BLOBS, old)
    e, want = _entry("big.bin", BLOBS, new)
    if tamper is not None:  # one byte of the working file flipped behind the cache's back
        at = tamper % len(old_bytes)
        old_bytes = old_bytes[:at] + bytes([old_bytes[at] ^ 1]) + old_bytes[at + 1 :]
    (folder / "big.bin").write_bytes(old_bytes)
    reused = _write(store, folder, e, present)
    assert (folder / "big.bin").read_bytes() == want
    if tamper is None:
        assert reused == sum(len(BLOBS[i]) for i in new if i in old)
    assert _leftovers(folder) == []


def test_a_kernel_copy_refused_midway_goes_on_through_a_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    store = _store(tmp_path / "objects", BLOBS)
    calls = []

    def refused(*args: object) -> int:
        calls.append(args)
        raise OSError(errno.EXDEV, "cross-device")  # what another file system answers

    monkeypatch.setattr(chunked, "_kernel_copy", [True])
    monkeypatch.setattr(chunked.os, "copy_file_range", refused)
    folder = tmp_path / "w"
    folder.mkdir()
    present, old_bytes = _entry("big.bin", BLOBS, [0, 1, 2, 3])
    e, want = _entry("big.bin", BLOBS, [0, 1, 8, 3])
    (folder / "big.bin").write_bytes(old_bytes)
    assert _write(store, folder, e, present) == sum(len(BLOBS[i]) for i in (0, 1, 3))
    assert (folder / "big.bin").read_bytes() == want
    assert len(calls) == 1  # refused once, then not asked again


def test_the_file_gets_its_disk_space_before_a_byte_is_written(tmp_path: Path) -> None:
    """reserve() allocates the whole size up front (ext4, tmpfs, xfs): a file written into
    blocks it has is not flushed by the rename over the old one (ext4's auto_da_alloc)."""
    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        chunked.reserve(fd, 1 << 20)
        st = os.fstat(fd)
    finally:
        os.close(fd)
    if st.st_size == 0:
        pytest.skip("this file system does not allocate ahead (fallocate refused)")
    assert st.st_size == 1 << 20 and st.st_blocks * 512 >= 1 << 20


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_disk_without_room_fails_before_writing_and_keeps_the_old_file(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    present, old_bytes = _entry("big.bin", BLOBS, [0, 1, 2, 3])
    e, _ = _entry("big.bin", BLOBS, [0, 1, 8, 3])
    (folder / "big.bin").write_bytes(old_bytes)
    writes: list[int] = []
    monkeypatch.setattr(chunked, "_pwrite_all", lambda fd, view, at: writes.append(at))

    def full(fd: int, mode: int, offset: int, size: int) -> int:
        ctypes.set_errno(code)
        return -1

    monkeypatch.setattr(chunked, "_fallocate", [full])
    with pytest.raises(OSError) as err:
        _write(store, folder, e, present)
    assert err.value.errno == code and writes == []
    assert (folder / "big.bin").read_bytes() == old_bytes and _leftovers(folder) == []


def test_a_file_system_that_does_not_allocate_ahead_is_written_all_the_same(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(fd: int, mode: int, offset: int, size: int) -> int:
        ctypes.set_errno(errno.EOPNOTSUPP)
        return -1

    monkeypatch.setattr(chunked, "_fallocate", [refused])
    folder = tmp_path / "w"
    folder.mkdir()
    present, old_bytes = _entry("big.bin", BLOBS, [0, 1, 2, 3])
    e, want = _entry("big.bin", BLOBS, [0, 1, 8, 3])
    (folder / "big.bin").write_bytes(old_bytes)
    _write(store, folder, e, present)
    assert (folder / "big.bin").read_bytes() == want and _leftovers(folder) == []
