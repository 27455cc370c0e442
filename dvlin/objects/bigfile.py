"""Big files: cut into content-defined chunks a window at a time, the chunks into packs.

A file of ``CHUNK_MIN_FILE`` or more (:mod:`dvlin.objects.ingest` decides) is mapped, read a
window at a time by a thread of its own that also hashes the whole file, cut by FastCDC (in a
forked helper process where there is a CPU to spare, :mod:`dvlin.objects.cdc`; else on the
caller's thread), and each new chunk is handed to a :class:`~dvlin.objects.packs.PackWriter`.
Resident memory stays at a few windows however big the file is.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
from collections import deque
from collections.abc import Callable, Iterator

from dvlin.errors import ConflictError, DvlinError, FileSystemError
from dvlin.objects.cdc import CutHelper, Cutter
from dvlin.objects.entry import Chunk
from dvlin.objects.hashing import Hasher, Oid, unlocked_hasher_factory
from dvlin.objects.packs import PackWriter
from dvlin.objects.store import StoredObject

CHUNK_MIN, CHUNK_AVG, CHUNK_MAX = 256 * 1024, 1024 * 1024, 4 * 1024 * 1024
_CDC_WINDOW = 16 * 1024 * 1024
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
) -> tuple[Oid, int, tuple[Chunk, ...]]:
    """Cut the file at ``abs_path`` into chunks; return its oid, size and chunks.

    Chunks ``known`` does not find are added to ``packs`` and reported to ``on_new`` as
    (oid, size, offset in the pack being filled). A cut that falls exactly at the end of a
    window may only be there because the data ran out, so that last piece is carried into the
    next window and cut again: the chunks match a whole-file pass.

    The work is shared (measured in docs/benchmarks.md): one thread faults windows of the
    mapped file in and hashes the whole, a forked helper finds the cuts (or this thread, where
    FastCDC holds the GIL), this thread slices chunks at the cuts, one thread hashes each chunk
    and the pack writer copies new chunks into packs, hashes and writes them (and another
    flushes them). The hashes release the GIL (:func:`unlocked_hasher_factory`). Hashed in the
    store's algorithm; on an error the caller aborts ``packs``.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    new_hasher = unlocked_hasher_factory(packs.store.algorithm)

    def hash_piece(piece: memoryview) -> Oid:
        h = new_hasher()
        h.update(piece)
        return Oid(h.hexdigest())

    chunks: list[Chunk] = []
    hashing: deque[tuple[memoryview, Future[Oid]]] = deque()

    def settle(*, wait: bool) -> None:
        """Store the hashed chunks (in cut order): all of them, or those hashed by now."""
        while hashing and (wait or hashing[0][1].done()):
            piece, done = hashing.popleft()
            coid = done.result()
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
        cutter = _cutter(fd)
    except BaseException:
        os.close(fd)
        raise
    try:
        reader = _MappedReader(fd, before.st_size, new_hasher(), abs_path, path, packs.written)
    except BaseException:
        cutter.close()
        os.close(fd)
        raise
    pool = ThreadPoolExecutor(1, thread_name_prefix="dvlin-chunk-hash")
    # The few objects made per chunk are freed by reference counting, but they set off ~40
    # full cyclic collections per GiB over everything the commit imported: 0.12 s on the
    # cutting thread (measured with gc.callbacks).
    collecting = gc.isenabled()
    gc.disable()
    try:
        base = 0  # file offset of the first byte not cut yet
        for end in reader:
            eof = end == before.st_size
            view = reader.view(base, end)
            consumed = 0
            for cut in cutter.cut(view, base, eof=eof):
                piece = view[consumed:cut]
                hashing.append((piece, pool.submit(hash_piece, piece)))
                size += len(piece)
                consumed = cut
                settle(wait=False)
            # Before the next window: its chunks are handed to the pack writer.
            settle(wait=True)
            base += consumed
            reader.retire(base, packs.added)
        _check_unchanged(fd, before, size, abs_path, path)
    except BaseException:
        reader.stop()
        raise
    finally:
        if collecting:
            gc.enable()
        pool.shutdown(wait=True, cancel_futures=True)
        cutter.close()
        hashing.clear()
        reader.close()
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


def _cutter(fd: int, *, split: int = 0) -> Cutter:
    """Cuts for the file behind ``fd``; a big one's are found by a helper process from
    ``split`` on (the start: this process cuts nothing then; see :mod:`dvlin.objects.cdc`)."""
    sizes = {"min_size": CHUNK_MIN, "avg_size": CHUNK_AVG, "max_size": CHUNK_MAX}
    helper = None
    if os.fstat(fd).st_size >= _HELPER_MIN and _cores() >= _HELPER_CORES:
        helper = CutHelper.start(fd, split, **sizes)
    return Cutter(**sizes, helper=helper, split=split)


