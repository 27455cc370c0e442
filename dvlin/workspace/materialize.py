"""Write files, folders and links of a version into a folder, never through a symlink."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from dvlin.errors import IntegrityError
from dvlin.faults import IN_CHECKOUT, pause_point
from dvlin.objects.hashing import hasher_factory
from dvlin.objects.manifest import EXEC_MODE, Entry
from dvlin.objects.store import ObjectStore
from dvlin.workspace.chunked import write_chunked
from dvlin.workspace.folders import safe_parent

LinkMode = Literal["copy", "hardlink", "reflink", "symlink"]
LINK_MODES: tuple[LinkMode, ...] = ("copy", "hardlink", "reflink", "symlink")

_FICLONE = 0x40049409  # linux/fs.h: share the source's extents copy-on-write
# Reading a whole pack beats one ranged read per blob once a few blobs of it are needed.
_WHOLE_PACK_MIN_BLOBS = 4
WRITER_THREADS = max(1, min(2, os.cpu_count() or 1))
"""Threads that write packed small files: creating a file is kernel work (os.open, os.write
and os.close release the GIL), so a second writer overlaps it with the other's Python work."""
PARALLEL_MIN_FILES = 256
"""Fewer packed files than this are written by the calling thread alone."""
_BATCH = 64  # files a writer reports as written at a time


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW


def _tmp_name(full: str) -> str:
    folder, name = os.path.split(full)
    return os.path.join(folder, f".{name[:60]}.dvlin-{os.urandom(4).hex()}")


