"""Writing a chunked (big) file of a version: its chunks in order, the whole checked at the end.

A file cut into content-defined chunks (:mod:`dvlin.objects.bigfile`) is written into a
temporary file beside its path; the hash of everything written must be the entry's oid before
the temporary file is renamed into place, so a reader sees the old file or the whole new one,
never a mix, and a kill at any point leaves the old file and at most a temporary one (which a
rerun of the checkout removes, :mod:`dvlin.workspace.pending`).

Switching a big file between versions that share most chunks (a 1 MiB edit in the middle of
1 GiB changes one or two of ~1,000) need not read the shared ones from the store: when the
file at the path is a clean copy of a committed version (``present``: the checkout knows it
from the stat cache), those chunks are copied from it, at the offsets ``present``'s chunk
list gives, and only the others come from the store. The packs of a commit are written
around the page cache (:data:`dvlin.objects.packs.DIRECT_WRITES`), so the store's copy is
usually on the disk only, while the working file was just read or written and is in the page
cache. The working file is trusted for nothing: every byte copied from it is hashed into the
whole, and when the whole does not come out as the entry's oid (the file changed after the
stat check, or under us) the temporary file is emptied and written again from the store alone.

One thread reads (the chunks into recycled buffers, each store chunk verified against its
oid, the whole hashed), the caller's thread writes; reads, hashes (``ctypes``) and writes
release the GIL, so the two overlap.
"""

from __future__ import annotations

import contextlib
import os
import queue
import stat
import threading
from collections.abc import Iterator

from dvlin.errors import IntegrityError
from dvlin.faults import IN_CHUNKED, pause_point
from dvlin.objects.hashing import Hasher, unlocked_hasher_factory
from dvlin.objects.manifest import Entry
from dvlin.objects.store import ChunkReader, ObjectStore

# Read buffers in rotation: the one being written, the ones queued, the one being read. Each
# holds a chunk (at most 4 MiB, dvlin.objects.bigfile.CHUNK_MAX); a bigger chunk gets its own.
_BUFFERS = 4
_BUFFER_SIZE = 4 * 1024 * 1024


def write_chunked(
    store: ObjectStore, e: Entry, fd: int, tmp: str, full: str, *, present: Entry | None = None
) -> int:
    """Write the chunks of ``e`` to ``fd`` (open on ``tmp``), check them, rename to ``full``.

    ``present``: the committed entry the file at ``full`` holds now, as far as the caller
    knows; chunks it shares with ``e`` are copied from that file. Returns the bytes so copied
    (0 when the file did not hold what ``present`` says, and everything came from the store).

    Raises:
        IntegrityError: a chunk in the store is corrupt or missing, or the chunks do not add
            up to ``e.oid`` (a corrupt manifest). Nothing appears at ``full`` then.
    """
    try:
        try:
            reused = 0
            source = _open_present(full, present) if present is not None else None
            if source is not None:
                try:
                    reused = _write(store, e, fd, source)
                finally:
                    os.close(source[0])
                if reused < 0:  # the file was not what present says: start again
                    os.ftruncate(fd, 0)
                    os.lseek(fd, 0, os.SEEK_SET)
            if source is None or reused < 0:
                reused = 0
                if _write(store, e, fd, None) < 0:
                    raise IntegrityError(
                        f"chunks of {e.path} do not add up to object {e.oid}",
                        hint="the manifest is corrupt; `dvlin fsck` checks the store",
                    )
        finally:
            os.close(fd)
        pause_point(IN_CHUNKED)
        if tmp != full:
            os.replace(tmp, full)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return reused


def _open_present(full: str, present: Entry) -> tuple[int, dict[str, int]] | None:
    """The file at ``full`` opened for reading, and where each of ``present``'s chunks sits."""
    if not present.chunks:
        return None
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size != present.size:
        os.close(fd)
        return None
    at: dict[str, int] = {}
    offset = 0
    for c in present.chunks:
        at.setdefault(c.oid, offset)
        offset += c.size
    return fd, at


