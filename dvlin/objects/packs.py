"""Packs of chunks: many blobs appended to one object, written and flushed behind the caller.

A 1 GiB file cut into ~1,000 chunks used to cost ~1,000 loose objects, each created, written,
renamed and fsync'd on its own; the fsyncs alone took longer than copying the file. Chunks
now go into pack objects of about ``PACK_TARGET`` bytes. On a local disk a background thread
hashes and writes each blob as it comes (``os.write``, xxhash over big buffers and ``fsync``
release the GIL, so this overlaps with the caller's chunking), and a second thread flushes each
full pack and renames it to its content address while the next one is being written. Where a
blob landed is reported per pack (:meth:`PackWriter.finish`); the catalog's ``objects`` table
keeps it, as for small files in packs.

A pack is an ordinary object (its oid is the hash of its bytes), so stores, remotes, gc and
fsck see nothing new. Until :meth:`PackWriter.finish` returns, nothing names the packs, so a
crash leaves at worst a temporary file or an unreferenced pack.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from dvlin.errors import FileSystemError
from dvlin.faults import IN_PACK, pause_point
from dvlin.objects.hashing import Hasher, Oid, hasher_factory
from dvlin.objects.store import ObjectStore, StoredObject

PACK_TARGET = 32 * 1024 * 1024
# Bytes handed to the writer thread and not yet written: bounds memory whatever the file size.
_MAX_QUEUED = 64 * 1024 * 1024


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


class PackWriter:
    """Append blobs to packs in ``store``; :meth:`finish` says where each one landed.

    Call :meth:`abort` instead when the work is abandoned: it removes the temporary files.
    """

    def __init__(self, store: ObjectStore, *, target: int | None = None) -> None:
        self.store = store
        self.target = target or PACK_TARGET
        self._new_hasher: Callable[[], Hasher] = hasher_factory(store.algorithm)
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
            try:
                # Read-only like every object (see ObjectStore.put).
                pack.fd = os.open(pack.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            except OSError as exc:
                raise FileSystemError.from_os(exc, action="write", path=pack.tmp) from None
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
        for pool in (self._writer, self._flusher):
            if pool is not None:
                pool.shutdown(wait=True)
        self._writer = self._flusher = None

    # -- the writer thread ---------------------------------------------------------------------

    def _write(self, pack: _Pack, data: bytes | memoryview) -> None:
        if self._failed:
            return
        pack.hasher.update(data)
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(pack.fd, view) :]
            self._written += 1  # only this thread writes it; the GIL orders it
            pause_point(IN_PACK)
        except OSError as exc:  # a full disk shows itself here
            self._failed = True
            raise FileSystemError.from_os(exc, action="write", path=pack.tmp) from None
        except BaseException:
            self._failed = True
            raise

    def _seal(self, pack: _Pack) -> None:
        if self._failed:
            return  # its bytes may be incomplete: never publish it
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
                os.fsync(pack.fd)
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
