"""Chunks of big files live in packs: round trips, old loose-chunk repos, failures mid-pack."""

from __future__ import annotations

import errno
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import fsspec
import pytest

from dvlin import Repo
from dvlin.errors import FileSystemError
from dvlin.objects import packs
from dvlin.objects.hashing import hash_bytes
from dvlin.objects.ingest import CHUNK_MIN_FILE
from dvlin.objects.store import ObjectError, ObjectStore, StoredObject
from dvlin.ops import gc
from dvlin.ops.du import du
from dvlin.ops.fsck import fsck
from tests.conftest import Cli, kill_when_paused
from tests.objects.memory_index import MemoryIndex

ALG = "xxh3-128"
MIB = 1024 * 1024


def _stores(tmp_path: Path) -> list[ObjectStore]:
    memory = fsspec.filesystem("memory", skip_instance_cache=True)
    memory.store = {}  # a private memory filesystem (the default one is global)
    memory.pseudo_dirs = [""]
    return [
        ObjectStore.local(str(tmp_path / "objects"), algorithm=ALG),
        ObjectStore(memory, f"/packs-{os.getpid()}", algorithm=ALG),
    ]


def test_pack_writer_places_blobs_in_packs_of_their_own_hash(tmp_path: Path) -> None:
    rng = random.Random(3)
    blobs = [rng.randbytes(rng.randrange(1, 300_000)) for _ in range(40)]
    for store in _stores(tmp_path):
        writer = packs.PackWriter(store, target=1_000_000)
        offsets = [writer.add(b, hash_bytes(ALG, b)) for b in blobs]
        found = writer.finish()
        store.sync()
        packed = {o.oid: o for o in found if o.pack is not None}
        pack_oids = {o.oid for o in found if o.pack is None}
        assert len(pack_oids) > 3 and {o.pack for o in packed.values()} == pack_oids
        for blob, offset in zip(blobs, offsets, strict=True):
            where = packed[hash_bytes(ALG, blob)]
            assert where.offset == offset and where.size == len(blob)
            assert where.pack is not None
            assert store.get_slice(where.pack, offset, len(blob), where.oid) == blob
        for pack in pack_oids:
            assert store.get(pack)  # a pack is an ordinary object: verified whole on read
        assert writer.finish() == []


def test_a_blob_in_a_pack_reads_through_the_index(tmp_path: Path) -> None:
    index = MemoryIndex()
    store = ObjectStore.local(str(tmp_path / "o"), algorithm=ALG, index=index)
    blob = b"chunk bytes" * 1000
    oid = hash_bytes(ALG, blob)
    assert not store.has(oid)
    writer = packs.PackWriter(store)
    writer.add(b"before", hash_bytes(ALG, b"before"))
    writer.add(blob, oid)
    index.objects = {o.oid: o for o in writer.finish()}
    assert store.has(oid) and store.get(oid) == blob
    assert not os.path.exists(store.path(oid))  # not loose: a slice of its pack


def _chunk_rows(repo: Repo) -> list[tuple[str, int, str | None, int | None]]:
    version = repo.resolve("big")
    return repo.catalog.conn.execute(
        "SELECT o.oid, o.size, o.pack, o.offset FROM version_objects vo"
        " JOIN objects o ON o.oid = vo.oid WHERE vo.version = ? AND vo.oid != ?",
        (version.id, version.manifest),
    ).fetchall()


def test_a_big_file_round_trips_through_packs(
    any_repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packs, "PACK_TARGET", 4 * MIB)  # several packs for one file
    data = random.Random(1).randbytes(2 * CHUNK_MIN_FILE + 12345)
    (any_repo.root / "big.bin").write_bytes(data)
    first = any_repo.commit(["big.bin"], name="big")
    rows = _chunk_rows(any_repo)
    assert len(rows) > 8 and all(pack for _, _, pack, _ in rows)
    assert len({pack for _, _, pack, _ in rows}) >= 3
    assert first.new_bytes >= len(data)  # each byte counted once: the packs, not their chunks
    assert first.new_bytes < len(data) + MIB
    out = any_repo.root.parent / "out"
    any_repo.checkout("big", to=out)
    assert (out / "big.bin").read_bytes() == data
    assert fsck(any_repo).ok
    usage = du(any_repo)  # the packs are the stored objects; chunks are not small files
    assert usage.packs >= 3 and usage.packed_files == 0
    assert len(data) <= usage.stored < len(data) + MIB


