"""Packs of chunks: many blobs appended to one object, written and flushed behind the caller.

A 1 GiB file cut into ~1,000 chunks used to cost ~1,000 loose objects, each created, written,
renamed and fsync'd on its own; the fsyncs alone took longer than copying the file. Chunks
now go into pack objects of about ``PACK_TARGET`` bytes. On a local disk a background thread
hashes each blob as it comes and writes it (``os.pwrite``, ``ctypes`` calls and ``fsync``
release the GIL, so this overlaps with the caller's chunking): straight from the caller's
buffer in a direct pack (placed, below), else through a staging buffer it copies blobs into; a
second thread flushes each full pack and renames it to its content address while the next one
is being written. Where a blob landed is reported per pack
(:meth:`PackWriter.finish`); the catalog's ``objects`` table keeps it, as for small files in
packs.

When the store flushes what it writes (``fsync``, the default), packs are written with
``O_DIRECT`` from the page-aligned staging buffer: the bytes go from the buffer to the disk,
without a copy into the page cache. On this project's VM that copy was the largest cost of a
big file's commit (0.3-2.5 s of system time per GiB, as much as the disk write itself; see
docs/benchmarks.md, "Issue 12, fourth pass"), and the fsync had to write the same bytes out
anyway. A file system that refuses ``O_DIRECT`` gets ordinary writes.

A direct pack is **placed**: each blob sits at an offset congruent to its memory address
(mod ``_ALIGN``), after up to ``_ALIGN - 1`` bytes of filler (zeros no member names) where
needed, so that its whole blocks can be written from where they are, without the staging copy
(~0.17 s of CPU per GiB). A file's new chunks follow each other in its window buffer and need
no filler; a pack's start and a skipped (known) chunk do. Readers read members by offset and
size and check a pack whole by its hash, so filler changes nothing for them.

A pack is an ordinary object (its oid is the hash of its bytes), so stores, remotes, gc and
fsck see nothing new. Until :meth:`PackWriter.finish` returns, nothing names the packs, so a
crash leaves at worst a temporary file or an unreferenced pack.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import mmap
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from dvlin.errors import FileSystemError
from dvlin.faults import IN_PACK, pause_point
from dvlin.objects.buffers import aligned_buffer
from dvlin.objects.hashing import Hasher, Oid, unlocked_hasher_factory
from dvlin.objects.store import ObjectStore, StoredObject

PACK_TARGET = 32 * 1024 * 1024
# Bytes handed to the writer thread and not yet written: bounds memory whatever the file size.
_MAX_QUEUED = 64 * 1024 * 1024
# Bytes gathered before one write: big enough for the disk to stream, small enough to stay in
# the CPU's cache between the copy in and the hash.
_STAGE = 2 * 1024 * 1024
# Bytes of a placed pack's run gathered before one direct write from the caller's buffer: no copy
# is made, so unlike a stage it need not fit the CPU's cache. Fewer, longer writes kept the
# virtual disk busier: 2 MiB runs left a 1 GiB commit's reader waiting 0.33-0.41 s for buffers
# the writes still held (docs/benchmarks.md, "The 1 GiB commit: longer direct writes").
_RUN = 8 * 1024 * 1024
# Staging buffers in rotation: while one fills, the others' writes are in flight (a direct write
# waits for the disk, and one at a time left a virtual disk idle between requests).
_STAGES = 4
# Threads that write a pack's stages and runs: each direct write waits for the disk, so this is
# how many can be in flight at once (a stage's writes are bounded by the stages anyway). It was
# three, one per stage but the filling one. Alternated rounds of a 1 GiB commit, medians: 3, 5,
# 7 threads 1.352, 1.324, 1.307 s (six rounds); 3 and 8: 1.247, 1.205 s (six); 3 and 7: 1.215,
# 1.176 s (eight, quicker in six); but bench_big.py against the old code, five rounds: 1.14 s
# against 1.12 s. A small gain at most (docs/benchmarks.md, "Issue 12, tenth pass").
_IO_THREADS = 7
# Packs bypass the page cache when the store flushes (see the module's docstring). The price:
# the packs are not cached afterwards, so a checkout soon after reads them from the disk. A
# switch between versions of a big file takes the chunks they share from the working file
# instead (dvlin/workspace/chunked.py), so only a restore of a deleted file pays it. Alternated
# runs with the switch in place kept this on: the 1 GiB commit took half the time, and the
# switch back beat DVC either way (docs/benchmarks.md, "Issue 12, fifth pass: the 1 GiB
# file"). False writes through the page cache as before.
DIRECT_WRITES = True
# Direct writes start, and are as long as, a multiple of this (the largest logical block size
# of common disks); the last block of a pack is padded, then the file is cut back to its size.
_ALIGN = 4096
# Direct packs are placed (_write_placed): blobs written from their own buffers, no staging copy.
PLACED = True
# Edge blocks in rotation (placed packs): a blob's first and last partial block are copied
# into one and written once complete; a slot is reused once its write is done.
_EDGES = 16


@dataclass(slots=True)
class _Pack:
    """One pack being filled: its members and, on a local disk, its temporary file."""

    hasher: Hasher
    members: list[tuple[Oid, int, int]] = field(default_factory=list)  # oid, size, offset
    size: int = 0
    tmp: str = ""
    fd: int = -1
    buffer: bytearray = field(default_factory=bytearray)  # stores without a local disk
    oid: Oid = Oid("")
    direct: bool = False  # fd has O_DIRECT on (until a write is refused with it)
    opened_direct: bool = False  # fd was opened with O_DIRECT
    staged: int = 0  # bytes in the current staging buffer, not written yet
    drained: int = 0  # bytes handed to writes (without any padding): the next write's offset
    writes: list[Future[None]] = field(default_factory=list)  # in flight or done
    padded: bool = False  # a write went out padded: cut the file back before it is flushed
    # Direct packs place each member at an offset congruent to its memory address (mod
    # _ALIGN) and write its whole blocks straight from the caller's buffer (see _write_placed).
    placed: bool = False
    hashed: int = 0  # placed packs: bytes hashed so far (members and the filler before them)
    edge_at: int = -1  # placed packs: offset of the unfinished block held in edge slot `edge`
    edge: int = -1
    run: _Run | None = None  # placed packs: blobs following each other in memory, not written


@dataclass(slots=True)
class _Run:
    """Bytes of a placed pack at ``at`` (a block boundary), ``size`` of them, in memory at
    ``address``: the blobs' views (kept alive) and their end offsets, not yet written; and
    the writes already sent from the run's memory that may still be running (a blob still in
    the run may be read by any of them: its first blocks went out with an earlier write)."""

    at: int
    address: int
    size: int
    views: list[memoryview]
    ends: list[int]
    writes: list[Future[None]] = field(default_factory=list)


class PackWriter:
    """Append blobs to packs in ``store``; :meth:`finish` says where each one landed.

    Call :meth:`abort` instead when the work is abandoned: it removes the temporary files.
    """

    def __init__(self, store: ObjectStore, *, target: int | None = None) -> None:
        self.store = store
        self.target = target or PACK_TARGET
        self._new_hasher: Callable[[], Hasher] = unlocked_hasher_factory(store.algorithm)
        self._current: _Pack | None = None
        self._closed: list[_Pack] = []
        self._local = store.is_local
        self._writer: ThreadPoolExecutor | None = None
        self._flusher: ThreadPoolExecutor | None = None
        self._queued: deque[tuple[Future[None], int]] = deque()
        self._queued_bytes = 0
        self._published: list[Future[None]] = []
        self._tmps: list[str] = []
        self.added = 0  # blobs handed to add()
        self._written = 0  # of which written to their pack: their buffers may be reused
        # Per blob handed to the writer thread, in order: None once its buffer is free, else
        # the writes from its buffer still to finish (placed packs); counted by written().
        self._pending: deque[tuple[Future[None], ...] | None] = deque()
        self._pending_lock = threading.Lock()
        # The placed pack whose last blobs wait in a run (the writer thread's), and whether a
        # job to write them out is queued: see written().
        self._open_run: _Pack | None = None
        self._kicked = False
        self._kicks: list[Future[None]] = []  # those jobs: a failure in one fails finish()
        self._failed = False  # a write failed: the rest is abandoned, nothing more is written
        self._stages: list[mmap.mmap] = []  # the writer thread's (page-aligned) buffers
        self._stage_writes: list[Future[None] | None] = []  # the last write from each
        self._at = 0  # the stage being filled
        self._io: ThreadPoolExecutor | None = None  # the writes from the stages
        self._edges: mmap.mmap | None = None  # placed packs: _EDGES blocks of partial blocks
        self._edge_writes: list[Future[None] | None] = [None] * _EDGES
        self._edge_next = 0

    def written(self) -> int:
        """How many of the blobs given to :meth:`add` are written (and need no buffer now).

        After a failed write nothing more will be written (:meth:`finish` raises), so every
        buffer is free: a reader waiting to reuse one must not wait forever.
        """
        if self._failed:
            return sys.maxsize
        with self._pending_lock:
            pending = self._pending
            while pending and (pending[0] is None or all(w.done() for w in pending[0])):
                pending.popleft()
                self._written += 1
            if self._open_run is not None and not self._kicked and self._writer is not None:
                # The last blobs wait in a run for the next one, which may never come if the
                # caller waits for one of their buffers: have the writer write them out now.
                self._kicked = True
                with contextlib.suppress(RuntimeError):  # shut down meanwhile: nothing waits
                    self._kicks.append(self._writer.submit(self._end_run))
            return self._written

    def add(self, data: bytes | memoryview, oid: Oid) -> int:
        """Queue ``data`` (whose hash is ``oid``) into the current pack; return its offset.

        ``data`` must not change until :meth:`written` counts it (or :meth:`finish`): on a
        local disk it is written later, by the writer thread.
        """
        pack = self._current
        if pack is None or (pack.size and pack.size + len(data) > self.target):
            if pack is not None:
                self._close(pack)
            pack = self._current = self._open()
        offset = pack.size
        if pack.placed and (address := _address(data)) is not None:
            # Filler (zeros no member names, < _ALIGN bytes) puts the blob at an offset
            # congruent to its address: its whole blocks are then written from where they are.
            # Blobs that follow each other in one buffer (a file's new chunks) need none.
            offset += (address - offset) % _ALIGN
        pack.members.append((oid, len(data), offset))
        pack.size = offset + len(data)
        self.added += 1
        if self._local:
            job = self._write_placed if pack.placed else self._write
            self._submit(job, pack, data, offset, size=len(data))
        else:
            pack.buffer += data
            self._pending.append(None)
        return offset

    def finish(self) -> list[StoredObject]:
        """Close the last pack, wait until every pack is written (and flushed), and list them.

        The list holds each pack and each member (with ``pack`` and ``offset`` set). On a local
        store with fsync on, the packs' folders still need the store's :meth:`ObjectStore.sync`.
        """
        if self._current is not None:
            self._close(self._current)
            self._current = None
        try:
            self._wait()
        except BaseException:
            self.abort()
            raise
        self._shutdown()
        found: list[StoredObject] = []
        for pack in self._closed:
            found.append(StoredObject(pack.oid, pack.size, None, None))
            found += [StoredObject(oid, size, pack.oid, off) for oid, size, off in pack.members]
        self._closed = []
        return found

    def abort(self) -> None:
        """Stop: wait for the threads, then remove every temporary file still there."""
        for future, _ in self._queued:
            future.cancel()
        for future in [*self._kicks, *self._published]:
            future.cancel()
        self._kicks = []
        self._shutdown()
        for pack in [*self._closed, *([self._current] if self._current else [])]:
            if pack.fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(pack.fd)
                pack.fd = -1
        for tmp in self._tmps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self._tmps = []
        self._current = None
        self._closed = []

    # -- the caller's thread -------------------------------------------------------------------

    def _open(self) -> _Pack:
        pack = _Pack(self._new_hasher())
        if self._local:
            root = self.store.root
            os.makedirs(f"{root}/tmp", exist_ok=True)
            pack.tmp = f"{root}/tmp/{os.urandom(16).hex()}"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            # Unflushed stores keep the page cache's fast return: direct writes wait for the disk.
            direct = DIRECT_WRITES and self.store.fsync and _DIRECT != 0
            try:
                # Read-only like every object (see ObjectStore.put).
                pack.fd = os.open(pack.tmp, flags | (_DIRECT if direct else 0), 0o444)
                pack.direct = pack.opened_direct = direct
                pack.placed = direct and PLACED
            except OSError as exc:
                if not direct or exc.errno != errno.EINVAL:
                    raise FileSystemError.from_os(exc, action="write", path=pack.tmp) from None
                try:  # the file system refuses O_DIRECT
                    pack.fd = os.open(pack.tmp, flags, 0o444)
                except OSError as exc2:
                    raise FileSystemError.from_os(exc2, action="write", path=pack.tmp) from None
            self._tmps.append(pack.tmp)
        return pack

    def _close(self, pack: _Pack) -> None:
        self._closed.append(pack)
        if self._local:
            self._submit(self._seal, pack, size=0)
        else:
            pack.oid = self.store.put(bytes(pack.buffer))
            pack.buffer = bytearray()

    def _submit(self, job: Callable[..., None], *args: object, size: int) -> None:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="dvlin-pack")
        while self._queued and self._queued_bytes + size > _MAX_QUEUED:
            done, n = self._queued.popleft()
            self._queued_bytes -= n
            done.result()
        self._queued.append((self._writer.submit(job, *args), size))
        self._queued_bytes += size

    def _wait(self) -> None:
        while self._queued:
            self._queued.popleft()[0].result()
        self._queued_bytes = 0
        for future in [*self._kicks, *self._published]:
            future.result()
        self._kicks, self._published = [], []

    def _shutdown(self) -> None:
        for pool in (self._writer, self._io, self._flusher):
            if pool is not None:
                pool.shutdown(wait=True)
        self._writer = self._io = self._flusher = None
        if self._edges is not None:
            with contextlib.suppress(BufferError):
                self._edges.close()
            self._edges, self._edge_writes = None, [None] * _EDGES
        for stage in self._stages:
            # A failed write's traceback may still hold a view of it: then it is unmapped
            # when that goes, not now.
            with contextlib.suppress(BufferError):
                stage.close()
        self._stages, self._stage_writes, self._at = [], [], 0

    # -- the writer thread ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _writing(self, pack: _Pack) -> Iterator[None]:
        """Any failure while writing ``pack`` stops the writer: nothing more is written, and
        :meth:`finish` raises. An OSError (a full disk shows itself here) names the pack."""
        try:
            yield
        except OSError as exc:
            self._failed = True
            raise FileSystemError.from_os(exc, action="write", path=pack.tmp) from None
        except BaseException:
            self._failed = True
            raise

    def _write(self, pack: _Pack, data: bytes | memoryview, offset: int) -> None:
        if self._failed:
            return
        with self._writing(pack):
            view = memoryview(data)
            while view:
                stage = self._stage()
                n = min(_STAGE - pack.staged, len(view))
                _copy(stage, pack.staged, view[:n])
                pack.staged += n
                view = view[n:]
                if pack.staged == _STAGE:
                    self._drain(pack)
            self._pending.append(None)  # copied out: its buffer is free
            pause_point(IN_PACK)

    def _stage(self) -> mmap.mmap:
        """The staging buffer being filled, once its last write is done."""
        if not self._stages:
            # Page-aligned, as O_DIRECT needs.
            self._stages = [aligned_buffer(_STAGE) for _ in range(_STAGES)]
            self._stage_writes = [None] * _STAGES
        last = self._stage_writes[self._at]
        if last is not None:
            last.result()
            self._stage_writes[self._at] = None
        return self._stages[self._at]

    def _drain(self, pack: _Pack) -> None:
        """Hash the staged bytes (in order) and hand them to a write at their offset."""
        size, stage = pack.staged, self._stages[self._at]
        block = memoryview(stage)
        try:
            pack.hasher.update(block[:size])
        finally:
            block.release()
        end = size
        if pack.direct and size % _ALIGN:
            end = size + _ALIGN - size % _ALIGN
            stage[size:end] = bytes(end - size)
            pack.padded = True
        done = self._io_pool().submit(_write_at, pack, stage, size, end, pack.drained)
        pack.writes.append(done)
        self._stage_writes[self._at] = done
        self._at = (self._at + 1) % _STAGES
        pack.drained += size
        pack.staged = 0

    def _io_pool(self) -> ThreadPoolExecutor:
        if self._io is None:
            self._io = ThreadPoolExecutor(_IO_THREADS, thread_name_prefix="dvlin-pack-io")
        return self._io

    def _write_placed(self, pack: _Pack, data: bytes | memoryview, offset: int) -> None:
        """Hash a blob of a placed pack and write it at ``offset`` (congruent to its address).

        Blobs that follow each other in memory and in the pack (a file's new chunks in one
        window buffer) make a run, written straight from that memory in writes of about
        ``_RUN`` bytes, no copy. Where a run ends (the next blob is elsewhere in memory, or
        the pack is sealed), its whole blocks are written from memory and its last partial
        block is copied into an edge block; the next blob's first partial block joins that
        edge block, or starts a new one, and an edge block is written once complete, or once
        a blob starts past it (its rest is filler, zeros), or when the pack is sealed (then
        the file is cut back to the pack's size). A blob's buffer is counted free by
        :meth:`written` once every write from it is done.
        """
        if self._failed:
            return
        with self._writing(pack):
            view = memoryview(data)
            n = view.nbytes
            if offset > pack.hashed:
                pack.hasher.update(bytes(offset - pack.hashed))  # the filler
            pack.hasher.update(view)
            pack.hashed = offset + n
            address = _address(view)
            if address is None or (address - offset) % _ALIGN:
                view = _placed_copy(view, offset % _ALIGN)  # read-only bytes: copied once
                address = _address(view)
                assert address is not None
            run = pack.run
            if (
                run is not None
                and run.at + run.size == offset
                and run.address + run.size == address
            ):
                run.size += n
                run.views.append(view)
                run.ends.append(offset + n)
                if run.size >= _RUN:
                    self._run_out(pack, run, whole_only=True)
            else:
                if run is not None:
                    self._run_out(pack, run, whole_only=False)
                self._start_run(pack, view, address, offset)
            self._open_run = pack if pack.run is not None else None
            pause_point(IN_PACK)

    def _end_run(self) -> None:
        """Write out the open run (asked by :meth:`written`)."""
        self._kicked = False
        pack = self._open_run
        if pack is None or pack.run is None or self._failed:
            return
        with self._writing(pack):
            self._run_out(pack, pack.run, whole_only=False)

    def _start_run(self, pack: _Pack, view: memoryview, address: int, offset: int) -> None:
        """A blob that does not continue the run: its first partial block into an edge block,
        the rest a new run from the next block boundary."""
        n = view.nbytes
        head = offset % _ALIGN
        if pack.edge_at >= 0 and pack.edge_at != offset - head:
            self._write_edge(pack)  # the blob starts past it: its rest is filler
        done = 0
        if head:
            if pack.edge_at < 0:
                self._new_edge(pack, offset - head)
            done = min(n, _ALIGN - head)
            self._edge_put(pack, head, view[:done])
            if head + done == _ALIGN:
                self._write_edge(pack)
        if done == n:
            self._pending.append(None)  # copied: its buffer is free
            pack.run = None
        else:
            pack.run = _Run(offset + done, address + done, n - done, [view], [offset + n])

    def _run_out(self, pack: _Pack, run: _Run, *, whole_only: bool) -> None:
        """Write a run's whole blocks from memory; unless ``whole_only``, copy its last
        partial block into an edge block and end the run (else it is kept for the next blob).
        """
        whole = run.size // _ALIGN * _ALIGN
        write: Future[None] | None = None
        if whole:
            memory = (ctypes.c_char * whole).from_address(run.address)
            block = memoryview(memory).cast("B")
            write = self._io_pool().submit(_write_view, pack, block, run.at, run.views)
            pack.writes.append(write)
            run.writes.append(write)
        end = run.at + whole
        rest = run.size - whole
        if not whole_only and rest:
            self._new_edge(pack, end)
            tail = (ctypes.c_char * rest).from_address(run.address + whole)
            self._edge_put(pack, 0, memoryview(tail).cast("B"))
        done = [e for e in run.ends if e <= end] if whole_only else run.ends
        # A blob's buffer is free once every write that may read it is done: its last one
        # and any earlier one of the run (a blob longer than a write goes out in several,
        # and the io threads finish them in any order).
        running = [w for w in run.writes if not w.done()]
        self._pending.extend([tuple(running) or None] * len(done))
        if not whole_only:
            pack.run = self._open_run = None
            return
        keep = len(run.ends) - len(done)
        run.at, run.address, run.size = end, run.address + whole, rest
        run.writes = running
        run.views, run.ends = (
            run.views[len(run.views) - keep :] if keep else [],
            run.ends[-keep:] if keep else [],
        )
        if not keep:
            pack.run = None

    def _new_edge(self, pack: _Pack, at: int) -> None:
        """Start an edge block (zeros) for the block at ``at``, once its slot's write is done."""
        if self._edges is None:
            self._edges = aligned_buffer(_EDGES * _ALIGN)  # page-aligned, as O_DIRECT needs
        k = self._edge_next
        self._edge_next = (k + 1) % _EDGES
        last = self._edge_writes[k]
        if last is not None:
            last.result()
            self._edge_writes[k] = None
        self._edges[k * _ALIGN : (k + 1) * _ALIGN] = bytes(_ALIGN)
        pack.edge_at, pack.edge = at, k

    def _edge_put(self, pack: _Pack, at: int, view: memoryview) -> None:
        assert self._edges is not None
        start = pack.edge * _ALIGN + at
        self._edges[start : start + view.nbytes] = view

    def _write_edge(self, pack: _Pack) -> None:
        """Write the edge block out whole (what no blob filled is filler, or cut back)."""
        assert self._edges is not None
        k, at = pack.edge, pack.edge_at
        block = memoryview(self._edges)[k * _ALIGN : (k + 1) * _ALIGN]
        done = self._io_pool().submit(_write_view, pack, block, at)
        self._edge_writes[k] = done
        pack.writes.append(done)
        pack.padded = True
        pack.edge_at = pack.edge = -1

    def _seal(self, pack: _Pack) -> None:
        if self._failed:
            return  # its bytes may be incomplete: never publish it
        with self._writing(pack):
            if pack.staged:
                self._stage()
                self._drain(pack)
            if pack.run is not None:
                self._run_out(pack, pack.run, whole_only=False)
            if pack.edge_at >= 0:
                self._write_edge(pack)
            for done in pack.writes:
                done.result()
            pack.writes = []
            if pack.padded:  # the padding of its last block went out: cut the file back
                os.ftruncate(pack.fd, pack.size if pack.placed else pack.drained)
        pack.oid = Oid(pack.hasher.hexdigest())
        if self._flusher is None:
            self._flusher = ThreadPoolExecutor(1, thread_name_prefix="dvlin-flush")
        # Flushing on its own thread lets the next pack be written meanwhile.
        self._published.append(self._flusher.submit(self._publish, pack))

    # -- the flusher thread --------------------------------------------------------------------

    def _publish(self, pack: _Pack) -> None:
        target = self.store.path(pack.oid)
        try:
            if self.store.fsync:
                # Data and size; the rename is flushed with the folder (ObjectStore.sync).
                _fdatasync(pack.fd)
            os.close(pack.fd)
            pack.fd = -1
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.exists(target):
                os.unlink(pack.tmp)  # the same pack exists: bytes equal by their hash
            else:
                os.replace(pack.tmp, target)
        except OSError as exc:
            raise FileSystemError.from_os(exc, action="write", path=target) from None
        self.store.written(target, synced=True)


_DIRECT: int = getattr(os, "O_DIRECT", 0)


def _stop_direct(fd: int) -> None:
    """Turn O_DIRECT off on ``fd`` (Linux allows it with F_SETFL)."""
    import fcntl

    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~_DIRECT)


