"""Big files: cut into content-defined chunks a window at a time, the chunks into packs.

A file of ``CHUNK_MIN_FILE`` or more (:mod:`dvlin.objects.ingest` decides) is read a
window at a time by a thread of its own that also hashes the whole file, cut by FastCDC (in a
forked helper process where there is a CPU to spare, :mod:`dvlin.objects.cdc`; else on the
caller's thread), and each new chunk is handed to a :class:`~dvlin.objects.packs.PackWriter`.
Resident memory stays at a few windows however big the file is.
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import os
import stat
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from dvlin.errors import ConflictError, DvlinError, FileSystemError
from dvlin.objects import cdc
from dvlin.objects.buffers import aligned_buffer
from dvlin.objects.cdc import CutHelper, Cutter
from dvlin.objects.entry import Chunk
from dvlin.objects.hashing import Hasher, Oid, unlocked_hasher_factory
from dvlin.objects.packs import PackWriter
from dvlin.objects.store import StoredObject

CHUNK_MIN, CHUNK_AVG, CHUNK_MAX = 256 * 1024, 1024 * 1024, 4 * 1024 * 1024
_CDC_WINDOW = 16 * 1024 * 1024
# Window buffers (20 MiB each) alive at once: the one being read, the two queued, the one being
# cut, and those whose chunks the pack writer has not copied out yet; when the writer is that
# far behind, the reader waits for it. Peak RSS of a 1 GiB commit: 212 MiB with 6, 272 with 10;
# 5 since the writer copies chunks into staging buffers as they come (8 MiB, packs.py).
_MAX_WINDOWS = 5
# The reader reads a window this much at a time and hashes each piece right after its read,
# while the piece is in the CPU's cache (2 MiB of L2 per core here): hashing the whole window
# after its read went to memory (0.15 s per GiB in a commit against 0.06 s).
_READ_PIECE = 1024 * 1024
# Files this big are cut by a forked helper process (dvlin/objects/cdc.py), which frees this
# process's GIL for the reads, hashes and pack writes; below it a fork is not worth it.
_HELPER_MIN = 64 * 1024 * 1024
# ... on machines with this many CPUs: the helper takes one for itself.
_HELPER_CORES = 2


def unreadable(exc: OSError, path: str, abs_path: str) -> DvlinError:
    """The error for a file that could not be read while it was being committed."""
    if isinstance(exc, FileNotFoundError):
        return ConflictError(
            f"{abs_path} was removed while it was being committed",
            hint="commit again once nothing else is changing the folder",
            paths=[path],
        )
    return FileSystemError.from_os(exc, action="read", path=abs_path)


def cut_file(
    abs_path: str,
    path: str,
    *,
    packs: PackWriter,
    known: Callable[[str], StoredObject | None],
    on_new: Callable[[Oid, int, int], None],
    chunker: str,
) -> tuple[Oid, int, tuple[Chunk, ...]]:
    """Cut the file at ``abs_path`` into chunks with ``chunker`` (one of
    :data:`~dvlin.objects.cdc.CHUNKERS`); return its oid, size and chunks.

    Chunks ``known`` does not find are added to ``packs`` and reported to ``on_new`` as
    (oid, size, offset in the pack being filled). A cut that falls exactly at the end of a
    window may only be there because the data ran out, so that last piece is carried into the
    next window and cut again: the chunks match a whole-file pass.

    The work is shared (measured in docs/benchmarks.md): one thread reads windows and hashes
    the whole file, a forked helper finds the cuts (or this thread, where FastCDC holds the
    GIL), this thread slices chunks at the cuts, one thread hashes each chunk and the pack
    writer copies new chunks into packs, hashes and writes them (and another flushes them).
    The hashes release the GIL (:func:`unlocked_hasher_factory`). Hashed in the store's
    algorithm; on an error the caller aborts ``packs``.

    The file is read, not mapped: a mapped file cut short by another program while it is read
    would end this process with SIGBUS, where a read sees the new size and the commit stops
    with a conflict (exit 5). The helper maps it (a SIGBUS there ends only the helper, and this
    process cuts on by itself).
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    new_hasher = unlocked_hasher_factory(packs.store.algorithm)

    def hash_piece(piece: memoryview) -> Oid:
        h = new_hasher()
        h.update(piece)
        return Oid(h.hexdigest())

    chunks: list[Chunk] = []
    # Each chunk in cut order with its oid: known (the reader hashed it) or being hashed.
    hashing: deque[tuple[memoryview, Oid | Future[Oid]]] = deque()

    def settle(*, wait: bool) -> None:
        """Store the hashed chunks (in cut order): all of them, or those hashed by now."""
        while hashing and (wait or isinstance(hashing[0][1], str) or hashing[0][1].done()):
            piece, done = hashing.popleft()
            coid = done if isinstance(done, str) else done.result()
            if known(coid) is None:
                on_new(coid, len(piece), packs.add(piece, coid))
            chunks.append(Chunk(coid, len(piece)))

    size = 0
    try:
        fd = os.open(abs_path, os.O_RDONLY)
    except OSError as exc:
        raise unreadable(exc, path, abs_path) from None
    try:
        before = os.fstat(fd)
        cutter = _cutter(fd, chunker)
    except BaseException:
        os.close(fd)
        raise
    reader = _WindowReader(
        fd, new_hasher(), abs_path, path, packs.written, cuts=cutter.helper, chunk=new_hasher
    )
    hashed = reader.hashed
    pool = ThreadPoolExecutor(1, thread_name_prefix="dvlin-chunk-hash")
    # The few objects made per chunk are freed by reference counting, but they set off ~40
    # full cyclic collections per GiB over everything the commit imported: 0.12 s on the
    # cutting thread (measured with gc.callbacks).
    collecting = gc.isenabled()
    gc.disable()
    try:
        tail = memoryview(b"")
        previous: mmap.mmap | None = None
        base = 0  # file offset of the first byte of view
        for window in reader:
            eof = window is None
            if window is None:
                view = tail
            else:
                buf, filled = window
                start = CHUNK_MAX - len(tail)
                buf[start:CHUNK_MAX] = tail
                if previous is not None:
                    # Its tail is copied and its chunks settled; the pack writer may still
                    # have to write some from it.
                    reader.retire(previous, packs.added)
                previous = buf
                view = memoryview(buf)[start:filled]
            if not view:
                break
            consumed = 0
            for end in cutter.cut(view, base, eof=eof):
                piece = view[consumed:end]
                known_oid = hashed.pop((base + consumed, base + end), None) if hashed else None
                hashing.append((piece, known_oid or pool.submit(hash_piece, piece)))
                size += len(piece)
                consumed = end
                settle(wait=False)
            # Before the next window: the reader may be waiting for this one's buffer.
            settle(wait=True)
            tail = view[consumed:]
            base += consumed
            if eof:
                break
        _check_unchanged(fd, before, size, abs_path, path)
    except BaseException:
        reader.stop()
        raise
    finally:
        if collecting:
            gc.enable()
        pool.shutdown(wait=True, cancel_futures=True)
        cutter.close()
        os.close(fd)
    return reader.oid(), size, tuple(chunks)