def test_du_counts_a_pack_holding_one_chunk_as_no_small_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 4 KiB edit makes one new chunk, alone in its pack; without filler (no O_DIRECT on a
    # store with fsync off) that pack's bytes are the chunk's, and so is its oid.
    monkeypatch.chdir(tmp_path)
    repo = Repo.init(tmp_path / "r")
    repo.close()
    path = tmp_path / "r" / ".dvlin" / "config.toml"
    path.write_text(path.read_text().replace("fsync = true", "fsync = false"))
    monkeypatch.chdir(tmp_path / "r")
    repo = Repo.open(".")
    data = bytearray(random.Random(9).randbytes(3 * CHUNK_MIN_FILE))
    (repo.root / "big.bin").write_bytes(data)
    repo.commit(["big.bin"], name="big")
    data[12 * MIB : 12 * MIB + 4096] = bytes(4096)
    (repo.root / "big.bin").write_bytes(data)
    repo.commit(["big.bin"], name="big")
    alone = [oid for oid, _, pack, _ in _chunk_rows(repo) if pack == oid]
    assert alone  # the case under test happened
    assert du(repo).packed_files == 0
    repo.close()


def _to_loose_chunks(repo: Repo) -> None:
    """Rewrite a repo as dvlin wrote it before issue 12: every chunk a loose object."""
    store, conn = repo.store, repo.catalog.conn
    rows = conn.execute("SELECT oid, size, pack, offset FROM objects WHERE pack != oid").fetchall()
    packs_seen = set()
    for oid, size, pack, offset in rows:
        store.put(store.get_slice(pack, offset, size, oid), oid)
        packs_seen.add(pack)
    store.sync()
    with repo.catalog.transaction():
        conn.execute("UPDATE objects SET pack = NULL, offset = NULL WHERE pack != oid")
        conn.executemany("DELETE FROM objects WHERE oid = ?", [(p,) for p in packs_seen])
    for pack in packs_seen:
        os.remove(store.path(pack))


def test_an_old_repo_with_loose_chunks_still_reads_and_dedups(repo: Repo, cli: Cli) -> None:
    rng = random.Random(5)
    data = bytearray(rng.randbytes(3 * CHUNK_MIN_FILE))
    (repo.root / "big.bin").write_bytes(data)
    repo.commit(["big.bin"], name="big")
    _to_loose_chunks(repo)
    assert all(pack is None for _, _, pack, _ in _chunk_rows(repo))
    repo.close()

    (repo.root / "big.bin").unlink()
    cli("checkout", "big", ok=True)
    assert (repo.root / "big.bin").read_bytes() == data
    assert fsck(repo).ok
    assert du(repo).stored >= len(data)
    # A 1 MiB rewrite in the middle stores a few new chunks (in a pack) beside the loose ones.
    middle = len(data) // 2
    data[middle : middle + MIB] = rng.randbytes(MIB)
    (repo.root / "big.bin").write_bytes(data)
    second = repo.commit(["big.bin"], name="big")
    assert second.new_bytes < 8 * MIB
    (repo.dvlin_dir.parent / "dvlin.toml").write_text("[retention]\nkeep_last = 1\n")
    gc.apply(repo, now=time.time() + 30 * 86400)
    out = repo.root.parent / "out"
    repo.checkout("big", to=out)
    assert (out / "big.bin").read_bytes() == bytes(data)
    assert fsck(repo).ok


def _tmp_files(repo: Repo) -> list[str]:
    tmp = repo.dvlin_dir / "objects" / "tmp"
    return sorted(os.listdir(tmp)) if tmp.exists() else []


def test_a_failed_pack_write_leaves_no_version_and_no_temporary_file(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    data = random.Random(2).randbytes(CHUNK_MIN_FILE + 4 * MIB)
    (repo.root / "big.bin").write_bytes(data)
    written = 0

    def disk_full(_: str) -> None:
        nonlocal written
        written += 1
        if written == 3:
            raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(packs, "pause_point", disk_full)
        with pytest.raises(FileSystemError, match="no space left"):
            repo.commit(["big.bin"], name="big")
    assert repo.catalog.asset_names() == []
    assert repo.catalog.conn.execute("SELECT COUNT(*) FROM objects").fetchone()[0] == 0
    assert _tmp_files(repo) == []
    repo.close()
    assert "big" in cli("commit", "big.bin", "--name", "big", ok=True).stdout
    (repo.root / "big.bin").unlink()
    cli("checkout", "big", ok=True)
    assert (repo.root / "big.bin").read_bytes() == data


@pytest.mark.slow
@pytest.mark.parametrize(
    "size",
    [CHUNK_MIN_FILE + 4 * MIB, 65 * MIB],  # the second is cut by a forked helper process
)
def test_killed_mid_pack_leaves_a_usable_repo(
    repo: Repo, tmp_path: Path, cli: Cli, size: int
) -> None:
    data = random.Random(4).randbytes(size)
    (repo.root / "big.bin").write_bytes(data)
    marker = tmp_path / "paused"
    kill_when_paused(
        ["commit", "big.bin", "--name", "big"], repo.root, "DVLIN_TEST_PAUSE_IN_PACK", marker
    )
    repo.close()
    assert repo.catalog.asset_names() == []
    assert repo.catalog.conn.execute("SELECT COUNT(*) FROM objects").fetchone()[0] == 0
    assert fsck(repo).ok
    cli("commit", "big.bin", "--name", "big", ok=True)
    out = repo.root.parent / "out"
    repo.checkout("big", to=out)
    assert (out / "big.bin").read_bytes() == data


def test_read_chunks_mixes_loose_and_packed_chunks_in_order(tmp_path: Path) -> None:
    index = MemoryIndex()
    store = ObjectStore.local(str(tmp_path / "o"), algorithm=ALG, index=index)
    rng = random.Random(8)
    blobs = [rng.randbytes(50_000 + i) for i in range(6)]
    oids = [hash_bytes(ALG, b) for b in blobs]
    writer = packs.PackWriter(store, target=120_000)  # three packs of two
    for i in (0, 1, 3, 4, 5):
        writer.add(blobs[i], oids[i])
    store.put(blobs[2], oids[2])  # an old, loose chunk between packed ones
    index.objects = {o.oid: o for o in writer.finish()}
    order = [5, 0, 1, 2, 3, 4, 0]
    assert list(store.read_chunks([oids[i] for i in order])) == [blobs[i] for i in order]
    gone = index.objects[oids[3]].pack
    assert gone is not None
    os.chmod(store.path(gone), 0o644)
    os.remove(store.path(gone))
    with pytest.raises(ObjectError, match=f"object {gone} is missing"):
        list(store.read_chunks(oids))


def test_a_packed_chunk_reads_from_a_worker_thread(repo: Repo) -> None:
    from concurrent.futures import ThreadPoolExecutor

    data = random.Random(6).randbytes(CHUNK_MIN_FILE + MIB)
    (repo.root / "big.bin").write_bytes(data)
    repo.commit(["big.bin"], name="big")
    chunks = [oid for oid, _, _, _ in _chunk_rows(repo)]
    repo.close()
    fresh = Repo.open(repo.root)  # its catalog not opened yet: the thread must not own it
    with ThreadPoolExecutor(2) as pool:  # as a push reads what it uploads
        read = list(pool.map(fresh.store.get, chunks))
    assert sum(len(r) for r in read) == len(data)
    assert fresh.catalog.asset_names() == ["big"]  # still usable on this thread
    fresh.close()


def _pack_files(store: ObjectStore, found: list[StoredObject]) -> dict[str, bytes]:
    return {o.oid: Path(store.path(o.oid)).read_bytes() for o in found if o.pack is None}


def _refuse_direct_writes(monkeypatch: pytest.MonkeyPatch, refused: str) -> Callable[[], int]:
    """Make the file system refuse direct writes ``refused`` (never, at open, at the first
    write, at a later write), check each direct write keeps O_DIRECT's alignment rule, and
    give a function that says how many direct writes were made."""
    real_open, real_write = os.open, os.pwrite
    direct_writes = 0

    def open_(path: str, flags: int, mode: int = 0o777) -> int:
        if refused == "at open" and flags & packs._DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    def write(fd: int, data: memoryview, offset: int) -> int:
        nonlocal direct_writes
        import fcntl

        if fcntl.fcntl(fd, fcntl.F_GETFL) & packs._DIRECT:
            direct_writes += 1
            assert len(data) % packs._ALIGN == 0 == offset % packs._ALIGN  # O_DIRECT's rule
            late = refused == "at a later write" and direct_writes == 3
            if late or refused == "at the first write":
                raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data, offset)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "pwrite", write)
    return lambda: direct_writes


