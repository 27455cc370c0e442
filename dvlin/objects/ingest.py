"""Turn workspace files into stored objects: small files into packs, big ones into chunks.

Sizes were chosen by measurement on the benchmark trees (see docs/benchmarks.md): one file per
small object costs a create, a write and a rename each, which dominates a 20,000-file commit, so
blobs under ``PACK_MAX_BLOB`` are appended to pack objects instead. Files of ``CHUNK_MIN_FILE``
or more are cut by FastCDC so that an edit in the middle stores only the chunks around it.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from dvlin.errors import ConflictError, DvlinError, FileSystemError
from dvlin.objects.cdc import CutHelper, Cutter
from dvlin.objects.hashing import Hasher, Oid, hasher_factory
from dvlin.objects.manifest import Chunk, Entry
from dvlin.objects.packs import PACK_TARGET, PackWriter
from dvlin.objects.store import ObjectIndex, ObjectStore, StoredObject

__all__ = ["ObjectIndex", "Ingester", "unreadable"]

PACK_MAX_BLOB = 128 * 1024
CHUNK_MIN_FILE = 8 * 1024 * 1024
CHUNK_MIN, CHUNK_AVG, CHUNK_MAX = 256 * 1024, 1024 * 1024, 4 * 1024 * 1024
_READ_BLOCK = 1024 * 1024
_CDC_WINDOW = 16 * 1024 * 1024
_BATCH_FILES = 512
# Window buffers (20 MiB each) alive at once: the one being read, the two queued, the one being
# cut, and those whose chunks the pack writer has not written yet; when the writer is that far
# behind, the reader waits for it. Peak RSS of a 1 GiB commit: 212 MiB with 6, 272 with 10.
_MAX_WINDOWS = 6
# Files this big are cut from both ends at once: the second half by a helper process
# (dvlin/objects/cdc.py). Below it the helper's start-up is not worth it.
_HELPER_MIN = 64 * 1024 * 1024
# ... on machines with this many CPUs. A big file's commit already keeps about two busy (the
# cutting thread, the reader, the pack writer); the helper moves ~0.3 s per GiB off the cutting
# thread but adds ~0.35 s of CPU (its start-up, its own read), so on two or three CPUs it made
# the commit slower (docs/benchmarks.md, "Issue 12, third pass").
_HELPER_CORES = 4


_BATCH_BYTES = 16 * 1024 * 1024


def _read_all(fd: int) -> bytes:
    """Read a file descriptor to its end (os.read: no buffered-reader object per file)."""
    size = os.fstat(fd).st_size
    data = os.read(fd, size + 1) if size else b""
    if len(data) <= size:
        parts = [data]
        while chunk := os.read(fd, _READ_BLOCK):
            parts.append(chunk)
        data = b"".join(parts)
    return data


@dataclass(slots=True)
class _Pending:
    """A small file whose pack is not written yet."""

    path: str
    mode: int
    size: int
    oid: Oid


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
    ) -> None:
        import queue
        import threading

        self._fd = fd
        self._hasher = hasher
        self._where = (abs_path, path)
        self._queue: queue.Queue[tuple[bytearray, int] | BaseException | None] = queue.Queue(
            maxsize=2
        )
        self._written = written
        self._retired: deque[tuple[bytearray, int]] = deque()
        self._made = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dvlin-read", daemon=True)
        self._thread.start()

    def retire(self, buf: bytearray, mark: int) -> None:
        """Give ``buf`` back once the pack writer has written ``mark`` blobs."""
        self._retired.append((buf, mark))

    def _buffer(self) -> bytearray | None:
        """A window buffer: a retired one the writer is done with, else a new one (bounded)."""
        while not self._stopped.is_set():
            if self._retired and self._retired[0][1] <= self._written():
                return self._retired.popleft()[0]
            if self._made < _MAX_WINDOWS:
                self._made += 1
                return bytearray(CHUNK_MAX + _CDC_WINDOW)
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
                    n = os.readv(self._fd, [view[filled:]])
                    if not n:
                        break
                    filled += n
                if filled == CHUNK_MAX:
                    break
                self._hasher.update(view[CHUNK_MAX:filled])
                view.release()
                self._queue.put((buf, filled))
            self._queue.put(None)
        except BaseException as exc:  # handed to the caller's thread
            self._queue.put(exc)

    def __iter__(self) -> Iterator[tuple[bytearray, int] | None]:
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


def unreadable(exc: OSError, path: str, abs_path: str) -> DvlinError:
    """The error for a file that could not be read while it was being committed."""
    if isinstance(exc, FileNotFoundError):
        return ConflictError(
            f"{abs_path} was removed while it was being committed",
            hint="commit again once nothing else is changing the folder",
            paths=[path],
        )
    return FileSystemError.from_os(exc, action="read", path=abs_path)


@dataclass(slots=True)
class Ingester:
    """Hash and store files for one commit; :meth:`finish` returns the manifest entries.

    Objects go to the store as they are found; nothing references them until the caller's
    catalog transaction records the version, so an interrupted commit leaves only orphans.
    """

    store: ObjectStore
    catalog: ObjectIndex
    new_objects: dict[str, StoredObject] = field(default_factory=dict)
    new_bytes: int = 0
    entries: list[Entry] = field(default_factory=list)
    _pending: list[_Pending] = field(default_factory=list)
    _pack: bytearray = field(default_factory=bytearray)
    _pack_members: dict[Oid, int] = field(default_factory=dict)
    _new_hasher: Callable[[], Hasher] | None = None
    on_hashed: Callable[[object, str], None] | None = None
    _batch: list[tuple[str, str, int, object]] = field(default_factory=list)
    _batch_bytes: int = 0
    _packer: PackWriter | None = None
    _in_packs: set[str] = field(default_factory=set)
    _pending_chunks: list[_Pending] = field(default_factory=list)

    def _hasher(self) -> Hasher:
        if self._new_hasher is None:
            self._new_hasher = hasher_factory(self.store.algorithm)
        return self._new_hasher()

    def known(self, oid: str) -> StoredObject | None:
        """Where ``oid`` is stored already, by this commit or an earlier one."""
        return self.new_objects.get(oid) or self.catalog.find_object(oid)

    def add_known(self, path: str, mode: int, size: int, oid: str) -> bool:
        """Add a file whose oid the stat cache knows; False when its bytes must be read."""
        if size >= CHUNK_MIN_FILE:
            # Chunked files are listed by their chunks, which the stat cache does not keep.
            return False
        found = self.known(oid)
        if found is None:
            return False
        self._add_stored(path, mode, size, found)
        return True

    def _add_stored(self, path: str, mode: int, size: int, found: StoredObject) -> None:
        if found.oid in self._pack_members:
            self._pending.append(_Pending(path, mode, size, found.oid))
        elif found.oid in self._in_packs:
            # Equal to a chunk whose pack is not closed yet: finish() knows where it is.
            self._pending_chunks.append(_Pending(path, mode, size, found.oid))
        elif found.pack is not None:
            self.entries.append(
                Entry(path, "file", mode, size, found.oid, None, found.pack, found.offset)
            )
        else:
            self.entries.append(Entry(path, "file", mode, size, found.oid))

    def add_file(self, abs_path: str, path: str, mode: int, size: int, tag: object = None) -> None:
        """Queue one file to be read, hashed and stored; ``on_hashed(tag, oid)`` reports it.

        Small files are read in batches so that their oids are looked up in the catalog with
        one query per batch rather than one per file.
        """
        if size >= CHUNK_MIN_FILE:
            self._report(tag, self._add_chunked(abs_path, path, mode))
            return
        self._batch.append((abs_path, path, mode, tag))
        self._batch_bytes += size
        if len(self._batch) >= _BATCH_FILES or self._batch_bytes >= _BATCH_BYTES:
            self._drain()

    def _report(self, tag: object, oid: str) -> None:
        if self.on_hashed is not None:
            self.on_hashed(tag, oid)

    def _drain(self) -> None:
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        read: list[tuple[str, int, bytes, Oid, object]] = []
        new_hasher = self._hasher_class()
        for abs_path, path, mode, tag in batch:
            try:
                fd = os.open(abs_path, os.O_RDONLY)
                try:
                    data = _read_all(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise unreadable(exc, path, abs_path) from None
            h = new_hasher()
            h.update(data)
            read.append((path, mode, data, Oid(h.hexdigest()), tag))
        unknown = {oid for _, _, _, oid, _ in read if oid not in self.new_objects}
        stored = self.catalog.find_objects(unknown) if unknown else {}
        for path, mode, data, oid, tag in read:
            found = self.new_objects.get(oid) or stored.get(oid)
            if found is not None:
                self._add_stored(path, mode, len(data), found)
            elif len(data) < PACK_MAX_BLOB:
                self._pack_members[oid] = len(self._pack)
                self.new_objects[oid] = StoredObject(
                    oid, len(data), Oid(""), len(self._pack)
                )  # "": the pack is not written yet
                self._pack += data
                self._pending.append(_Pending(path, mode, len(data), oid))
                if len(self._pack) >= PACK_TARGET:
                    self._flush_pack()
            else:
                self.store.put(data, Oid(oid))
                self._record(StoredObject(oid, len(data), None, None))
                self.entries.append(Entry(path, "file", mode, len(data), oid))
            self._report(tag, oid)

    def _hasher_class(self) -> Callable[[], Hasher]:
        if self._new_hasher is None:
            self._new_hasher = hasher_factory(self.store.algorithm)
        return self._new_hasher

    def _record(self, obj: StoredObject) -> None:
        self.new_objects[obj.oid] = obj
        self.new_bytes += obj.size

    def _add_chunked(self, abs_path: str, path: str, mode: int) -> str:
        """Cut a big file into content-defined chunks, reading it a window at a time.

        Memory stays at a few windows however big the file is. A cut that falls exactly at
        the end of a window may only be there because the data ran out, so that last piece is
        carried into the next window and cut again: the chunks match a whole-file pass.

        Three threads share the work (measured in docs/benchmarks.md): one reads windows and
        hashes the whole file, this one cuts and hashes chunks (FastCDC holds the GIL), and the
        pack writer writes and flushes new chunks into packs.
        """
        chunks: list[Chunk] = []
        size = 0
        try:
            fd = os.open(abs_path, os.O_RDONLY)
        except OSError as exc:
            raise unreadable(exc, path, abs_path) from None
        try:
            cutter = self._cutter(fd)
        except BaseException:
            os.close(fd)
            raise
        packs = self._packs()
        reader = _WindowReader(fd, self._hasher(), abs_path, path, packs.written)
        try:
            tail = memoryview(b"")
            previous: bytearray | None = None
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
                        # Its tail is copied; its chunks are the pack writer's to write.
                        reader.retire(previous, packs.added)
                    previous = buf
                    view = memoryview(buf)[start:filled]
                if not view:
                    break
                consumed = 0
                for end in cutter.cut(view, base, eof=eof):
                    piece = view[consumed:end]
                    coid = self._hash(piece)
                    if self.known(coid) is None:
                        offset = packs.add(piece, coid)
                        # "": the pack is named when it closes (finish fills it in); its
                        # bytes are counted then, once, as the pack's.
                        self.new_objects[coid] = StoredObject(coid, len(piece), Oid(""), offset)
                        self._in_packs.add(coid)
                    chunks.append(Chunk(coid, len(piece)))
                    size += len(piece)
                    consumed = end
                tail = view[consumed:]
                base += consumed
                if eof:
                    break
        except BaseException:
            reader.stop()
            packs.abort()
            self._packer = None
            raise
        finally:
            cutter.close()
            os.close(fd)
        oid = reader.oid()
        self.entries.append(Entry(path, "file", mode, size, oid, chunks=tuple(chunks)))
        return oid

    def _cutter(self, fd: int) -> Cutter:
        """Cuts for the file behind ``fd``; a big one's second half is cut by a helper process."""
        sizes = {"min_size": CHUNK_MIN, "avg_size": CHUNK_AVG, "max_size": CHUNK_MAX}
        split = os.fstat(fd).st_size // 2
        helper = None
        if split >= _HELPER_MIN // 2 and _cores() >= _HELPER_CORES:
            helper = CutHelper.start(fd, split, window=_CDC_WINDOW, **sizes)
        return Cutter(**sizes, helper=helper, split=split)

    def _packs(self) -> PackWriter:
        if self._packer is None:
            self._packer = PackWriter(self.store)
        return self._packer

    def _hash(self, data: bytes | memoryview) -> Oid:
        h = self._hasher()
        h.update(data)
        return Oid(h.hexdigest())

    def _flush_pack(self) -> None:
        if not self._pack_members:
            return
        pack = self.store.put(bytes(self._pack))
        self._record(StoredObject(pack, len(self._pack), None, None))
        for oid, offset in self._pack_members.items():
            self.new_objects[oid] = StoredObject(oid, self.new_objects[oid].size, pack, offset)
        for p in self._pending:
            obj = self.new_objects[p.oid]
            self.entries.append(
                Entry(p.path, "file", p.mode, p.size, p.oid, None, pack, obj.offset)
            )
        self._pending.clear()
        self._pack = bytearray()
        self._pack_members = {}

    def finish(self) -> list[Entry]:
        """Write the last packs, and return every file entry.

        Chunk packs are written and flushed here; the caller's ``store.sync()`` flushes the
        rest (and the folders) before the catalog names any of it.
        """
        self._drain()
        self._flush_pack()
        if self._packer is not None:
            packer, self._packer = self._packer, None
            for obj in packer.finish():
                if obj.pack is None:
                    self._record(obj)
                else:
                    self.new_objects[obj.oid] = obj
            self._in_packs.clear()
        for p in self._pending_chunks:
            obj = self.new_objects[p.oid]
            self.entries.append(
                Entry(p.path, "file", p.mode, p.size, p.oid, None, obj.pack, obj.offset)
            )
        self._pending_chunks.clear()
        return self.entries