# madvise(2) advice that faults a range of a mapping in, or fails (EFAULT) where an access
# would raise SIGBUS (a file cut short); Linux 5.14 and later, not named by Python 3.11's mmap.
_POPULATE_READ = 22


class _MappedReader:
    """Map a file and read it a window at a time on a thread of its own, hashing the whole.

    No read copies the bytes: the chunks handed to the hashers and the pack writer are
    slices of the mapping (a read into buffers cost ~0.2 s of CPU per GiB). The thread faults
    each window in (one ``madvise`` call; the disk reads of a file not cached happen there,
    not on the cutting thread) and hashes it; ``xxh3`` through ``ctypes`` releases the GIL.

    The mapping is writable (copy on write, never written): ``ctypes`` borrows only writable
    buffers. The caller hands back what it has cut with :meth:`retire` and the count of blobs
    the pack writer must have written before those pages may be dropped; the resident pages
    stay at a few windows however big the file is.

    A file cut short while it is read fails the fault-in (a conflict, the size changed); one
    cut short between the fault-in of a window and the last use of its pages (milliseconds)
    ends the process with SIGBUS, as any reader of a mapped file. That is a crash like any
    other: nothing the commit wrote is referenced yet (DESIGN.md), nothing is lost.
    """

    def __init__(
        self,
        fd: int,
        size: int,
        hasher: Hasher,
        abs_path: str,
        path: str,
        written: Callable[[], int] = lambda: 0,
    ) -> None:
        import mmap
        import queue
        import threading

        self._size = size
        try:
            self._map = mmap.mmap(fd, size, access=mmap.ACCESS_COPY)
        except OSError as exc:
            raise unreadable(exc, path, abs_path) from None
        except ValueError:  # shorter than when it was opened (Python maps no further)
            raise ConflictError(
                f"{abs_path} changed while it was being committed",
                hint="commit again once nothing else is writing to it",
                paths=[path],
            ) from None
        with contextlib.suppress(OSError):
            self._map.madvise(mmap.MADV_SEQUENTIAL)
        self._view = memoryview(self._map)
        self._hasher = hasher
        self._where = (abs_path, path)
        self._queue: queue.Queue[int | BaseException | None] = queue.Queue(maxsize=2)
        self._written = written
        self._retired: deque[tuple[int, int]] = deque()  # (end offset, blobs to be written)
        self._released = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dvlin-read", daemon=True)
        self._thread.start()

    def view(self, start: int, end: int) -> memoryview:
        """The file's bytes ``start`` to ``end`` (read already: no longer than :meth:`__iter__`
        gave)."""
        return self._view[start:end]

    def retire(self, end: int, mark: int) -> None:
        """Pages before ``end`` are cut; drop them once the pack writer has written ``mark``."""
        self._retired.append((end, mark))
        done = self._written()
        while self._retired and self._retired[0][1] <= done:
            self._release(self._retired.popleft()[0])

    def _release(self, end: int) -> None:
        import mmap

        end -= end % mmap.PAGESIZE
        if end > self._released:
            with contextlib.suppress(OSError):
                self._map.madvise(mmap.MADV_DONTNEED, self._released, end - self._released)
            self._released = end

    def _run(self) -> None:
        try:
            at = 0
            while at < self._size and not self._stopped.is_set():
                end = min(at + _CDC_WINDOW, self._size)
                try:
                    self._map.madvise(_POPULATE_READ, at, end - at)
                except OSError as exc:
                    if exc.errno == errno.EFAULT:  # past the end of the file: it shrank
                        raise _Shrank from None
                    if exc.errno != errno.EINVAL:  # EINVAL: an older kernel; faults then
                        raise
                self._hasher.update(self._view[at:end])
                at = end
                self._queue.put(at)
            self._queue.put(None)
        except BaseException as exc:  # handed to the caller's thread
            self._queue.put(exc)

    def __iter__(self) -> Iterator[int]:
        """The end (file offset) of each window as it is read; the last is the file's size."""
        while True:
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._thread.join()
                abs_path, path = self._where
                if isinstance(item, _Shrank):
                    raise ConflictError(
                        f"{abs_path} changed while it was being committed",
                        hint="commit again once nothing else is writing to it",
                        paths=[path],
                    )
                if isinstance(item, OSError):
                    raise unreadable(item, path, abs_path) from None
                raise item
            if item is None:
                self._thread.join()
                return
            yield item

    def oid(self) -> Oid:
        """The whole file's hash (once every window was read)."""
        return Oid(self._hasher.hexdigest())

    def stop(self) -> None:
        """Abandon the file: let the thread end."""
        import queue

        self._stopped.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()

    def close(self) -> None:
        """Unmap the file (once nothing holds a slice of it: the pack writer is done)."""
        self._view.release()
        with contextlib.suppress(BufferError):  # a slice is still out: unmapped when it goes
            self._map.close()


class _Shrank(Exception):
    """The mapped file is shorter than when it was opened."""


def _cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