@pytest.mark.parametrize(
    "refused", ["never", "at open", "at the first write", "at a later write", "switched off"]
)
def test_packs_hold_exactly_their_blobs_however_direct_writes_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused: str
) -> None:
    # A stage (and a run) of three blocks: blobs span stages, packs end mid-block (padded, then
    # cut back).
    monkeypatch.setattr(packs, "_STAGE", 3 * packs._ALIGN)
    monkeypatch.setattr(packs, "_RUN", 3 * packs._ALIGN)
    monkeypatch.setattr(packs, "DIRECT_WRITES", refused != "switched off")
    direct_writes = _refuse_direct_writes(monkeypatch, refused)
    rng = random.Random(5)
    blobs = [rng.randbytes(rng.randrange(1, 5 * packs._ALIGN)) for _ in range(30)]
    store = ObjectStore.local(str(tmp_path / "objects"), algorithm=ALG)
    writer = packs.PackWriter(store, target=40_000)
    offsets = [writer.add(b, hash_bytes(ALG, b)) for b in blobs]
    found = writer.finish()
    store.sync()
    files = _pack_files(store, found)
    assert len(files) > 3
    for oid, raw in files.items():
        assert hash_bytes(ALG, raw) == oid  # no padding left: the bytes are the pack's
    by_oid = {hash_bytes(ALG, b): b for b in blobs}
    members = [o for o in found if o.pack is not None and o.offset is not None]
    assert len(members) == len(by_oid)
    for o in members:
        assert o.pack is not None and o.offset is not None
        assert files[o.pack][o.offset : o.offset + o.size] == by_oid[o.oid]
    assert sorted(offsets) == sorted(o.offset or 0 for o in members)
    direct = refused not in ("at open", "switched off") and packs._DIRECT != 0
    assert (direct_writes() > 0) == direct
    assert os.listdir(tmp_path / "objects" / "tmp") == []