def _write_at(pack: _Pack, stage: mmap.mmap, size: int, end: int, offset: int) -> None:
    """Write ``stage[:end]`` (``size`` bytes and any padding) at ``offset`` of the pack's file.

    A direct write that is refused after all (an odd device, an unaligned short write) goes
    on through the page cache, without the padding.
    """
    block = memoryview(stage)
    try:
        _pwrite(pack, block[:end], offset, unpadded=size)
    finally:
        block.release()


def _write_view(pack: _Pack, view: memoryview, offset: int, keep: object = None) -> None:
    """Write ``view`` (whole blocks, from an aligned address) at ``offset`` of a placed pack.

    ``keep`` holds the buffers ``view`` points into until the write is done.
    """
    _pwrite(pack, view, offset)


def _pwrite(pack: _Pack, view: memoryview, offset: int, *, unpadded: int | None = None) -> None:
    """Write all of ``view`` at ``offset``. A direct write refused after all goes on through
    the page cache (only the first ``unpadded`` bytes then, when the rest is padding)."""
    done, retried, end = 0, False, view.nbytes
    while done < end:
        try:
            done += os.pwrite(pack.fd, view[done:end], offset + done)
        except OSError as exc:
            # Another write of the same pack may have turned O_DIRECT off already (writes
            # run side by side): whether this one was refused for being direct is known by
            # trying once more without it.
            if retried or not pack.opened_direct or exc.errno != errno.EINVAL:
                raise
            retried = True
            _stop_direct(pack.fd)
            pack.direct = False
            if unpadded is not None:
                end = max(done, unpadded)


