"""Windowed content-defined chunking cuts exactly where a whole-file pass would."""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dvlin.objects import bigfile, ingest
from dvlin.objects.cdc import CHUNKERS, LEGACY_CHUNKER
from dvlin.objects.hashing import hash_bytes
from dvlin.objects.manifest import Entry
from dvlin.objects.store import ObjectStore, StoredObject
from tests.objects.memory_index import MemoryIndex

# The chunker every test here cuts with: each test runs once per chunker (the fixture below).
_CHUNKER = LEGACY_CHUNKER


@pytest.fixture(autouse=True, scope="module", params=CHUNKERS)
def chunker(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the module's tests with each chunker a repo may record (module-scoped: the
    property tests take no function-scoped fixture)."""
    global _CHUNKER
    _CHUNKER = request.param
    yield request.param
    _CHUNKER = LEGACY_CHUNKER


def _whole_file_cuts(data: bytes) -> list[int]:
    """Chunk sizes of one plain pass of the chunker's own package over ``data`` (not dvlin's
    code: the reference it must agree with)."""
    sizes = {"min_size": bigfile.CHUNK_MIN, "max_size": bigfile.CHUNK_MAX}
    if _CHUNKER == "fastcdc-2016":
        from fastcdc import fastcdc

        return [c.length for c in fastcdc(data, avg_size=bigfile.CHUNK_AVG, **sizes)]
    assert _CHUNKER == "fastcdc-2020"
    from pyfastcdc import FastCDC

    return [c.length for c in FastCDC(bigfile.CHUNK_AVG, **sizes).cut_buf(data)]


def test_the_chunkers_cut_the_same_bytes_differently() -> None:
    # Else running every test with each would prove nothing about the second one.
    global _CHUNKER
    data = random.Random(0).randbytes(24 * 1024 * 1024)
    was, cuts = _CHUNKER, {}
    try:
        for name in CHUNKERS:
            _CHUNKER = name
            cuts[name] = _whole_file_cuts(data)
    finally:
        _CHUNKER = was
    assert cuts["fastcdc-2016"] != cuts["fastcdc-2020"]
    assert all(sum(c) == len(data) for c in cuts.values())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_windowed_chunks_match_a_whole_file_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setattr(bigfile, "_CDC_WINDOW", 5 * 1024 * 1024)  # several windows per file
    data = random.Random(seed).randbytes(23 * 1024 * 1024 + seed * 777)
    (tmp_path / "f").write_bytes(data)
    expected = _whole_file_cuts(data)
    index = MemoryIndex()
    store = ObjectStore.local(str(tmp_path / "objects"), algorithm="xxh3-128", index=index)
    ing = ingest.Ingester(store, index, chunker=_CHUNKER)
    oid = ing._add_chunked(str(tmp_path / "f"), "f", 0o644)
    [entry] = ing.finish()
    index.objects.update(ing.new_objects)
    assert [c.size for c in entry.chunks or ()] == expected
    assert oid == hash_bytes("xxh3-128", data)
    assert b"".join(store.get(c.oid) for c in entry.chunks or ()) == data


def _commit_one(tmp_path: Path, data: bytes) -> tuple[Entry, ObjectStore]:
    """Ingest ``data`` as one file through ``add_file``; return its entry and the store."""
    (tmp_path / "f").write_bytes(data)
    index = MemoryIndex()
    store = ObjectStore.local(str(tmp_path / "objects"), algorithm="xxh3-128", index=index)
    ing = ingest.Ingester(store, index, chunker=_CHUNKER)
    ing.add_file(str(tmp_path / "f"), "f", 0o644, len(data))
    [entry] = ing.finish()
    index.objects.update(ing.new_objects)
    return entry, store


def _cut_ends(data: bytes) -> list[int]:
    """Where each chunk of one plain FastCDC pass over ``data`` ends."""
    found, at = [], 0
    for size in _whole_file_cuts(data):
        at += size
        found.append(at)
    return found


MIB = 1024 * 1024
WINDOW = 5 * MIB


@pytest.mark.parametrize(
    ("size", "kind"),
    [
        (0, "random"),
        (1, "random"),
        (ingest.CHUNK_MIN_FILE - 1, "random"),
        (ingest.CHUNK_MIN_FILE, "random"),
        (ingest.CHUNK_MIN_FILE + 1, "random"),
        (ingest.CHUNK_MIN_FILE + 1, "zero"),
        (4 * WINDOW, "zero"),  # cuts at every CHUNK_MAX, one of them at a window's end
        (4 * WINDOW, "random"),
        (4 * WINDOW + 1, "random"),
    ],
)
def test_a_file_round_trips_byte_for_byte_whatever_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, kind: str
) -> None:
    monkeypatch.setattr(bigfile, "_CDC_WINDOW", WINDOW)
    data = bytes(size) if kind == "zero" else random.Random(size).randbytes(size)
    entry, store = _commit_one(tmp_path, data)
    assert entry.size == size
    assert entry.oid == hash_bytes("xxh3-128", data)
    if size < ingest.CHUNK_MIN_FILE:
        assert entry.chunks is None
        return
    assert [c.size for c in entry.chunks or ()] == _whole_file_cuts(data)
    assert b"".join(store.read_chunks([c.oid for c in entry.chunks or ()])) == data


def test_window_buffers_are_reused_only_once_the_pack_writer_wrote_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two buffers and a slow writer: the reader must wait for the writer before it refills a
    # window whose chunks are still queued, or the packs would hold the next window's bytes.
    import time

    from dvlin.objects import packs

    monkeypatch.setattr(bigfile, "_CDC_WINDOW", WINDOW)
    monkeypatch.setattr(bigfile, "_MAX_WINDOWS", 2)
    real_write = packs.PackWriter._write

    def slow_write(self: packs.PackWriter, pack: object, data: memoryview) -> None:
        time.sleep(0.01)
        real_write(self, pack, data)  # type: ignore[arg-type]

    monkeypatch.setattr(packs.PackWriter, "_write", slow_write)
    data = random.Random(7).randbytes(9 * WINDOW + 12345)
    entry, store = _commit_one(tmp_path, data)
    assert [c.size for c in entry.chunks or ()] == _whole_file_cuts(data)
    # read_chunks verifies every chunk against its oid, and the packs against their names
    assert b"".join(store.read_chunks([c.oid for c in entry.chunks or ()])) == data
    for pack in {store.index.find_object(c.oid).pack for c in entry.chunks or ()}:  # type: ignore[union-attr]
        assert pack
        store.get(pack)


def test_the_reader_reads_into_page_aligned_memory(tmp_path: Path) -> None:
    # The kernel's copy into a buffer 16 bytes past a page boundary (a big bytearray's) ran
    # 3-4x slower on the project's VM (dvlin/objects/buffers.py): every read must land at a
    # page-aligned address, whatever the window.
    import ctypes
    import mmap

    from dvlin.objects.hashing import unlocked_hasher_factory

    path = tmp_path / "big.bin"
    data = random.Random(3).randbytes(3 * bigfile._CDC_WINDOW + 4321)
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        reader = bigfile._WindowReader(
            fd, unlocked_hasher_factory("xxh3-128")(), str(path), "big.bin"
        )
        got = b""
        for window in reader:
            if window is None:
                break
            buf, filled = window
            address = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
            assert (address + bigfile.CHUNK_MAX) % mmap.PAGESIZE == 0
            got += bytes(memoryview(buf)[bigfile.CHUNK_MAX : filled])
            reader.retire(buf, 0)
    finally:
        os.close(fd)
    assert got == data
    assert reader.oid() == hash_bytes("xxh3-128", data)


def test_a_failed_pack_write_does_not_leave_the_reader_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import threading

    from dvlin.errors import FileSystemError
    from dvlin.objects import packs

    monkeypatch.setattr(bigfile, "_CDC_WINDOW", WINDOW)

    def disk_full(_: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(packs, "pause_point", disk_full)
    data = random.Random(8).randbytes(30 * WINDOW)
    raised: list[BaseException] = []

    def run() -> None:
        try:
            _commit_one(tmp_path, data)
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the commit hung after a failed write"
    assert len(raised) == 1 and isinstance(raised[0], FileSystemError)
    assert os.listdir(tmp_path / "objects" / "tmp") == []


def _with_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bigfile, "_CDC_WINDOW", WINDOW)
    monkeypatch.setattr(bigfile, "_HELPER_MIN", 2 * MIB)  # every chunked file gets a helper
    monkeypatch.setattr(bigfile, "_cores", lambda: bigfile._HELPER_CORES)


@pytest.mark.parametrize(
    ("size", "kind"),
    [
        (ingest.CHUNK_MIN_FILE, "random"),
        (6 * WINDOW + 777, "random"),
        (6 * WINDOW + 777, "zero"),  # cuts every CHUNK_MAX from each start: they never meet
        (3 * WINDOW, "text"),
    ],
)
def test_cutting_from_both_ends_gives_the_cuts_of_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, kind: str
) -> None:
    _with_helper(monkeypatch)
    rng = random.Random(size)
    if kind == "zero":
        data = bytes(size)
    elif kind == "text":
        data = (b"".join(rng.choice([b"alpha ", b"beta\n", b"gamma, "]) for _ in range(size)))[
            :size
        ]
    else:
        data = rng.randbytes(size)
    entry, store = _commit_one(tmp_path, data)
    assert [c.size for c in entry.chunks or ()] == _whole_file_cuts(data)
    assert entry.oid == hash_bytes("xxh3-128", data)
    assert b"".join(store.read_chunks([c.oid for c in entry.chunks or ()])) == data


@pytest.mark.parametrize("start", [0, 4 * MIB, 3 * WINDOW + 98, 3 * WINDOW + 99])
def test_the_helper_process_sends_the_cuts_of_a_pass_from_its_start(
    tmp_path: Path, start: int
) -> None:
    from dvlin.objects import cdc

    data = random.Random(5).randbytes(3 * WINDOW + 99)
    (tmp_path / "f").write_bytes(data)
    fd = os.open(tmp_path / "f", os.O_RDONLY)
    try:
        sizes = {"min_size": bigfile.CHUNK_MIN, "avg_size": bigfile.CHUNK_AVG}
        helper = cdc.CutHelper.start(
            fd, start, chunker=_CHUNKER, max_size=bigfile.CHUNK_MAX, **sizes
        )
        assert helper is not None
        while not helper.finished:
            helper.receive(wait=True)
        helper.close()
    finally:
        os.close(fd)
    expected, at = [], start
    for size in _whole_file_cuts(data[start:]) if start < len(data) else []:
        at += size
        expected.append(at)
    assert list(helper.cuts) == expected


def test_with_a_helper_from_the_start_the_committing_process_cuts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dvlin.objects import cdc

    _with_helper(monkeypatch)
    real_cutter = bigfile._cutter

    def cutter(fd: int, chunker: str) -> cdc.Cutter:
        made = real_cutter(fd, chunker)
        assert made.following

        def refuse(*_: object, **__: object) -> list[object]:
            raise AssertionError("the committing process cut")

        made._cut = refuse
        return made

    monkeypatch.setattr(bigfile, "_cutter", cutter)
    data = _data(3, 5 * WINDOW + 1234, "random with zero runs")
    entry, store = _commit_one(tmp_path, data)
    assert [c.size for c in entry.chunks or ()] == _whole_file_cuts(data)
    assert entry.oid == hash_bytes("xxh3-128", data)
    assert b"".join(store.read_chunks([c.oid for c in entry.chunks or ()])) == data


class _SaidHelper:
    """A helper that has sent ``cuts`` and ended."""

    def __init__(self, cuts: list[int]) -> None:
        from array import array

        self.cuts = array("q", cuts)
        self.finished = True

    def receive(self, *, wait: bool) -> None:
        pass

    def poll(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "helper_says", ["the truth", "nothing", "other bytes", "nonsense", "the truth, then ends"]
)
def test_a_helper_that_failed_or_saw_other_bytes_costs_time_not_correctness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, helper_says: str
) -> None:
    from dvlin.objects import cdc

    _with_helper(monkeypatch)
    data = random.Random(6).randbytes(6 * WINDOW + 4321)
    middle = len(data) // 2

    true_ends = [e for e in _cut_ends(data) if e >= middle]
    # The true cuts a while, then those of other bytes (a file written meanwhile).
    other = _cut_ends(random.Random(9).randbytes(len(data) - 3 * MIB))
    mixed = true_ends[:3] + [e for e in other if e > true_ends[2]]
    said = {
        "the truth": true_ends,
        "nothing": [],
        "other bytes": mixed,
        "nonsense": [middle + 1, middle + 2 * bigfile.CHUNK_MAX, len(data)],
        "the truth, then ends": true_ends[:3],
    }[helper_says]
    monkeypatch.setattr(cdc.CutHelper, "start", lambda *_, **__: _SaidHelper(said))
    real_cutter = bigfile._cutter
    monkeypatch.setattr(
        bigfile, "_cutter", lambda fd, chunker: real_cutter(fd, chunker, split=middle)
    )
    synced: list[bool] = []
    real_synced = cdc.Cutter._synced

    def spy(self: cdc.Cutter, at: int) -> bool:
        synced.append(real_synced(self, at))
        return synced[-1]

    monkeypatch.setattr(cdc.Cutter, "_synced", spy)
    entry, store = _commit_one(tmp_path, data)
    chunks = entry.chunks or ()
    assert all(c.size <= bigfile.CHUNK_MAX for c in chunks)
    assert sum(c.size for c in chunks) == len(data)
    assert entry.oid == hash_bytes("xxh3-128", data)
    assert b"".join(store.read_chunks([c.oid for c in chunks])) == data
    assert any(synced) == (helper_says in ("the truth", "other bytes", "the truth, then ends"))
    if helper_says == "other bytes":
        assert [c.size for c in chunks] != _whole_file_cuts(data)  # it followed the helper
    else:
        assert [c.size for c in chunks] == _whole_file_cuts(data)


def _refused_as_changed(tmp_path: Path, size: int) -> None:
    """Committing ``tmp_path/f`` (``size`` bytes when it was scanned) is refused as changed."""
    from dvlin.errors import ConflictError

    index = MemoryIndex()
    store = ObjectStore.local(str(tmp_path / "objects"), algorithm="xxh3-128", index=index)
    ing = ingest.Ingester(store, index, chunker=_CHUNKER)
    with pytest.raises(ConflictError, match="changed while it was being committed") as got:
        ing.add_file(str(tmp_path / "f"), "f", 0o644, size)
    assert got.value.paths == ("f",)


@pytest.mark.parametrize("change", ["grows", "shrinks", "shrinks by windows", "is rewritten"])
def test_a_big_file_changed_while_it_is_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    monkeypatch.setattr(bigfile, "_CDC_WINDOW", WINDOW)
    data = random.Random(11).randbytes(3 * WINDOW)
    (tmp_path / "f").write_bytes(data)
    real_cutter = bigfile._cutter

    def change_meanwhile(fd: int, chunker: str) -> object:
        # Runs once the file is open, before its first byte is read.
        with open(tmp_path / "f", "r+b") as f:
            if change == "grows":
                f.seek(0, os.SEEK_END)
                f.write(b"more")
            elif change == "shrinks":
                f.truncate(len(data) - 1)
            elif change == "shrinks by windows":  # whole windows gone: read short, no SIGBUS
                f.truncate(len(data) - 2 * WINDOW)
            else:
                f.write(b"x")
                os.utime(f.fileno(), ns=(1, 1))  # the clock may not tick between the writes
        return real_cutter(fd, chunker)

    monkeypatch.setattr(bigfile, "_cutter", change_meanwhile)
    _refused_as_changed(tmp_path, len(data))
    tmp = tmp_path / "objects" / "tmp"
    assert not tmp.exists() or os.listdir(tmp) == []  # refused before a pack was opened, or not


def test_a_big_file_cut_short_by_another_program_midway_is_a_conflict_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another program truncates the file after two windows were read, as a user's `truncate`
    # would while the commit runs. Read (not mapped) bytes give a short read and a conflict;
    # a mapping of the lost pages would end the process with SIGBUS (this test's worker).

    monkeypatch.setattr(bigfile, "_CDC_WINDOW", WINDOW)
    data = random.Random(13).randbytes(8 * WINDOW)
    (tmp_path / "f").write_bytes(data)
    real_readv = os.readv
    read = 0

    def readv_then_truncate(fd: int, buffers: list[memoryview]) -> int:
        nonlocal read
        got = real_readv(fd, buffers)
        read += got
        if read == 2 * WINDOW:
            os.truncate(tmp_path / "f", WINDOW // 2)
        return got

    monkeypatch.setattr(bigfile.os, "readv", readv_then_truncate)
    _refused_as_changed(tmp_path, len(data))
    assert read >= 2 * WINDOW


_DATA_KINDS = ["random", "zeros", "repeated block", "random with zero runs"]


def _data(seed: int, size: int, kind: str) -> bytes:
    rng = random.Random(seed)
    if kind == "zeros":
        return bytes(size)
    if kind == "repeated block":  # the same chunks again and again: dedup within the file
        block = rng.randbytes(rng.randrange(300_000, 3 * MIB))
        return (block * (size // len(block) + 1))[:size]
    out = bytearray(rng.randbytes(size))
    if kind == "random with zero runs":  # cuts forced at CHUNK_MAX inside the runs
        for _ in range(3):
            at, n = rng.randrange(size), rng.randrange(5 * MIB)
            out[at : at + n] = bytes(len(out[at : at + n]))
    return bytes(out)


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    size=st.integers(ingest.CHUNK_MIN_FILE, 4 * WINDOW + 3 * MIB),
    kind=st.sampled_from(_DATA_KINDS),
    window=st.sampled_from([4 * MIB + 1, WINDOW, 16 * MIB]),
)
def test_chunks_equal_the_reference_fastcdc_pass_and_round_trip(
    tmp_path_factory: pytest.TempPathFactory, seed: int, size: int, kind: str, window: int
) -> None:
    data = _data(seed, size, kind)
    tmp_path = tmp_path_factory.mktemp("prop")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(bigfile, "_CDC_WINDOW", window)
        entry, store = _commit_one(tmp_path, data)
    assert entry.oid == hash_bytes("xxh3-128", data)
    chunks = entry.chunks or ()
    assert [c.size for c in chunks] == _whole_file_cuts(data)
    starts = [sum(c.size for c in chunks[:i]) for i in range(len(chunks))]
    for c, at in zip(chunks, starts, strict=True):
        assert c.oid == hash_bytes("xxh3-128", data[at : at + c.size])
    assert b"".join(store.read_chunks([c.oid for c in chunks])) == data


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    size=st.integers(ingest.CHUNK_MIN_FILE, 4 * WINDOW + 3 * MIB),
    kind=st.sampled_from(_DATA_KINDS),
    split=st.floats(0, 1.2),
)
def test_cuts_with_a_helper_from_any_offset_equal_the_plain_fastcdc_call(
    tmp_path_factory: pytest.TempPathFactory, seed: int, size: int, kind: str, split: float
) -> None:
    # A forked helper cuts from a random offset (the start, the middle, past the end); the
    # committing process cuts until it lands on one of the helper's cuts, then follows it.
    data = _data(seed, size, kind)
    tmp_path = tmp_path_factory.mktemp("split")
    real_cutter = bigfile._cutter
    with pytest.MonkeyPatch.context() as m:
        _with_helper(m)
        m.setattr(
            bigfile,
            "_cutter",
            lambda fd, chunker: real_cutter(fd, chunker, split=int(size * split)),
        )
        entry, store = _commit_one(tmp_path, data)
    assert entry.oid == hash_bytes("xxh3-128", data)
    assert [c.size for c in entry.chunks or ()] == _whole_file_cuts(data)
    assert b"".join(store.read_chunks([c.oid for c in entry.chunks or ()])) == data


@pytest.mark.parametrize("when", ["at once", "after a few cuts"])
def test_a_helper_killed_midway_costs_time_not_correctness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    import signal

    from dvlin.objects import cdc

    _with_helper(monkeypatch)
    data = _data(4, 6 * WINDOW + 99, "random")
    real_start = cdc.CutHelper.start

    def start_then_kill(*args: object, **kwargs: object) -> cdc.CutHelper | None:
        helper = real_start(*args, **kwargs)  # type: ignore[arg-type]
        assert helper is not None
        if when == "after a few cuts":
            while len(helper.cuts) < 3 and not helper.finished:
                helper.receive(wait=True)
        os.kill(helper._pid, signal.SIGKILL)
        return helper

    monkeypatch.setattr(cdc.CutHelper, "start", start_then_kill)
    entry, store = _commit_one(tmp_path, data)
    assert [c.size for c in entry.chunks or ()] == _whole_file_cuts(data)
    assert b"".join(store.read_chunks([c.oid for c in entry.chunks or ()])) == data


@pytest.mark.parametrize("size", [ingest.CHUNK_MIN_FILE, 3 * WINDOW + 1, 7 * WINDOW - 1])
@pytest.mark.parametrize("target", [bigfile.CHUNK_MIN, 2 * MIB + 1])
def test_a_file_cut_by_the_helper_round_trips_across_pack_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, target: int
) -> None:
    # Small packs: chunks fall on both sides of many pack boundaries (a chunk bigger than the
    # target fills a pack of its own).
    from dvlin.objects import packs

    _with_helper(monkeypatch)
    monkeypatch.setattr(packs, "PACK_TARGET", target)
    data = _data(size, size, "random with zero runs")
    entry, store = _commit_one(tmp_path, data)
    chunks = entry.chunks or ()
    assert [c.size for c in chunks] == _whole_file_cuts(data)
    assert entry.oid == hash_bytes("xxh3-128", data)
    assert len({store.index.find_object(c.oid).pack for c in chunks}) > 1  # type: ignore[union-attr]
    assert b"".join(store.read_chunks([c.oid for c in chunks])) == data


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended and been reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_helper_forked_early_is_taken_and_cuts_as_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dvlin.objects import cdc

    _with_helper(monkeypatch)
    data = _data(21, 5 * WINDOW + 4321, "random with zero runs")
    (tmp_path / "f").write_bytes(data)
    bigfile.start_early([str(tmp_path / "missing"), str(tmp_path / "f")], _CHUNKER)
    [(_, helper)] = cdc._early.values()

    def no_second_helper(*_: object, **__: object) -> None:
        raise AssertionError("a second helper was forked")

    monkeypatch.setattr(cdc.CutHelper, "start", no_second_helper)
    index = MemoryIndex()
    store = ObjectStore.local(str(tmp_path / "objects"), algorithm="xxh3-128", index=index)
    ing = ingest.Ingester(store, index, chunker=_CHUNKER)
    ing.add_file(str(tmp_path / "f"), "f", 0o644, len(data))
    [entry] = ing.finish()
    assert cdc._early == {} and helper.finished
    assert [c.size for c in entry.chunks or ()] == _whole_file_cuts(data)
    assert entry.oid == hash_bytes("xxh3-128", data)
    index.objects.update(ing.new_objects)
    assert b"".join(store.read_chunks([c.oid for c in entry.chunks or ()])) == data


@pytest.mark.parametrize("because", ["the file was written since", "it cuts for another chunker"])
def test_a_helper_forked_early_is_stopped_not_followed_when_its_cuts_are_not_the_commit_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, because: str
) -> None:
    # Another chunker: the config was edited between the early start and the commit.
    from dvlin.objects import cdc

    _with_helper(monkeypatch)
    old = _data(22, 4 * WINDOW, "random")
    (tmp_path / "f").write_bytes(old)
    [other] = [c for c in CHUNKERS if c != _CHUNKER]
    bigfile.start_early([str(tmp_path / "f")], other if "chunker" in because else _CHUNKER)
    [(_, early)] = cdc._early.values()
    pid = early._pid
    new = old
    if because == "the file was written since":
        new = _data(23, 4 * WINDOW, "random")  # same size, other bytes, a later change time
        st = os.stat(tmp_path / "f")
        (tmp_path / "f").write_bytes(new)
        os.utime(tmp_path / "f", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    entry, store = _commit_one_in_place(tmp_path, len(new))
    assert _gone(pid) and cdc._early == {}
    assert [c.size for c in entry.chunks or ()] == _whole_file_cuts(new)
    assert entry.oid == hash_bytes("xxh3-128", new)
    assert b"".join(store.read_chunks([c.oid for c in entry.chunks or ()])) == new


def _commit_one_in_place(tmp_path: Path, size: int) -> tuple[Entry, ObjectStore]:
    """Ingest the file ``tmp_path/f`` as it is; return its entry and the store."""
    index = MemoryIndex()
    store = ObjectStore.local(str(tmp_path / "objects"), algorithm="xxh3-128", index=index)
    ing = ingest.Ingester(store, index, chunker=_CHUNKER)
    ing.add_file(str(tmp_path / "f"), "f", 0o644, size)
    [entry] = ing.finish()
    index.objects.update(ing.new_objects)
    return entry, store


def test_an_early_helper_nobody_takes_is_stopped_when_the_ingest_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dvlin.objects import cdc

    _with_helper(monkeypatch)
    (tmp_path / "big").write_bytes(bytes(3 * WINDOW))
    bigfile.start_early([str(tmp_path / "big")], _CHUNKER)
    [(_, early)] = cdc._early.values()
    pid = early._pid
    (tmp_path / "f").write_bytes(b"small")  # the big file needs no reading: vouched for
    _commit_one_in_place(tmp_path, 5)
    assert cdc._early == {} and _gone(pid)


@pytest.mark.parametrize("what", ["a link to a big file", "a folder", "a small file", "missing"])
def test_no_helper_is_forked_early_but_for_a_big_regular_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    from dvlin.objects import cdc

    _with_helper(monkeypatch)
    (tmp_path / "big").write_bytes(bytes(3 * MIB))
    (tmp_path / "small").write_bytes(bytes(MIB))
    (tmp_path / "dir").mkdir()
    os.symlink("big", tmp_path / "link")
    path = {"a link to a big file": "link", "a folder": "dir", "a small file": "small"}.get(
        what, "missing"
    )
    bigfile.start_early([str(tmp_path / path)], _CHUNKER)
    assert cdc._early == {}


def test_a_fifo_swapped_in_for_a_big_file_after_its_lstat_does_not_hang_the_early_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from dvlin.objects import cdc

    _with_helper(monkeypatch)
    (tmp_path / "big").write_bytes(bytes(3 * MIB))
    os.mkfifo(tmp_path / "fifo")
    big = os.lstat(tmp_path / "big")
    monkeypatch.setattr(os, "lstat", lambda _path: big)  # the lstat saw the big file
    started = threading.Thread(
        target=bigfile.start_early, args=([str(tmp_path / "fifo")], _CHUNKER)
    )
    started.start()
    started.join(10)
    hung = started.is_alive()
    if hung:  # let the blocked open return, so the test process can end
        os.close(os.open(tmp_path / "fifo", os.O_WRONLY | os.O_NONBLOCK))
        started.join(10)
    assert not hung and cdc._early == {}


@pytest.mark.parametrize("helper_says", ["the truth", "other bytes", "nonsense", "nothing"])
def test_chunks_hashed_as_they_are_read_keep_their_oids_whatever_the_helper_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, helper_says: str
) -> None:
    import concurrent.futures

    from dvlin.objects import cdc

    _with_helper(monkeypatch)
    data = _data(31, 6 * WINDOW + 999, "random with zero runs")

    said = {
        "the truth": _cut_ends(data),
        "other bytes": _cut_ends(_data(32, len(data), "random")),
        "nonsense": [5, 2 * MIB, 2 * MIB, len(data)],
        "nothing": [],
    }[helper_says]
    monkeypatch.setattr(cdc.CutHelper, "start", lambda *_, **__: _SaidHelper(said))
    hashed_apart: list[int] = []

    class Counting(concurrent.futures.ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            if self._thread_name_prefix == "dvlin-chunk-hash":
                hashed_apart.append(1)
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor", Counting)
    entry, store = _commit_one(tmp_path, data)
    chunks = entry.chunks or ()
    assert entry.oid == hash_bytes("xxh3-128", data)
    # Every chunk's bytes hash to its oid (read_chunks verifies each one).
    assert b"".join(store.read_chunks([c.oid for c in chunks])) == data
    assert all(c.oid == hash_bytes("xxh3-128", store.get(c.oid)) for c in chunks)
    if helper_says == "the truth":
        assert [c.size for c in chunks] == _whole_file_cuts(data)
        assert hashed_apart == []  # every chunk was hashed by the reader
    if helper_says == "other bytes":
        assert [c.size for c in chunks] == _whole_file_cuts(_data(32, len(data), "random"))
        assert hashed_apart == []
    if helper_says == "nothing":
        assert [c.size for c in chunks] == _whole_file_cuts(data)
        assert len(hashed_apart) == len(chunks)


class _CountingIndex(MemoryIndex):
    """A MemoryIndex that counts the questions it is asked."""

    def __init__(self) -> None:
        super().__init__()
        self.one_by_one = 0
        self.at_once = 0

    def find_object(self, oid: str) -> StoredObject | None:
        self.one_by_one += 1
        return super().find_object(oid)

    def find_objects(self, oids: Iterable[str]) -> dict[str, StoredObject]:
        self.at_once += 1
        return super().find_objects(oids)


def test_oids_looked_up_at_once_are_answered_without_asking_again(tmp_path: Path) -> None:
    index = _CountingIndex()
    store = ObjectStore.local(str(tmp_path / "objects"), algorithm="xxh3-128", index=index)
    stored = {data: store.put(data) for data in (b"one", b"two")}
    for oid in stored.values():
        index.objects[oid] = StoredObject(oid, 3, None, None)
    missing = hash_bytes("xxh3-128", b"never stored")
    ing = ingest.Ingester(store, index, chunker=_CHUNKER)
    ing.look_up([*stored.values(), missing, missing])
    assert [ing.known(oid) for oid in stored.values()] == [
        index.objects[oid] for oid in stored.values()
    ]
    assert ing.known(missing) is None
    assert (index.at_once, index.one_by_one) == (1, 0)
    # A file taken by its known oid gets the same row as before, and an oid not looked up
    # is still asked for.
    assert ing.add_known("a", 0o644, 3, stored[b"one"])
    assert not ing.add_known("b", 0o644, 3, missing)
    assert ing.known(hash_bytes("xxh3-128", b"other")) is None
    assert (index.at_once, index.one_by_one) == (1, 1)
    [entry] = ing.finish()
    assert entry == Entry("a", "file", 0o644, 3, stored[b"one"], None, None, None, None)
