"""Writing a chunked (big) file of a version: its chunks in order, the whole checked at the end.

A file cut into content-defined chunks (:mod:`dvlin.objects.bigfile`) is written one verified
chunk at a time into a temporary file beside its path; the hash of everything written must be
the entry's oid before the temporary file is renamed into place, so a reader sees the old file
or the whole new one, never a mix.
"""

from __future__ import annotations

from collections.abc import Iterator

from dvlin.errors import IntegrityError
from dvlin.objects.files import write_and_publish
from dvlin.objects.hashing import hasher_factory
from dvlin.objects.manifest import Entry
from dvlin.objects.store import ObjectStore


def write_chunked(store: ObjectStore, e: Entry, fd: int, tmp: str, full: str) -> None:
    """Write the chunks of ``e`` to ``fd`` (open on ``tmp``), check them, rename to ``full``."""
    whole = hasher_factory(store.algorithm)()

    def pieces() -> Iterator[bytes]:
        for data in store.read_chunks([c.oid for c in e.chunks or ()]):
            whole.update(data)
            yield data

    def check() -> None:
        if whole.hexdigest() != e.oid:
            raise IntegrityError(
                f"chunks of {e.path} do not add up to object {e.oid}",
                hint="the manifest is corrupt; `dvlin fsck` checks the store",
            )

    write_and_publish(fd, tmp, full, pieces(), check=check)
