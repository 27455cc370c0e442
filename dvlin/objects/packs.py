"""Packs of chunks: many blobs appended to one object, written and flushed behind the caller.

A 1 GiB file cut into ~1,000 chunks used to cost ~1,000 loose objects, each created, written,
renamed and fsync'd on its own; the fsyncs alone took longer than copying the file. Chunks
now go into pack objects of about ``PACK_TARGET`` bytes. On a local disk a background thread
copies each blob as it comes into a staging buffer, and writes and hashes the buffer when it
is full (``os.write``, ``ctypes`` calls and ``fsync`` release the GIL, so this overlaps with the
caller's chunking); a second thread flushes each full pack and renames it to its content
address while the next one is being written. Where a blob landed is reported per pack
(:meth:`PackWriter.finish`); the catalog's ``objects`` table keeps it, as for small files in
packs.

When the store flushes what it writes (``fsync``, the default), packs are written with
``O_DIRECT`` from the page-aligned staging buffer: the bytes go from the buffer to the disk,
without a copy into the page cache. On this project's VM that copy was the largest cost of a
big file's commit (0.3-2.5 s of system time per GiB, as much as the disk write itself; see
docs/benchmarks.md, "Issue 12, fourth pass"), and the fsync had to write the same bytes out
anyway. A file system that refuses ``O_DIRECT`` gets ordinary writes.

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
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from dvlin.errors import FileSystemError
from dvlin.faults import IN_PACK, pause_point
from dvlin.objects.hashing import Hasher, Oid, unlocked_hasher_factory
from dvlin.objects.store import ObjectStore, StoredObject

PACK_TARGET = 32 * 1024 * 1024
# Bytes handed to the writer thread and not yet written: bounds memory whatever the file size.
_MAX_QUEUED = 64 * 1024 * 1024
# Bytes gathered before one write: big enough for the disk to stream, small enough to stay in
# the CPU's cache between the copy in and the hash.
_STAGE = 2 * 1024 * 1024
# Staging buffers in rotation: while one fills, the others' writes are in flight (a direct write
# waits for the disk, and one at a time left a virtual disk idle between requests).
_STAGES = 4
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
        self._failed = False  # a write failed: the rest is abandoned, nothing more is written
        self._stages: list[mmap.mmap] = []  # the writer thread's (page-aligned) buffers
        self._stage_writes: list[Future[None] | None] = []  # the last write from each
        self._at = 0  # the stage being filled
        self._io: ThreadPoolExecutor | None = None  # the writes from the stages

    def written(self) -> int:
        """How many of the blobs given to :meth:`add` are written (and need no buffer now).

        After a failed write nothing more will be written (:meth:`finish` raises), so every
        buffer is free: a reader waiting to reuse one must not wait forever.
        """
        return sys.maxsize if self._failed else self._written

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
        pack.members.append((oid, len(data), offset))
        pack.size += len(data)
        self.added += 1
        if self._local:
            self._submit(self._write, pack, data, size=len(data))
        else:
            pack.buffer += data
            self._written += 1
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
        for future in self._published:
            future.cancel()
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
            pack.tmp = f"{root}/tmp/{uuid.uuid4().hex}"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            # Unflushed stores keep the page cache's fast return: direct writes wait for the disk.
            direct = DIRECT_WRITES and self.store.fsync and _DIRECT != 0
            try:
                # Read-only like every object (see ObjectStore.put).
                pack.fd = os.open(pack.tmp, flags | (_DIRECT if direct else 0), 0o444)
                pack.direct = pack.opened_direct = direct
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
        for future in self._published:
            future.result()
        self._published = []

    def _shutdown(self) -> None:
        for pool in (self._writer, self._io, self._flusher):
            if pool is not None:
                pool.shutdown(wait=True)
        self._writer = self._io = self._flusher = None
        for stage in self._stages:
            # A failed write's traceback may still hold a view of it: then it is unmapped
            # when that goes, not now.
            with contextlib.suppress(BufferError):
                stage.close()
        self._stages, self._stage_writes, self._at = [], [], 0

    # -- the writer thread ---------------------------------------------------------------------

    def _write(self, pack: _Pack, data: bytes | memoryview) -> None:
        if self._failed:
            return
        try:
            view = memoryview(data)
            while view:
                stage = self._stage()
                n = min(_STAGE - pack.staged, len(view))
                _copy(stage, pack.staged, view[:n])
                pack.staged += n
                view = view[n:]
                if pack.staged == _STAGE:
                    self._drain(pack)
            self._written += 1  # only this thread writes it; the GIL orders it
            pause_point(IN_PACK)
        except OSError as exc:  # a full disk shows itself here
            self._failed = True
            raise FileSystemError.from_os(exc, action="write", path=pack.tmp) from None
        except BaseException:
            self._failed = True
            raise

    def _stage(self) -> mmap.mmap:
        """The staging buffer being filled, once its last write is done."""
        if not self._stages:
            # mmap: page-aligned, as O_DIRECT needs.
            self._stages = [mmap.mmap(-1, _STAGE) for _ in range(_STAGES)]
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
        if self._io is None:
            self._io = ThreadPoolExecutor(_STAGES - 1, thread_name_prefix="dvlin-pack-io")
        done = self._io.submit(_write_at, pack, stage, size, end, pack.drained)
        pack.writes.append(done)
        self._stage_writes[self._at] = done
        self._at = (self._at + 1) % _STAGES
        pack.drained += size
        pack.staged = 0

    def _seal(self, pack: _Pack) -> None:
        if self._failed:
            return  # its bytes may be incomplete: never publish it
        try:
            if pack.staged:
                self._stage()
                self._drain(pack)
            for done in pack.writes:
                done.result()
            pack.writes = []
            if pack.padded:  # the padding of its last block went out: cut the file back
                os.ftruncate(pack.fd, pack.drained)
        except OSError as exc:
            self._failed = True
            raise FileSystemError.from_os(exc, action="write", path=pack.tmp) from None
        except BaseException:
            self._failed = True
            raise
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
        done, retried = 0, False
        while done < end:
            try:
                done += os.pwrite(pack.fd, block[done:end], offset + done)
            except OSError as exc:
                # Another write of the same pack may have turned O_DIRECT off already (writes
                # run side by side): whether this one was refused for being direct is known by
                # trying once more without it.
                if retried or not pack.opened_direct or exc.errno != errno.EINVAL:
                    raise
                retried = True
                _stop_direct(pack.fd)
                pack.direct = False
                end = max(done, size)
    finally:
        block.release()


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