def _check_unchanged(fd: int, before: os.stat_result, size: int, abs_path: str, path: str) -> None:
    """Refuse a file that changed while it was read: its bytes may be a mix never on disk.

    The reads take a while for a big file, so a writer meanwhile would leave a version of
    bytes the file never held at once. A change of size always shows; a rewrite in place shows
    by its modification time (to the file system's clock granularity).
    """
    after = os.fstat(fd)
    seen = (before.st_size, before.st_mtime_ns, before.st_ctime_ns)
    if size != after.st_size or seen != (after.st_size, after.st_mtime_ns, after.st_ctime_ns):
        raise ConflictError(
            f"{abs_path} changed while it was being committed",
            hint="commit again once nothing else is writing to it",
            paths=[path],
        )


_SIZES = {"min_size": CHUNK_MIN, "avg_size": CHUNK_AVG, "max_size": CHUNK_MAX}


def _cutter(fd: int, chunker: str, *, split: int = 0) -> Cutter:
    """Cuts by ``chunker`` for the file behind ``fd``; a big one's are found by a helper
    process from ``split`` on (the start: this process cuts nothing then; see
    :mod:`dvlin.objects.cdc`): the one :func:`start_early` forked for this file if it still
    stats the same and cuts with ``chunker``, else a new one."""
    st = os.fstat(fd)
    helper = cdc.take_early(st, chunker) if split == 0 else None
    if helper is None and st.st_size >= _HELPER_MIN and _cores() >= _HELPER_CORES:
        helper = CutHelper.start(fd, split, chunker=chunker, **_SIZES)
    return Cutter(chunker=chunker, **_SIZES, helper=helper, split=split)