def test_a_store_that_does_not_flush_writes_through_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags_seen: list[int] = []
    real_open = os.open

    def open_(path: str, flags: int, mode: int = 0o777) -> int:
        flags_seen.append(flags)
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", open_)
    store = ObjectStore.local(str(tmp_path / "objects"), algorithm=ALG, fsync=False)
    writer = packs.PackWriter(store)
    writer.add(b"abc" * 1000, hash_bytes(ALG, b"abc" * 1000))
    [pack, _] = sorted(writer.finish(), key=lambda o: o.pack is not None)
    assert Path(store.path(pack.oid)).read_bytes() == b"abc" * 1000
    assert flags_seen and not any(f & packs._DIRECT for f in flags_seen if packs._DIRECT)


def _placed_blobs(rng: random.Random) -> tuple[list[bytearray], list[memoryview]]:
    """Blobs as a file's chunks come to the pack writer: slices of window buffers, most
    following each other, some with a gap (a known chunk skipped), some across buffers."""
    buffers = [bytearray(rng.randbytes(300_000)) for _ in range(3)]
    blobs: list[memoryview] = []
    for buf in buffers:
        at = rng.randrange(0, 5000)
        while at < len(buf) - 1:
            size = min(rng.choice([1, 100, 4095, 4096, 4097, 20_000, 70_000]), len(buf) - at)
            blobs.append(memoryview(buf)[at : at + size])
            at += size
            if rng.random() < 0.2:
                at += rng.randrange(1, 9000)  # skipped: the next blob is not where this ended
    return buffers, blobs


