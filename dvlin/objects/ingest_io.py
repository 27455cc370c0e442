"""The ingester's file work, run on its threads: read and hash a batch of small files,
write a pack of them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from dvlin.errors import FileSystemError
from dvlin.faults import IN_PACK, pause_point
from dvlin.objects.bigfile import unreadable
from dvlin.objects.hashing import Hasher, Oid
from dvlin.objects.store import ObjectStore

READ_BLOCK = 1024 * 1024
IOV_MAX = 1024  # buffers per os.writev (Linux's IOV_MAX)


def read_batch(
    batch: list[tuple[str, str, int, int, object]], hash_once: Callable[[bytes], str]
) -> tuple[list[bytes], list[Oid]]:
    """Read and hash a batch of small files (on the reader thread)."""
    datas: list[bytes] = []
    oids: list[Oid] = []
    for abs_path, path, _, size, _ in batch:
        # One open, one read (the scan's size plus one byte shows a file that grew), one
        # close: no stat, no buffered reader per file.
        try:
            fd = os.open(abs_path, os.O_RDONLY)
            try:
                data = os.read(fd, size + 1)
                if len(data) > size:
                    data = read_rest(fd, data)
            finally:
                os.close(fd)
        except OSError as exc:
            raise unreadable(exc, path, abs_path) from None
        datas.append(data)
        oids.append(Oid(hash_once(data)))
    return datas, oids


def read_rest(fd: int, head: bytes) -> bytes:
    """``head`` and what follows it up to the end of the file (one that grew since its scan)."""
    parts = [head]
    while chunk := os.read(fd, READ_BLOCK):
        parts.append(chunk)
    return b"".join(parts)


def write_pack(store: ObjectStore, hasher: Hasher, parts: list[bytes]) -> Oid:
    """Write a pack of ``parts`` to a temporary file while hashing it (with ``hasher``, a new
    one), flush it, and rename it to its content address; return its oid.

    ``os.writev`` of the members, no joined copy.

    Nothing names the pack until the commit's catalog transaction: a crash leaves at worst
    a temporary file or an unreferenced pack (gc removes both).
    """
    os.makedirs(f"{store.root}/tmp", exist_ok=True)
    tmp = f"{store.root}/tmp/{os.urandom(16).hex()}"
    target = tmp
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)  # read-only object
        try:
            for at in range(0, len(parts), IOV_MAX):
                group = parts[at : at + IOV_MAX]
                for part in group:
                    hasher.update(part)
                left = sum(len(p) for p in group) - os.writev(fd, group)
                if left:  # a short write: the rest one piece at a time
                    view = memoryview(b"".join(group))[-left:]
                    while view:
                        view = view[os.write(fd, view) :]
            pause_point(IN_PACK)
            if store.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        pack = Oid(hasher.hexdigest())
        target = store.path(pack)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.exists(target):
            os.unlink(tmp)  # the same pack exists: bytes equal by their hash
        else:
            os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise FileSystemError.from_os(exc, action="write", path=target) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    store.written(target, synced=True)
    return pack