class Writer:
    """Materialise file entries from an object store using one link mode."""

    def __init__(
        self,
        store: ObjectStore,
        root: str,
        *,
        link: LinkMode,
        fresh_root: bool = False,
        record: bool = False,
        threads: int | None = None,
        present: Mapping[str, Entry] | None = None,
    ) -> None:
        """``fresh_root``: ``root`` is a staging folder this checkout created empty and
        publishes only once complete (:func:`dvlin.workspace.folders.make_staging`): nothing
        in it can be overwritten and no one sees it half written, so files are created under
        their own names (O_EXCL), a rename less per file. ``record``: keep the stat of every
        file written (see :attr:`written`). ``threads``: writer threads for packed small
        files (:data:`WRITER_THREADS` when not given; 1 writes sequentially). ``present``: by
        path, the committed (chunked) entry the file there holds now; the chunks a new
        version shares with it are copied from it (:mod:`dvlin.workspace.chunked`).
        """
        self.store = store
        self.root = root
        self.link = link
        self._verified: set[str] = set()
        self.fresh = fresh_root
        self.record = record
        self.written: list[tuple[Entry, int, int, int]] = []
        """``(entry, size, mtime_ns, inode)`` of each file copied, when ``record`` is set."""
        self.fallbacks: Counter[str] = Counter()
        """Files copied although a link mode was asked for, by reason."""
        self.bytes = 0
        self._packs: dict[str, bool] = {}
        self.threads = WRITER_THREADS if threads is None else max(1, threads)
        self.present = present or {}
        self.reused = 0
        """Bytes of chunked files copied from the file they replace, not read from the store."""
        self._new_hasher = hasher_factory(store.algorithm)

    def write_all(self, files: list[Entry], advance: Callable[[Entry], None]) -> None:
        """Write every file entry; packed blobs are read a pack at a time."""
        by_pack: dict[str, list[Entry]] = defaultdict(list)
        for e in files:
            if e.pack is not None and e.chunks is None and not self._fetched_alone(e):
                by_pack[e.pack].append(e)
            else:
                self.write_one(e)
                advance(e)
        packed = sum(len(members) for members in by_pack.values())
        if self.threads > 1 and packed >= PARALLEL_MIN_FILES:
            self._write_packed_parallel(by_pack, advance)
            return
        for pack, members in by_pack.items():
            if len(members) >= _WHOLE_PACK_MIN_BLOBS:
                whole = self.store.pack_view(pack)
                for e in members:
                    blob = whole[e.offset or 0 : (e.offset or 0) + e.size]
                    self._verify(e, blob, pack)
                    self._copy_packed(e, blob)
                    advance(e)
                del whole
            else:
                for e in members:
                    data = self.store.get_slice(pack, e.offset or 0, e.size, e.oid or "")
                    self._copy_packed(e, data)
                    advance(e)

    def _write_packed_parallel(
        self, by_pack: dict[str, list[Entry]], advance: Callable[[Entry], None]
    ) -> None:
        """Write packed blobs with :attr:`threads` writers, each on its own run of the tree.

        The files, in path order, are cut into :attr:`threads` contiguous lanes of equal
        length, one writer each: the writers create files in different folders at any moment
        (two creating in the same folder queue on its lock in the kernel, and the sixth pass
        measured more system time for two writers than for one that way), and each maps the
        packs of its lane itself, so this thread slices and hands over nothing per file.
        Folders are made here first, so writers only create files. The first error in any
        writer (a corrupt blob, a full disk) stops the others after the file each is writing,
        and so does an exception in this thread (Ctrl-C, raised by ``advance``): every writer
        has returned before this method does, and each file is whole or removed, exactly as
        in the sequential path. ``advance`` is called here, never from a writer.
        """
        import queue

        for members in by_pack.values():
            for e in members:
                safe_parent(self.root, e.path, self._verified)
        flat = [(pack, e) for pack, members in by_pack.items() for e in members]
        lanes = [
            flat[len(flat) * i // self.threads : len(flat) * (i + 1) // self.threads]
            for i in range(self.threads)
        ]
        del flat
        whole = {pack: len(members) >= _WHOLE_PACK_MIN_BLOBS for pack, members in by_pack.items()}
        stop = threading.Event()
        done: queue.Queue[list[Entry] | None] = queue.Queue()
        # The crash tests stop each writer after its first file: a pause in this thread alone
        # (``advance``) would leave the writers free to finish the tree before the kill.
        pause = bool(os.environ.get(IN_CHECKOUT))

        def work(lane: list[tuple[str, Entry]]) -> None:
            batch: list[Entry] = []
            mapped, view = "", memoryview(b"")
            try:
                for pack, e in lane:
                    if stop.is_set():
                        break
                    offset = e.offset or 0
                    blob: bytes | memoryview
                    if not whole[pack]:
                        blob = self.store.get_slice(pack, offset, e.size, e.oid or "")
                    else:
                        if pack != mapped:
                            mapped, view = pack, self.store.pack_view(pack)
                        blob = view[offset : offset + e.size]
                        self._verify(e, blob, pack)
                    self._write_bytes(e, blob, count=False)
                    if pause:
                        pause_point(IN_CHECKOUT)
                    batch.append(e)
                    if len(batch) >= _BATCH:
                        done.put(batch)
                        batch = []
            except BaseException:
                stop.set()
                raise
            finally:
                done.put(batch)  # every file in it is whole
                done.put(None)  # this lane has ended

        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="dvlin-writer")
        try:
            futures = [pool.submit(work, lane) for lane in lanes if lane]
            ended = 0
            while ended < len(futures):
                written = done.get()
                if written is None:
                    ended += 1
                    continue
                for e in written:
                    self.bytes += e.size
                    self._fell_back("packed")
                    advance(e)
            for future in futures:
                future.result()  # a writer's error is raised here
        except BaseException:
            stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _verify(self, e: Entry, blob: bytes | memoryview, pack: str) -> None:
        """Raise :class:`ObjectError` unless ``blob`` hashes to ``e.oid`` (the store's check,
        without an ``Oid`` built per blob: the common case is one hash and one compare)."""
        h = self._new_hasher()
        h.update(blob)
        if h.hexdigest() != e.oid:
            self.store.verify(e.oid or "", blob, pack=pack)  # raises, naming the object

    def _fetched_alone(self, e: Entry) -> bool:
        """A packed blob fetched from a remote by itself (its pack is not here): read it loose."""
        assert e.pack is not None
        present = self._packs.get(e.pack)
        if present is None:
            present = self._packs[e.pack] = self.store.has(e.pack)
        return not present and self.store.has(e.oid or "")

    def write_one(self, e: Entry) -> None:
        """Write one file entry in the chosen link mode, falling back to a copy."""
        assert e.oid is not None
        if e.chunks is not None:
            self._fell_back("chunked")
            self._write_chunked(e)
            return
        if e.pack is not None and not self._fetched_alone(e):
            self._copy_packed(e, self.store.get_slice(e.pack, e.offset or 0, e.size, e.oid))
            return
        if self.link != "copy":
            source = self.store.local_path(e.oid)
            if source is None:
                self._fell_back("remote store")
            elif e.mode == EXEC_MODE:
                # A linked object would share the store's read-only, non-executable mode.
                self._fell_back("executable")
            elif self.link in ("hardlink", "symlink") and os.geteuid() == 0:
                # Read-only objects protect the store only from users that permissions bind;
                # root could edit a linked object in place, so root gets copies (reflinks
                # stay copy-on-write).
                self._fell_back("root")
            elif self._link(e, source):
                return
            else:
                self._fell_back("link failed")
        self._write_bytes(e, self.store.get(e.oid))

    def _fell_back(self, reason: str) -> None:
        if self.link != "copy":
            self.fallbacks[reason] += 1

    def _copy_packed(self, e: Entry, data: bytes | memoryview) -> None:
        # A small file is a slice of a pack object: there is no object of its own to link.
        self._fell_back("packed")
        self._write_bytes(e, data)

    def _link(self, e: Entry, source: str) -> bool:
        full = safe_parent(self.root, e.path, self._verified)
        tmp = _tmp_name(full)
        try:
            if not os.path.exists(source):
                return False
            if self.link == "hardlink":
                os.link(source, tmp)
            elif self.link == "symlink":
                os.symlink(source, tmp)
            else:
                self._reflink(source, tmp)
            os.replace(tmp, full)
            self.bytes += e.size
            return True
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return False

    @staticmethod
    def _reflink(source: str, tmp: str) -> None:
        with open(source, "rb") as src:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                fcntl.ioctl(fd, _FICLONE, src.fileno())
            finally:
                os.close(fd)

    def _open_target(self, e: Entry) -> tuple[int, str, str]:
        """Open the file to write: under a temporary name beside it, or its own when fresh.

        A file goes through a temporary name, renamed into place by the caller: a process
        killed mid-write (Ctrl-C between two system calls, SIGKILL, power loss) must never
        leave a short file under the file's name — not over data, not in a folder the
        checkout just made. In a staging folder (``fresh_root``) nothing can be overwritten
        and nothing is visible until the whole folder is published, so the file is written
        under its own name, a rename less per file; a Ctrl-C removes the partial file.
        O_EXCL and O_NOFOLLOW make sure nothing else is opened in its place.
        """
        full = safe_parent(self.root, e.path, self._verified)
        tmp = full if self.fresh else _tmp_name(full)
        fd = os.open(tmp, _CREATE, 0o777 if e.mode == EXEC_MODE else 0o666)
        return fd, tmp, full

    def _write_bytes(self, e: Entry, data: bytes | memoryview, *, count: bool = True) -> None:
        fd, tmp, full = self._open_target(e)
        try:
            try:
                written = os.write(fd, data) if data else 0
                if written < len(data):  # a short write (a signal, a full disk): the rest
                    view = memoryview(data)[written:]
                    while view:
                        view = view[os.write(fd, view) :]
                if self.record:
                    st = os.fstat(fd)
                    self.written.append((e, st.st_size, st.st_mtime_ns, st.st_ino))
            finally:
                os.close(fd)
            if tmp != full:
                os.replace(tmp, full)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if count:
            self.bytes += e.size

    def make_dir(self, e: Entry) -> None:
        """Create a folder entry (see :func:`make_dir`)."""
        make_dir(self.root, e, self._verified)

    def _write_chunked(self, e: Entry) -> None:
        """Stream a chunked file (:mod:`dvlin.workspace.chunked`)."""
        fd, tmp, full = self._open_target(e)
        present = None if self.fresh else self.present.get(e.path)
        self.reused += write_chunked(self.store, e, fd, tmp, full, present=present)
        self.bytes += e.size


def write_link(root: str, e: Entry) -> None:
    """Create a symlink entry atomically (temporary name, then rename over the old path)."""
    full = safe_parent(root, e.path)
    tmp = _tmp_name(full)
    os.symlink(e.target or "", tmp)
    try:
        os.replace(tmp, full)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def make_dir(root: str, e: Entry, verified: set[str] | None = None) -> bool:
    """Create a folder entry (its parents must be real folders); True when it was created."""
    full = safe_parent(root, e.path, verified)
    try:
        os.mkdir(full)
    except FileExistsError:
        if os.path.islink(full) or not os.path.isdir(full):
            raise IntegrityError(
                f"refusing to write {e.path}: something other than a folder is there",
                hint="re-run with --force to replace it",
            ) from None
        return False
    return True