@pytest.mark.parametrize(
    "refused", ["never", "at open", "at the first write", "at a later write", "switched off"]
)
def test_placed_packs_write_blobs_from_their_buffers_with_zero_filler_between(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused: str
) -> None:
    monkeypatch.setattr(packs, "_RUN", 3 * packs._ALIGN)  # runs written in several writes
    monkeypatch.setattr(packs, "DIRECT_WRITES", refused != "switched off")
    direct_writes = _refuse_direct_writes(monkeypatch, refused)
    buffers, blobs = _placed_blobs(random.Random(8))
    blobs.insert(5, memoryview(b"read-only bytes" * 500))  # copied once, placed all the same
    store = ObjectStore.local(str(tmp_path / "objects"), algorithm=ALG)
    writer = packs.PackWriter(store, target=150_000)
    expected = [(hash_bytes(ALG, b), bytes(b)) for b in blobs]
    offsets = [writer.add(b, oid) for b, (oid, _) in zip(blobs, expected, strict=True)]
    found = writer.finish()
    store.sync()
    assert writer.written() == writer.added == len(blobs)  # every buffer free again
    files = _pack_files(store, found)
    assert len(files) > 3
    members = [o for o in found if o.pack is not None and o.offset is not None]
    assert [(o.oid, o.offset) for o in members] == [
        (oid, at) for (oid, _), at in zip(expected, offsets, strict=True)
    ]
    filler = 0
    for oid, raw in files.items():
        assert hash_bytes(ALG, raw) == oid  # the pack is an object: its bytes, filler included
        named = bytearray(len(raw))
        end = 0
        mine = [m for m in members if m.pack == oid]
        for o in mine:
            assert o.offset is not None and o.offset >= end  # in order, never overlapping
            named[o.offset : o.offset + o.size] = b"\1" * o.size
            end = o.offset + o.size
        assert end == len(raw)  # no padding left after the last member
        unnamed = [raw[i] for i in range(len(raw)) if not named[i]]
        assert set(unnamed) <= {0} and len(unnamed) < packs._ALIGN * len(mine)
        filler += len(unnamed)
    for o, (oid, data) in zip(members, expected, strict=True):
        assert o.pack is not None and o.offset is not None
        assert files[o.pack][o.offset : o.offset + o.size] == data
        assert store.get_slice(o.pack, o.offset, o.size, oid) == data
    direct = refused not in ("at open", "switched off") and packs._DIRECT != 0
    assert (direct_writes() > 0) == direct
    assert (filler > 0) == (refused not in ("at open", "switched off") and packs._DIRECT != 0)
    assert os.listdir(tmp_path / "objects" / "tmp") == []
    del buffers


def test_packs_with_filler_pass_fsck_gc_push_and_clone(
    repo: Repo, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packs, "PACK_TARGET", 3 * MIB)
    rng = random.Random(9)
    data = bytearray(rng.randbytes(CHUNK_MIN_FILE + 5 * MIB + 777))
    (repo.root / "big.bin").write_bytes(data)
    repo.commit(["big.bin"], name="big")
    first = bytes(data)
    middle = len(data) // 2
    data[middle : middle + MIB] = rng.randbytes(MIB)  # new chunks between known ones
    (repo.root / "big.bin").write_bytes(data)
    repo.commit(["big.bin"], name="big")
    rows = repo.catalog.conn.execute(
        "SELECT pack, SUM(size) FROM objects WHERE pack IS NOT NULL AND pack != oid GROUP BY pack"
    ).fetchall()
    sizes = {pack: os.path.getsize(repo.store.path(pack)) for pack, _ in rows}
    if packs._DIRECT:
        assert any(named < sizes[pack] for pack, named in rows)  # filler no member names
    assert fsck(repo).ok
    gc.apply(repo, now=time.time() + 30 * 86400)
    assert fsck(repo).ok
    repo.close()
    remote = (tmp_path / "remote").as_uri()
    cli("remote", "add", "origin", remote, ok=True)
    cli("push", ok=True)
    cli("fsck", "--remote", "origin", ok=True)
    clone = tmp_path / "clone"
    cli("clone", remote, str(clone), ok=True)
    for ref, want in (("big@v1", first), ("big@v2", bytes(data))):
        out = tmp_path / f"out-{ref[-1]}"
        monkeypatch.chdir(clone)
        cli("checkout", ref, "--to", str(out), ok=True)
        assert (out / "big.bin").read_bytes() == want
    cli("fsck", ok=True)