def start_early(paths: Iterable[str], chunker: str) -> None:
    """Fork the cut helper (cutting with ``chunker``) of the first big file among ``paths``
    now, before it is needed.

    A commit spends its first ~0.3 s importing pyarrow, opening the catalog and scanning
    with one CPU busy; a helper forked at its start cuts on the idle one meanwhile, and its
    cuts wait in the pipe for :func:`cut_file`, which takes the helper if the file still
    stats the same (:func:`dvlin.objects.cdc.take_early`). A helper nobody takes (the file
    needed no reading, or the command failed) is stopped by
    :func:`dvlin.objects.cdc.drop_early` or when the process exits. Only regular files
    (not what a link points at) of at least ``_HELPER_MIN`` bytes; errors are left for the
    commit to meet and report.
    """
    if _cores() < _HELPER_CORES:
        return
    for path in paths:
        try:
            st = os.lstat(path)
        except (OSError, ValueError):
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_size < _HELPER_MIN:
            continue
        try:
            # O_NONBLOCK: a FIFO swapped in after the lstat must not hang the open.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            return
        try:
            opened = os.fstat(fd)
            if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
                return  # replaced between the two calls
            helper = CutHelper.start(fd, 0, chunker=chunker, **_SIZES)
        finally:
            os.close(fd)
        if helper is not None:
            cdc.keep_early(opened, helper)
        return  # one helper: one CPU to spare