def _write(store: ObjectStore, e: Entry, fd: int, source: tuple[int, dict[str, int]] | None) -> int:
    """Write every chunk of ``e`` to ``fd``; return the bytes taken from ``source``'s file.

    -1 when the bytes written do not hash to ``e.oid`` (then ``fd`` holds a wrong file).
    """
    reader = _Reader(store, e, source)
    try:
        for view, buf in reader:
            while view:
                view = view[os.write(fd, view) :]
            reader.free(buf)
    finally:
        reader.stop()
    return reader.reused if reader.whole.hexdigest() == e.oid else -1


class _Reader:
    """Read the chunks of ``e`` in order on a thread of its own, hashing the whole as it goes.

    Iterating yields ``(bytes, buffer)``: the caller writes the bytes, then gives the buffer
    back (:meth:`free`) for the next read. An error of the reading thread is raised here.
    """

    def __init__(
        self, store: ObjectStore, e: Entry, source: tuple[int, dict[str, int]] | None
    ) -> None:
        new_hasher = unlocked_hasher_factory(store.algorithm)
        self.whole: Hasher = new_hasher()
        self.reused = 0
        self._store = store
        self._chunks = e.chunks or ()
        self._source = source
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._made = 0
        self._out: queue.Queue[tuple[memoryview | bytes, bytearray | None] | BaseException | None]
        self._out = queue.Queue(maxsize=_BUFFERS)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dvlin-chunk-read", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[tuple[memoryview | bytes, bytearray | None]]:
        while True:
            item = self._out.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def free(self, buf: bytearray | None) -> None:
        if buf is not None:
            self._free.put(buf)

    def stop(self) -> None:
        """Let the thread end (it may be waiting for a buffer or for room in the queue)."""
        self._stopped.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._out.get(timeout=0.05)
        self._thread.join()

    def _buffer(self, size: int) -> bytearray | None:
        if size > _BUFFER_SIZE:
            return bytearray(size)
        while not self._stopped.is_set():
            if self._made < _BUFFERS:
                self._made += 1
                return bytearray(_BUFFER_SIZE)
            with contextlib.suppress(queue.Empty):
                return self._free.get(timeout=0.05)
        return None

    def _put(
        self, item: tuple[memoryview | bytes, bytearray | None] | BaseException | None
    ) -> None:
        while not self._stopped.is_set():
            with contextlib.suppress(queue.Full):
                self._out.put(item, timeout=0.05)
                return

    def _run(self) -> None:
        try:
            packs = self._store.chunk_reader()
            try:
                self._read_all(packs)
            finally:
                packs.close()
            self._put(None)
        except BaseException as exc:  # handed to the caller's thread
            self._put(exc)

    def _read_all(self, packs: ChunkReader) -> None:
        src, at = self._source if self._source is not None else (-1, {})
        packs.locate([c.oid for c in self._chunks if c.oid not in at])
        for c in self._chunks:
            if self._stopped.is_set():
                return
            buf = self._buffer(c.size)
            if buf is None:
                return
            view = memoryview(buf)[: c.size]
            offset = at.get(c.oid)
            if offset is not None:
                if _pread_into(src, view, offset) != c.size:
                    return  # the file is shorter now: the whole will not match
                self.reused += c.size
            else:
                got = packs.read_into(c.oid, view)
                if got is not view:  # not in a local pack: read (and verified) on its own
                    self.free(buf)
                    self.whole.update(got)
                    self._put((got, None))
                    continue
            self.whole.update(view)
            self._put((view, buf))


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    """Fill ``view`` from ``fd`` at ``offset``; return the bytes read (fewer at the end)."""
    done = 0
    while done < len(view):
        n = os.preadv(fd, [view[done:]], offset + done)
        if not n:
            break
        done += n
    return done