@pytest.mark.parametrize("extra", [-1, 0, 1, 4095, 4096, 4097])
def test_big_files_round_trip_at_chunk_and_pack_boundaries(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, extra: int
) -> None:
    monkeypatch.setattr(packs, "PACK_TARGET", 2 * MIB)
    data = random.Random(extra).randbytes(CHUNK_MIN_FILE + 2 * MIB + extra)
    (repo.root / "big.bin").write_bytes(data)
    repo.commit(["big.bin"], name="big")
    out = repo.root.parent / "out"
    repo.checkout("big", to=out)
    assert (out / "big.bin").read_bytes() == data
    assert fsck(repo).ok


def test_a_failure_while_writing_out_a_waiting_run_fails_finish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: packs.PackWriter) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(packs.PackWriter, "_end_run", broken)
    store = ObjectStore.local(str(tmp_path / "objects"), algorithm=ALG)
    writer = packs.PackWriter(store)
    buf = bytearray(random.Random(1).randbytes(100_000))
    blob = memoryview(buf)[100:90_000]
    writer.add(blob, hash_bytes(ALG, blob))
    deadline = time.monotonic() + 10
    while writer._open_run is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the writer thread keeps the blob in a run, waiting for the next
    if writer._open_run is None:
        writer.abort()
        pytest.skip("this file system refuses direct writes: packs are not placed")
    writer.written()  # a reader waiting for the buffer asks for the run to be written out
    with pytest.raises(OSError, match="Input/output"):
        writer.finish()
    assert os.listdir(tmp_path / "objects" / "tmp") == []


def test_a_buffer_is_free_only_once_every_write_from_it_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blob written out in two writes (its whole blocks, then its tail with the next blob's)
    keeps its buffer until both are done, whichever finishes first: a reader that reused it
    earlier would put other bytes in the pack than the ones hashed for it."""
    monkeypatch.setattr(packs, "_RUN", 3 * packs._ALIGN)  # a 5-block blob goes out at once
    release = __import__("threading").Event()
    real = packs._write_view
    blocked: list[int] = []

    def slow_first_run(
        pack: packs._Pack, view: memoryview, offset: int, keep: object = None
    ) -> None:
        if offset == packs._ALIGN and not blocked:  # the first blob's whole blocks
            blocked.append(offset)
            assert release.wait(10)
        real(pack, view, offset, keep)

    monkeypatch.setattr(packs, "_write_view", slow_first_run)
    store = ObjectStore.local(str(tmp_path / "objects"), algorithm=ALG)
    writer = packs.PackWriter(store)
    buf = bytearray(random.Random(3).randbytes(100_000))
    first = memoryview(buf)[: 5 * packs._ALIGN + 100]
    second = memoryview(buf)[first.nbytes : first.nbytes + 100]
    expected = [bytes(first), bytes(second)]
    for blob in (first, second):
        writer.add(blob, hash_bytes(ALG, blob))
    deadline = time.monotonic() + 10
    while not blocked and time.monotonic() < deadline:
        time.sleep(0.01)
    if not blocked:
        writer.abort()
        release.set()
        pytest.skip("this file system refuses direct writes: packs are not placed")
    for _ in range(50):  # the reader asks (and has the waiting run written out)
        assert writer.written() == 0, "a buffer counted free while a write from it runs"
        time.sleep(0.01)
    release.set()
    found = writer.finish()
    assert writer.written() == 2
    buf[:] = bytes(len(buf))  # the reader reuses the buffer: the pack must not change
    files = _pack_files(store, found)
    members = [o for o in found if o.pack is not None and o.offset is not None]
    for o, data in zip(members, expected, strict=True):
        assert o.pack is not None and o.offset is not None
        assert files[o.pack][o.offset : o.offset + o.size] == data
    for oid, raw in files.items():
        assert hash_bytes(ALG, raw) == oid
