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

The chunks of the working file are copied by the kernel (``os.copy_file_range``, from its
page cache) and read back from the temporary file to be hashed; the chunks of the store are
read into memory, written and hashed from there (copying them in the kernel from packs that
are not in the page cache cost more CPU here; docs/benchmarks.md, "Issue 12, fifth pass").
Either way what is hashed (store chunks against their oids, the whole against the entry's)
is what the file holds. The hashing runs on a thread of its own, a few chunks behind.

The working file's pages are dropped from the page cache as soon as each of its chunks is
copied (:func:`_drop`): the file is about to be replaced, and the new file's pages are then
mostly those pages again, just freed. On this project's VM, pages the guest has not used
lately are slow to touch: right after another program had written a GiB (DVC's ``add``), a
1 GiB copy into a new file took 1.6-5.6 s with the source's pages kept and 0.27-0.40 s with
them dropped as it went (DVC's checkout unlinks the old file first, which frees its pages the
same way; docs/benchmarks.md, "Issue 12, twelfth pass"). The packs' pages are kept: a restore
that dropped them read the next restore's chunks from the disk again, and was no quicker.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from dvlin.errors import IntegrityError
from dvlin.faults import IN_CHUNKED, pause_point
from dvlin.objects.buffers import aligned_buffer
from dvlin.objects.hashing import unlocked_hasher_factory
from dvlin.objects.manifest import Entry
from dvlin.objects.store import ObjectStore

if TYPE_CHECKING:
    from concurrent.futures import Future

# The buffer each chunk is read back into (at most 4 MiB, dvlin.objects.bigfile.CHUNK_MAX); a
# bigger chunk gets its own.
_BUFFER_SIZE = 4 * 1024 * 1024
# Chunks copied and not yet read back, at most: the reading thread stays close behind, so what
# it reads is still in the CPU's caches or at least the page cache's recent pages.
_BEHIND = 8


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
                    reused = _write(store, e, fd, tmp, source)
                finally:
                    os.close(source[0])
                if reused < 0:  # the file was not what present says: start again
                    os.ftruncate(fd, 0)
                    os.lseek(fd, 0, os.SEEK_SET)
            if source is None or reused < 0:
                reused = 0
                if _write(store, e, fd, tmp, None) < 0:
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


def _write(
    store: ObjectStore, e: Entry, fd: int, tmp: str, source: tuple[int, dict[str, int]] | None
) -> int:
    """Write every chunk of ``e`` to ``fd``; return the bytes taken from ``source``'s file.

    -1 when the bytes written do not hash to ``e.oid`` (then ``fd`` holds a wrong file).
    A chunk of the working file is copied by the kernel and read back from ``tmp`` to be
    hashed: what is hashed is what the file holds, whatever changes in the source meanwhile.
    A chunk of the store is read into memory, written, and those bytes hashed. The hashing
    runs a few chunks behind, on another thread (:class:`_ReadBack`).
    """
    src, at = source if source is not None else (-1, {})
    chunks = e.chunks or ()
    reserve(fd, e.size)
    packs = store.chunk_reader()
    packs.locate(c.oid for c in chunks if c.oid not in at)
    back = _ReadBack(store, tmp)
    reused = pos = 0
    try:
        for c in chunks:
            offset = at.get(c.oid)
            if offset is not None:
                if _copy(src, fd, offset, pos, c.size) != c.size:
                    return -1  # the file is shorter now: it is not what the cache said
                _drop(src, offset, c.size)
                reused += c.size
                back.add(pos, c.size)
            else:
                place = packs.place(c.oid, c.size)
                if place is None:  # loose, or not on this machine's disk: read it whole
                    data, pack = store.get(c.oid), None  # verified
                else:
                    from_fd, offset, pack = place
                    data = _pread(from_fd, c.size, offset)  # short if the pack is: caught
                _pwrite_all(fd, memoryview(data), pos)
                back.add(pos, c.size, data, c.oid, pack)
            pos += c.size
        whole = back.finish()
    finally:
        back.close()
        packs.close()
    return reused if whole == e.oid else -1


class _ReadBack:
    """Read back what was written and hash it: each chunk from a pack against its oid, and the
    whole, in order, on a thread of its own (``preadv`` and the ``ctypes`` hashes release the
    GIL, so this overlaps with the next copies)."""

    def __init__(self, store: ObjectStore, tmp: str) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._store = store
        self._whole = unlocked_hasher_factory(store.algorithm)()
        self._fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW)
        self._buf = aligned_buffer(_BUFFER_SIZE)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="dvlin-read-back")
        self._queued: deque[Future[None]] = deque()

    def add(
        self,
        pos: int,
        size: int,
        data: bytes | None = None,
        oid: str = "",
        pack: str | None = None,
    ) -> None:
        """Hash the ``size`` bytes written at ``pos``: ``data`` when given (what was written
        from memory), else read back. Bytes from ``pack`` are verified against ``oid``."""
        while len(self._queued) >= _BEHIND or (self._queued and self._queued[0].done()):
            self._queued.popleft().result()  # raises a corrupt chunk's error
        self._queued.append(self._pool.submit(self._hash, pos, size, data, oid, pack))

    def finish(self) -> str:
        """The whole's hash, once every chunk was read back."""
        while self._queued:
            self._queued.popleft().result()
        return self._whole.hexdigest()

    def close(self) -> None:
        for future in self._queued:
            future.cancel()
        self._pool.shutdown(wait=True)
        os.close(self._fd)

    def _hash(self, pos: int, size: int, data: bytes | None, oid: str, pack: str | None) -> None:
        got: bytes | memoryview
        if data is None:
            view = memoryview(self._buf if size <= len(self._buf) else aligned_buffer(size))[:size]
            got = view[: _pread_into(self._fd, view, pos)]
        else:
            got = data
        if pack is not None:
            self._store.verify(oid, got, pack=pack, unlocked=True)
        self._whole.update(got)