def _address(data: bytes | memoryview) -> int | None:
    """The address of ``data``'s first byte, where it is a writable contiguous buffer."""
    view = memoryview(data)
    n = view.nbytes
    if not n or view.readonly or not view.c_contiguous:
        return None
    pointer = (ctypes.c_char * n).from_buffer(view)
    try:
        return ctypes.addressof(pointer)
    finally:
        del pointer
        view.release()


def _placed_copy(view: memoryview, at: int) -> memoryview:
    """``view`` copied to a page-aligned buffer at ``at``: its address congruent to ``at``."""
    buf = aligned_buffer(at + view.nbytes)
    buf[at : at + view.nbytes] = view
    return memoryview(buf)[at : at + view.nbytes]


def _fdatasync(fd: int) -> None:
    sync = getattr(os, "fdatasync", os.fsync)  # not on macOS or Windows
    sync(fd)


def _copy(stage: mmap.mmap, at: int, view: memoryview) -> None:
    """Copy ``view`` into ``stage`` at ``at``; ``ctypes.memmove`` lets go of the GIL meanwhile."""
    n = view.nbytes
    if view.readonly or not view.c_contiguous or n < 65536:
        stage[at : at + n] = view
        return
    source = (ctypes.c_char * n).from_buffer(view)
    target = ctypes.c_char.from_buffer(stage, at)
    try:
        ctypes.memmove(ctypes.addressof(target), ctypes.addressof(source), n)
    finally:
        del source, target