class _WindowReader:
    """Read a file a window at a time on a thread of its own, hashing the whole as it goes.

    ``os.read`` and xxhash over big buffers release the GIL, so reading and the file's hash
    overlap with the chunking on the caller's thread.

    Window buffers are recycled: a fresh 20 MiB buffer per window cost a zero-fill and a page
    fault per page, about 0.3 s of CPU per GiB (docs/benchmarks.md). The caller hands each
    window back with :meth:`retire` and the count of blobs the pack writer must have written
    before its bytes may be overwritten (the writer writes from the buffer, later).
    """

    def __init__(
        self,
        fd: int,
        hasher: Hasher,
        abs_path: str,
        path: str,
        written: Callable[[], int] = lambda: 0,
        *,
        cuts: CutHelper | None = None,
        chunk: Callable[[], Hasher] | None = None,
    ) -> None:
        import queue
        import threading

        self._fd = fd
        self._hasher = hasher
        self.hashed: dict[tuple[int, int], Oid] = {}
        """Oids of chunks hashed as they were read: ``(start, end)`` file offsets -> oid."""
        self._cuts = cuts if chunk is not None else None
        self._new_chunk = chunk
        self._next = 0  # index in the helper's cuts of the next one to look at
        self._start: int | None = 0  # where the chunk being hashed starts; None: none is
        self._chunk = chunk() if chunk is not None and cuts is not None else None
        self._where = (abs_path, path)
        self._queue: queue.Queue[tuple[mmap.mmap, int] | BaseException | None] = queue.Queue(
            maxsize=2
        )
        self._written = written
        self._retired: deque[tuple[mmap.mmap, int]] = deque()
        self._made = 0
        self._at = 0  # file offset of the next byte read
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dvlin-read", daemon=True)
        self._thread.start()

    def retire(self, buf: mmap.mmap, mark: int) -> None:
        """Give ``buf`` back once the pack writer has written ``mark`` blobs."""
        self._retired.append((buf, mark))

    def _buffer(self) -> mmap.mmap | None:
        """A window buffer: a retired one the writer is done with, else a new one (bounded)."""
        while not self._stopped.is_set():
            if self._retired and self._retired[0][1] <= self._written():
                return self._retired.popleft()[0]
            if self._made < _MAX_WINDOWS:
                self._made += 1
                return aligned_buffer(CHUNK_MAX + _CDC_WINDOW)
            self._stopped.wait(0.002)  # the writer is behind: wait for it
        return None

    def _run(self) -> None:
        try:
            while (buf := self._buffer()) is not None:
                # Room before the bytes for the piece the previous window carries over, so
                # the caller joins the two without copying the window.
                view = memoryview(buf)
                filled = CHUNK_MAX
                while filled < len(buf):
                    # A piece at a time, hashed while it is still in the CPU's cache.
                    n = os.readv(self._fd, [view[filled : filled + _READ_PIECE]])
                    if not n:
                        break
                    self._hasher.update(view[filled : filled + n])
                    if self._cuts is not None:
                        self._hash_chunks(view, filled, n)
                    filled += n
                    self._at += n
                view.release()
                if filled == CHUNK_MAX:
                    break
                self._queue.put((buf, filled))
            self._queue.put(None)
        except BaseException as exc:  # handed to the caller's thread
            self._queue.put(exc)

    def _hash_chunks(self, view: memoryview, index: int, n: int) -> None:
        """Hash the chunks in the piece just read (``n`` bytes at ``view[index:]``).

        The helper's cuts say where chunks end; each chunk is hashed a piece at a time while
        the piece is in the CPU's cache, and its oid goes into :attr:`hashed` before the
        window is handed on. Where the next cut is not known yet, the chunk is left to the
        caller (its bytes will be gone from the cache anyway) and hashing resumes at the
        next cut known ahead. An oid is the hash of the bytes read between two offsets:
        right whatever the helper said; the caller uses it only for a chunk it cuts there.
        """
        helper, chunk, new_chunk = self._cuts, self._chunk, self._new_chunk
        assert helper is not None and chunk is not None and new_chunk is not None
        helper.poll()
        cuts, start = helper.cuts, self._start
        at, end = self._at, self._at + n
        while at < end:
            k = self._next
            if start is None:  # resume at the first cut still ahead, if one is known
                while k < len(cuts) and cuts[k] < at:
                    k += 1
                self._next = k
                if k == len(cuts) or cuts[k] >= end:
                    break
                start = at = cuts[k]
                self._next = k + 1
                chunk = new_chunk()
                continue
            if k == len(cuts) or cuts[k] <= start:  # not known yet (or nonsense): let go
                start = None
                continue
            stop = min(cuts[k], end)
            chunk.update(view[index + at - self._at : index + stop - self._at])
            at = stop
            if stop == cuts[k]:
                self.hashed[(start, stop)] = Oid(chunk.hexdigest())
                start, self._next, chunk = stop, k + 1, new_chunk()
        self._start, self._chunk = start, chunk

    def __iter__(self) -> Iterator[tuple[mmap.mmap, int] | None]:
        """Each window as (buffer, end): its bytes are ``buffer[CHUNK_MAX:end]``; then None."""
        while True:
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._thread.join()
                if isinstance(item, OSError):
                    raise unreadable(item, self._where[1], self._where[0]) from None
                raise item
            yield item
            if item is None:
                self._thread.join()
                return

    def oid(self) -> Oid:
        """The whole file's hash (once every window was read)."""
        return Oid(self._hasher.hexdigest())

    def stop(self) -> None:
        """Abandon the file: let the thread end before its descriptor is closed."""
        import queue

        self._stopped.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()


def _cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