_COPY_REFUSED = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF}
_kernel_copy = [hasattr(os, "copy_file_range")]


def _copy(src: int, dst: int, src_at: int, dst_at: int, size: int) -> int:
    """Copy ``size`` bytes from ``src`` at ``src_at`` to ``dst`` at ``dst_at``; return the count.

    ``os.copy_file_range`` keeps the bytes in the kernel (a quarter of the system time of a
    read and a write through a buffer on this project's VM; docs/benchmarks.md, "Issue 12,
    fifth pass"). Where it is refused (another file system, an old kernel), a buffer carries
    them. Fewer than ``size`` at the end of ``src``.
    """
    done = 0
    while done < size and _kernel_copy[0]:
        try:
            n = os.copy_file_range(src, dst, size - done, src_at + done, dst_at + done)
        except OSError as exc:
            if exc.errno not in _COPY_REFUSED:
                raise
            _kernel_copy[0] = False
            break
        if not n:
            return done
        done += n
    if done < size:
        piece = memoryview(aligned_buffer(min(size - done, _BUFFER_SIZE)))
        while done < size:
            n = _pread_into(src, piece[: size - done], src_at + done)
            if not n:
                break
            _pwrite_all(dst, piece[:n], dst_at + done)
            done += n
    return done


def _drop(fd: int, offset: int, size: int) -> None:
    """Let the kernel free the page-cache pages of ``fd``'s bytes just copied (a hint).

    Their next user is usually the new file being written, whose pages then come from memory
    the machine just used rather than from memory it has not touched lately (see the module's
    docstring). Dirty pages are only queued for writing; a platform without the call, or a
    file system that refuses it, changes nothing.
    """
    if _fadvise is not None:
        with contextlib.suppress(OSError):
            _fadvise(fd, offset, size, os.POSIX_FADV_DONTNEED)


_fadvise: Callable[[int, int, int, int], None] | None = getattr(os, "posix_fadvise", None)

_fallocate: list[Callable[[int, int, int, int], int] | None] = []


def reserve(fd: int, size: int) -> None:
    """Allocate ``size`` bytes of disk to the empty file ``fd`` before it is written.

    A full disk then fails the checkout before a byte is written, not a GiB into it. And on
    ext4 the file is then written into blocks it already has: renamed over an existing file,
    a file written into blocks not allocated yet (delayed allocation) is sent to the disk by
    the rename itself (ext4's ``auto_da_alloc``), 0.3 s for 1 GiB on this project's VM
    (docs/benchmarks.md, "Issue 12, eleventh pass"). Where the file system or the platform
    does not allocate ahead (``fallocate(2)`` refused, not Linux), nothing is done: glibc's
    ``posix_fallocate`` would write a zero into every block instead.

    Raises:
        OSError: the disk (or the user's quota) has no room for ``size`` bytes.
    """
    if not _fallocate:
        _fallocate.append(_load_fallocate())
    call = _fallocate[0]
    if call is None or size <= 0:
        return
    if call(fd, 0, 0, size) != 0:
        import ctypes

        err = ctypes.get_errno()
        if err in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise OSError(err, os.strerror(err))


def _load_fallocate() -> Callable[[int, int, int, int], int] | None:
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        call = ctypes.CDLL(None, use_errno=True).fallocate
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    call.restype = ctypes.c_int
    return call


def _pread(fd: int, size: int, offset: int) -> bytes:
    """``size`` bytes of ``fd`` at ``offset`` (fewer at its end)."""
    data = os.pread(fd, size, offset)
    while len(data) < size and (more := os.pread(fd, size - len(data), offset + len(data))):
        data += more
    return data


def _pwrite_all(fd: int, view: memoryview, at: int) -> None:
    while view:
        n = os.pwrite(fd, view, at)
        view, at = view[n:], at + n


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    """Fill ``view`` from ``fd`` at ``offset``; return the bytes read (fewer at the end)."""
    done = 0
    while done < len(view):
        n = os.preadv(fd, [view[done:]], offset + done)
        if not n:
            break
        done += n
    return done
