"""The content-addressed store over any fsspec filesystem.

Objects live at ``ROOT/ab/cdef…`` (the first two hex characters fan out into sub-folders).
Each object is written once and atomically, and every read is verified against its oid.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dvlin.errors import FileSystemError, IntegrityError, ReadOnlyRepoError
from dvlin.objects.files import write_and_publish
from dvlin.objects.hashing import Oid, hash_bytes, unlocked_hasher_factory
from dvlin.values import sealed

# Object stores whose single-request upload is already atomic (a reader sees the whole object
# or none of it), so a temporary name and a move would only double the traffic.
_ATOMIC_PUT_PROTOCOLS = frozenset({"memory", "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@sealed
@dataclass(frozen=True, slots=True)
class StoredObject:
    """Where an object's bytes are: loose (``pack`` is None) or a slice of a pack."""

    oid: Oid
    size: int
    pack: Oid | None
    offset: int | None


class ObjectIndex(Protocol):
    """Where stored objects are (the catalog answers this; the store does not know it)."""

    def find_object(self, oid: str) -> StoredObject | None:
        """Where one object is, or None when it is not known."""

    def find_objects(self, oids: Iterable[str]) -> Mapping[str, StoredObject]:
        """Where each of the known ``oids`` is."""


class ObjectError(IntegrityError):
    """An object that is missing or whose bytes do not match its oid."""

    def __init__(self, message: str, *, oid: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.oid = oid


@sealed
@dataclass(frozen=True, slots=True)
class StoreStats:
    """What one batch of writes added to the store."""

    objects: int
    bytes: int


class ObjectStore:
    """Content-addressed objects on an fsspec filesystem.

    Args:
        fs: any fsspec filesystem instance.
        root: the store's folder on ``fs`` (no protocol prefix).
        algorithm: the repo's hash algorithm; oids are its hex digests.
        fsync: on a local disk, flush each object to stable storage before it is renamed
            into place, so the catalog never references bytes still in the page cache.
    """

    def __init__(
        self,
        fs: Any,
        root: str,
        *,
        algorithm: str,
        fsync: bool = True,
        index: ObjectIndex | None = None,
    ) -> None:
        self._fs = fs
        self.index = index
        self.root = root.rstrip("/")
        self.algorithm = algorithm
        self.fsync = fsync
        protocols: tuple[str, ...] = ("file",)
        if fs is not None:
            protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
        self.is_local = "file" in protocols or "local" in protocols
        self._atomic_put = bool(_ATOMIC_PUT_PROTOCOLS.intersection(protocols))
        self._made_dirs: set[str] = set()
        self._unsynced: list[str] = []
        self._background: Any = None  # a one-thread executor, made on first put_soon
        self._queued: list[Any] = []
        self._synced_dirs_needed: set[str] = set()

    @classmethod
    def local(
        cls, root: str, *, algorithm: str, fsync: bool = True, index: ObjectIndex | None = None
    ) -> ObjectStore:
        """A store in a folder of this machine; fsspec's LocalFileSystem is made on first use.

        Local reads and writes go through ``os`` directly, and importing fsspec costs 0.15 s
        that ``commit`` and ``checkout`` on a local repo need not pay.
        """
        return cls(None, root, algorithm=algorithm, fsync=fsync, index=index)

    @property
    def fs(self) -> Any:
        """The fsspec filesystem the store lives on."""
        if self._fs is None:
            from fsspec.implementations.local import LocalFileSystem

            self._fs = LocalFileSystem()
        return self._fs

    @classmethod
    def from_url(
        cls, url: str, *, algorithm: str, fsync: bool = True, index: ObjectIndex | None = None
    ) -> ObjectStore:
        """Open the store at an fsspec URL such as ``file:///data/store`` or ``s3://bucket/x``."""
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(url)
        return cls(fs, path, algorithm=algorithm, fsync=fsync, index=index)

    def __repr__(self) -> str:
        return f"ObjectStore({'file' if self._fs is None else self._fs.protocol!r}, {self.root!r})"

    # -- paths -------------------------------------------------------------------------------

    def path(self, oid: str) -> str:
        """Where ``oid`` lives on the filesystem."""
        return f"{self.root}/{oid[:2]}/{oid[2:]}"

    @property
    def local_root(self) -> str | None:
        """The store's folder as an OS path when it is on a local disk."""
        return self.root if self.is_local else None

    def local_path(self, oid: str) -> str | None:
        """The OS path of a loose object when the store is on a local disk, else None."""
        return self.path(oid) if self.is_local else None

    # -- writing -----------------------------------------------------------------------------

    def has(self, oid: str) -> bool:
        """True when the object exists, loose or in a pack here (its bytes are not read)."""
        if self._has_loose(oid):
            return True
        packed = self._packed(oid)
        return packed is not None and self._has_loose(packed.pack or "")

    def _has_loose(self, oid: str) -> bool:
        if self.is_local:
            return os.path.exists(self.path(oid))
        return bool(self.fs.exists(self.path(oid)))

    def _packed(self, oid: str) -> StoredObject | None:
        """Where the index says ``oid`` sits inside a pack, if it does."""
        if self.index is None:
            return None
        found = self.index.find_object(oid)
        if found is None or found.pack is None or found.pack in ("", oid):
            return None
        return found

    def put(self, data: bytes | memoryview, oid: Oid | None = None) -> Oid:
        """Store ``data`` (hashing it unless the caller already did) and return its oid.

        Writing an object that exists is a no-op, so two writers of the same bytes are harmless.
        """
        if oid is None:
            oid = hash_bytes(self.algorithm, data)
        target = self.path(oid)
        if self.is_local:
            try:
                self._put_local(target, data)
            except OSError as exc:
                if exc.errno == errno.EROFS:
                    raise ReadOnlyRepoError(target) from None
                raise FileSystemError.from_os(exc, action="write", path=target) from None
        elif self.has(oid):
            return oid
        elif self._atomic_put:
            self.fs.pipe_file(target, bytes(data))
        else:
            tmp = f"{self.root}/tmp/{os.urandom(16).hex()}"
            self.fs.pipe_file(tmp, bytes(data))
            try:
                self.fs.mv(tmp, target)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.fs.rm(tmp)
                raise
        return oid

    def _put_local(self, target: str, data: bytes | memoryview) -> None:
        if os.path.exists(target):
            return
        folder = os.path.dirname(target)
        if folder not in self._made_dirs:
            os.makedirs(folder, exist_ok=True)
            os.makedirs(f"{self.root}/tmp", exist_ok=True)
            self._made_dirs.add(folder)
        tmp = f"{self.root}/tmp/{os.urandom(16).hex()}"
        # Objects are read-only so that a hardlinked or symlinked checkout cannot be edited in
        # place by accident and silently change what a committed version points at.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        write_and_publish(fd, tmp, target, (data,))
        if self.fsync:
            self._unsynced.append(target)

    def put_soon(self, data: bytes | memoryview, oid: Oid) -> None:
        """Queue a write (and its fsync) on a background thread; :meth:`sync` waits for it.

        Chunking a big file is CPU work on the calling thread; the writes release the GIL,
        so they overlap with it. At most 32 writes wait in the queue, which bounds memory.
        """
        if self._background is None:
            from concurrent.futures import ThreadPoolExecutor

            self._background = ThreadPoolExecutor(2, thread_name_prefix="dvlin-put")
        while len(self._queued) >= 32:
            self._queued.pop(0).result()
        self._queued.append(self._background.submit(self._put_and_sync, data, oid))

    def _put_and_sync(self, data: bytes | memoryview, oid: Oid) -> None:
        self.put(data, oid)
        if self.is_local and self.fsync and self._unsynced:
            path = self._unsynced.pop()
            _fsync_file(path)
            self._synced_dirs_needed.add(os.path.dirname(path))

    def written(self, path: str, *, synced: bool) -> None:
        """Note an object another writer (a pack) put at ``path``, for :meth:`sync` to flush."""
        if self.is_local and self.fsync:
            if synced:
                self._synced_dirs_needed.add(os.path.dirname(path))
            else:
                self._unsynced.append(path)

    def sync(self) -> None:
        """Wait for queued writes; flush every object written, and their folders, to disk.

        Callers run this once, just before the catalog transaction that references the
        objects, so the catalog never points at bytes that a power cut could lose.
        """
        queued, self._queued = self._queued, []
        for future in queued:
            future.result()
        if self._background is not None:
            self._background.shutdown(wait=True)
            self._background = None
        if not (self.is_local and self.fsync):
            return
        pending, self._unsynced = self._unsynced, []
        for path in pending:
            try:
                _fsync_file(path)
            except OSError as exc:  # a full disk can first show itself here
                raise FileSystemError.from_os(exc, action="flush", path=path) from None
        folders = {os.path.dirname(p) for p in pending} | self._synced_dirs_needed
        self._synced_dirs_needed = set()
        for folder in folders:
            with contextlib.suppress(OSError):
                fd = os.open(folder, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    # -- reading -----------------------------------------------------------------------------

    def _read(self, oid: str, start: int | None = None, end: int | None = None) -> bytes:
        path = self.path(oid)
        try:
            if self.is_local:
                with open(path, "rb") as f:
                    if start is None:
                        return f.read()
                    f.seek(start)
                    return f.read((end or 0) - start)
            if start is None:
                return bytes(self.fs.cat_file(path))
            if end is not None and end <= start:
                # S3 ignores the empty range "bytes=N-(N-1)" and sends the whole object.
                if not self.fs.exists(path):
                    raise FileNotFoundError(path)
                return b""
            return bytes(self.fs.cat_file(path, start=start, end=end))
        except FileNotFoundError:
            raise ObjectError(
                f"object {oid} is missing from the store",
                oid=oid,
                hint="restore it from a remote or a backup; `dvlin fsck` lists what is affected",
            ) from None

    def get(self, oid: str) -> bytes:
        """Read an object whole and verify it against its oid.

        An object that is not loose is read from the pack the index places it in (the
        chunks of big files live in packs).
        """
        try:
            data = self._read(oid)
        except ObjectError:
            packed = self._packed(oid)
            if packed is None:
                raise
            assert packed.pack is not None and packed.offset is not None
            return self.get_slice(packed.pack, packed.offset, packed.size, oid)
        self.verify(oid, data)
        return data

    def get_slice(self, pack: str, offset: int, size: int, oid: str) -> bytes:
        """Read the blob ``oid`` stored at ``offset`` in ``pack`` and verify it."""
        data = self._read(pack, offset, offset + size)
        self.verify(oid, data, pack=pack)
        return data

    def pack_view(self, pack: str) -> memoryview:
        """The bytes of ``pack`` for slicing blobs out of it, not verified as a whole.

        On a local disk the pack is mapped, not copied (a small file's blob is then written
        straight from the page cache); elsewhere it is read. Callers verify each blob they
        use against its own oid (:meth:`verify`), which is what a blob's integrity means.
        """
        if not self.is_local:
            return memoryview(self._read(pack))
        import mmap

        try:
            with open(self.path(pack), "rb") as f:
                if os.fstat(f.fileno()).st_size == 0:
                    return memoryview(b"")
                return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
        except FileNotFoundError:
            raise ObjectError(
                f"object {pack} is missing from the store",
                oid=pack,
                hint="restore it from a remote or a backup; `dvlin fsck` lists what is affected",
            ) from None

    def read_chunks(self, oids: Sequence[str]) -> Iterator[bytes]:
        """Read the chunks of a big file in order, each verified (see :class:`ChunkReader`)."""
        reader = self.chunk_reader()
        reader.locate(oids)
        try:
            for oid in oids:
                yield reader.read(oid)
        finally:
            reader.close()

    def chunk_reader(self) -> ChunkReader:
        """A reader of big files' chunks into the caller's buffers (:class:`ChunkReader`)."""
        return ChunkReader(self)

    def verify(
        self, oid: str, data: bytes | memoryview, *, pack: str | None = None, unlocked: bool = False
    ) -> None:
        """Raise :class:`ObjectError` unless ``data`` hashes to ``oid``.

        ``unlocked``: hash without holding the GIL (worth its ``ctypes`` call for big buffers
        read on a thread of their own, :func:`~dvlin.objects.hashing.unlocked_hasher_factory`).
        """
        if unlocked:
            h = unlocked_hasher_factory(self.algorithm)()
            h.update(data)
            found = Oid(h.hexdigest())
        else:
            found = hash_bytes(self.algorithm, data)
        if found != oid:
            where = f" (in pack {pack})" if pack else ""
            raise ObjectError(
                f"object {oid}{where} is corrupt: its bytes hash to {found}",
                oid=oid,
                hint="restore the object from a remote or a backup; `dvlin fsck` lists "
                "what is affected",
            )

    def delete(self, oid: str) -> bool:
        """Remove an object; False when it was already gone. Only gc calls this.

        S3 answers a delete of a missing key with success, so there a repeat says True.
        """
        path = self.path(oid)
        try:
            if self.is_local:
                os.unlink(path)
            else:
                self.fs.rm_file(path)
        except FileNotFoundError:
            return False
        return True

    def age(self, oid: str, *, now: float) -> float | None:
        """Seconds since the object was written, or None when the store cannot tell."""
        try:
            if self.is_local:
                return now - os.stat(self.path(oid)).st_mtime
            return float(now - self.fs.modified(self.path(oid)).timestamp())
        except FileNotFoundError:
            return None
        except (NotImplementedError, AttributeError, KeyError, OSError):
            return None

    def iter_oids(self) -> Iterator[Oid]:
        """Every object in the store (for fsck and gc)."""
        try:
            found = self.fs.find(self.root)
        except FileNotFoundError:
            return
        root = self.fs._strip_protocol(self.root).rstrip("/")
        for path in found:
            rel = self.fs._strip_protocol(path)[len(root) + 1 :]
            fan, _, rest = rel.partition("/")
            if len(fan) == 2 and rest and "/" not in rest and fan != "tm":
                yield Oid(fan + rest)


class ChunkReader:
    """Where the chunks of big files are on this machine's disk, for copying them out.

    :meth:`locate` asks the index where the chunks are in one query; :meth:`place` opens the
    pack a chunk is in (one pack at a time: a file's chunks sit one after another in its
    packs, in the order the file is written back), with the kernel told to read ahead. The
    caller copies the bytes and verifies them (:meth:`ObjectStore.verify`). Chunks that are
    loose or on a remote store have no place: read them with :meth:`ObjectStore.get`.
    """

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._where: Mapping[str, StoredObject] = {}
        self._pack: tuple[str, int] | None = None

    def locate(self, oids: Iterable[str]) -> None:
        """Look up where ``oids`` are (in one query), before they are placed."""
        store = self._store
        if store.index is not None and store.is_local:
            self._where = store.index.find_objects(set(oids))

    def place(self, oid: str, size: int) -> tuple[int, int, str] | None:
        """``(descriptor, offset, pack)`` of chunk ``oid`` of ``size`` bytes in a local pack.

        None when it is not in a pack here (or the index gives it another size), or when its
        pack is missing (then :meth:`ObjectStore.get` raises the error that names it).
        """
        found = self._where.get(oid)
        pack = found.pack if found is not None else None
        if found is None or pack is None or pack in ("", oid) or found.size != size:
            return None
        if self._pack is None or self._pack[0] != pack:
            self.close()
            try:
                fd = os.open(self._store.path(pack), os.O_RDONLY)
            except FileNotFoundError:
                return None
            if hasattr(os, "posix_fadvise"):
                with contextlib.suppress(OSError):
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            self._pack = (pack, fd)
        return self._pack[1], found.offset or 0, pack

    def read(self, oid: str) -> bytes:
        """Chunk ``oid``'s bytes, verified: from its pack when it has a place, else whole
        from the store (which raises the error that names a missing object or pack)."""
        found = self._where.get(oid)
        size = found.size if found is not None else None
        place = self.place(oid, size) if size is not None else None
        if place is None:
            return self._store.get(oid)
        fd, offset, pack = place
        data = os.pread(fd, size or 0, offset)  # a short pack reads short: verify refuses it
        self._store.verify(oid, data, pack=pack)
        return data

    def close(self) -> None:
        """Close the pack being read, if any."""
        if self._pack is not None:
            os.close(self._pack[1])
            self._pack = None
