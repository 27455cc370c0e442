"""Write files, folders and links of a version into a folder, never through a symlink."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from dvlin.errors import IntegrityError
from dvlin.faults import IN_CHECKOUT, pause_point
from dvlin.objects.hashing import digest_function
from dvlin.objects.manifest import EXEC_MODE, Entry
from dvlin.objects.manifest_io import table_entries
from dvlin.objects.store import ObjectStore
from dvlin.workspace.chunked import write_chunked
from dvlin.workspace.folders import safe_parent

if TYPE_CHECKING:
    import pyarrow as pa

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
_ROWS = 4096  # rows of a table a writer turns into entries at a time (write_table)
_DROP_EVERY = 8 << 20  # bytes of a mapped pack written before its pages are dropped


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
        self._digest = digest_function(store.algorithm)

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

    def write_table(self, table: pa.Table, advance: Callable[[Entry], None]) -> None:
        """Write the file rows of a manifest table (sorted by path), as :meth:`write_all` does.

        For a restore of a big tree: :meth:`write_all` needs an :class:`Entry` for every file
        at once (~0.5 KiB each, most of a 1M-file restore's peak), here each writer converts
        its own run of rows a few thousand at a time, taken by index, so only the table
        itself (~0.13 KiB a row, not copied) and an index per row live for the whole
        restore. Packed rows whose pack is here go to the writers; the other files (chunked
        files, loose objects, blobs fetched without their pack) are written one by one
        first, exactly as :meth:`write_all` writes them. Folder and link rows are skipped.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        from dvlin.objects.columns import within

        files = within(table, None, ["file"])
        packs = table.column("pack")
        firsts = pc.unique(packs)  # in the order the paths first name them
        here = [p for p in firsts.drop_null().to_pylist() if self._pack_here(p)]
        is_packed = pc.fill_null(pc.is_in(packs, value_set=pa.array(here, pa.string())), False)
        packed = pc.and_(pc.and_(files, is_packed), pc.is_null(table.column("chunks")))
        del is_packed
        for e in table_entries(table.filter(pc.and_(files, pc.invert(packed))), batch_rows=_ROWS):
            self.write_one(e)
            advance(e)
        rows = pc.indices_nonzero(packed)
        del files, packed
        if not len(rows):
            return
        # Packs in the order the paths first name them, each pack's rows in path order: the
        # order write_all's lanes take (a commit packs files in path order, so this is
        # usually the path order itself and nothing is reordered).
        key = pc.index_in(packs.take(rows), value_set=firsts)
        counts = pc.value_counts(key)
        whole = {
            firsts[k].as_py(): n >= _WHOLE_PACK_MIN_BLOBS
            for k, n in zip(
                counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
            )
        }
        if len(key) > 1 and not pc.all(pc.less_equal(key[:-1], key[1:])).as_py():
            rows = rows.take(pc.sort_indices(key))  # stable: path order within each pack
        del key, firsts, counts
        for parent in _parents(table.column("path").take(rows)):
            safe_parent(self.root, parent + "/-", self._verified)

        def lane(lo: int, hi: int) -> Iterator[tuple[str, Entry]]:
            for start in range(lo, hi, _ROWS):
                part = table.take(rows[start : min(hi, start + _ROWS)])
                for e in table_entries(part, batch_rows=_ROWS):
                    yield e.pack or "", e

        n, threads = len(rows), self.threads if len(rows) >= PARALLEL_MIN_FILES else 1
        lanes = [lane(n * i // threads, n * (i + 1) // threads) for i in range(threads)]
        self._write_lanes(lanes, whole, advance)

    def _pack_here(self, pack: str) -> bool:
        present = self._packs.get(pack)
        if present is None:
            present = self._packs[pack] = self.store.has(pack)
        return present

    def _write_packed_parallel(
        self, by_pack: dict[str, list[Entry]], advance: Callable[[Entry], None]
    ) -> None:
        """Write packed blobs with :attr:`threads` writers, each on its own run of the tree.

        The files, in path order, are cut into :attr:`threads` contiguous lanes of equal
        length, one writer each: the writers create files in different folders at any moment
        (two creating in the same folder queue on its lock in the kernel, and the sixth pass
        measured more system time for two writers than for one that way), and each maps the
        packs of its lane itself, so this thread slices and hands over nothing per file.
        Folders are made here first, so writers only create files.
        """
        for parent in {e.path.rpartition("/")[0] for members in by_pack.values() for e in members}:
            safe_parent(self.root, parent + "/-", self._verified)
        flat = [(pack, e) for pack, members in by_pack.items() for e in members]
        lanes = [
            flat[len(flat) * i // self.threads : len(flat) * (i + 1) // self.threads]
            for i in range(self.threads)
        ]
        del flat
        whole = {pack: len(members) >= _WHOLE_PACK_MIN_BLOBS for pack, members in by_pack.items()}
        self._write_lanes([lane for lane in lanes if lane], whole, advance)

    def _write_lanes(
        self,
        lanes: Sequence[Iterable[tuple[str, Entry]]],
        whole: Mapping[str, bool],
        advance: Callable[[Entry], None],
    ) -> None:
        """Write each lane's ``(pack, entry)`` pairs in a writer thread of its own.

        The parents of every file must exist. A pack is mapped (and its blobs verified here)
        when ``whole`` says several of its blobs are wanted, else each blob is read alone.
        The first error in any writer (a corrupt blob, a full disk) stops the others after
        the file each is writing, and so does an exception in this thread (Ctrl-C, raised by
        ``advance``): every writer has returned before this method does, and each file is
        whole or removed, exactly as in the sequential path. ``advance`` is called here,
        never from a writer. A mapped pack's pages already written are dropped from the
        mapping as the writer moves on, so at most a few MiB of each pack count in the
        process's memory.
        """
        import queue

        stop = threading.Event()
        done: queue.Queue[list[Entry] | None] = queue.Queue()
        # The crash tests stop each writer after its first file: a pause in this thread alone
        # (``advance``) would leave the writers free to finish the tree before the kill.
        pause = bool(os.environ.get(IN_CHECKOUT))

        def work(lane: Iterable[tuple[str, Entry]]) -> None:
            batch: list[Entry] = []
            mapped, view = "", memoryview(b"")
            kept = 0  # the mapped pack's pages before this offset are dropped
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
                            mapped, view, kept = pack, self.store.pack_view(pack), 0
                        elif offset - kept >= _DROP_EVERY:
                            kept = _drop_pages(view, kept, offset)
                        blob = view[offset : offset + e.size]
                        self._verify(e, blob, pack)
                    self._write_bytes(e, blob, count=False)
                    if pause:
                        pause_point(IN_CHECKOUT)
                    batch.append(e)
                    if len(batch) >= _BATCH:
                        done.put(batch)
                        batch = []
            except BaseException as exc:  # noqa: BLE001 - raised by the calling thread
                stop.set()
                failures.append(exc)
            finally:
                done.put(batch)  # every file in it is whole
                done.put(None)  # this lane has ended

        # Plain threads, not an executor: concurrent.futures (and the logging it imports)
        # would be ~3 ms of every checkout's start-up.
        failures: list[BaseException] = []
        writers = [
            threading.Thread(target=work, args=(lane,), name=f"dvlin-writer-{i}")
            for i, lane in enumerate(lanes)
        ]
        try:
            for writer in writers:
                writer.start()
            ended = 0
            while ended < len(writers):
                written = done.get()
                if written is None:
                    ended += 1
                    continue
                self.bytes += sum(e.size for e in written)
                if self.link != "copy":
                    self.fallbacks["packed"] += len(written)
                for e in written:
                    advance(e)
        except BaseException:
            stop.set()
            raise
        finally:
            for writer in writers:
                if writer.ident is not None:  # started
                    writer.join()
        if failures:
            raise failures[0]  # the first writer's error

    def _verify(self, e: Entry, blob: bytes | memoryview, pack: str) -> None:
        """Raise :class:`ObjectError` unless ``blob`` hashes to ``e.oid`` (the store's check,
        without an ``Oid`` built per blob: the common case is one hash and one compare)."""
        if self._digest(blob) != e.oid:
            self.store.verify(e.oid or "", blob, pack=pack)  # raises, naming the object

    def _fetched_alone(self, e: Entry) -> bool:
        """A packed blob fetched from a remote by itself (its pack is not here): read it loose."""
        assert e.pack is not None
        return not self._pack_here(e.pack) and self.store.has(e.oid or "")

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
        parent = e.path.rpartition("/")[0]
        if parent in self._verified:  # safe_parent's answer, without its calls (per file)
            full = f"{self.root}/{e.path}"
        else:
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


def _drop_pages(view: memoryview, kept: int, offset: int) -> int:
    """Drop a mapped pack's pages from ``kept`` up to the page holding ``offset``; the new
    ``kept``. The bytes stay in the page cache (a read-only shared mapping): a page needed
    again is mapped back on its next touch, so this only ever costs time, never bytes."""
    import mmap

    upto = offset - offset % mmap.PAGESIZE
    source = view.obj
    if isinstance(source, mmap.mmap) and upto > kept:
        with contextlib.suppress(OSError, ValueError):
            source.madvise(mmap.MADV_DONTNEED, kept, upto - kept)
        return upto
    return kept


def _parents(paths: pa.Array) -> list[str]:
    """The distinct folders holding ``paths`` (``""`` for the root left out)."""
    import pyarrow.compute as pc

    parents = pc.replace_substring_regex(paths, pattern="/?[^/]*$", replacement="")
    return [p for p in pc.unique(parents).to_pylist() if p]


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
