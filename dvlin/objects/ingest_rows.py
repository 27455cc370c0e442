"""What the ingester keeps while files come in: the manifest rows of small files (columns,
not an object per file), the packs being filled, and the files waiting for a chunk's pack."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dvlin.objects.arrays import Int64s, Strings
from dvlin.objects.hashing import Oid
from dvlin.objects.store import StoredObject

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(slots=True)
class Pending:
    """A small file whose pack is not written yet."""

    path: str
    mode: int
    size: int
    oid: Oid


Batch = list[tuple[str, str, int, int, object]]


@dataclass(slots=True)
class PackSlot:
    """A pack of small files: filled, then written (and named) by a thread."""

    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    rows: list[int] = field(default_factory=list)
    """Rows of ``Ingester._rows`` whose bytes are in this pack."""
    writing: Future[Oid] | None = None


@dataclass(slots=True)
class Rows:
    """Manifest columns of the small files stored so far: paths in one UTF-8 buffer (a
    million files: 20 bytes a path where a ``str`` costs 80), oids in a list (shared with the
    hasher), numbers in 8-byte arrays (40 bytes an int in a list)."""

    path: Strings = field(default_factory=Strings)
    mode: Int64s = field(default_factory=Int64s)
    size: Int64s = field(default_factory=Int64s)
    oid: list[str] = field(default_factory=list)
    pack: Int64s = field(default_factory=Int64s)
    """Index into ``Ingester._pack_names``; -1: a loose object; -2: a pack not named yet."""
    offset: Int64s = field(default_factory=Int64s)
    """-1: none (a loose object)."""

    def add(self, path: str, mode: int, size: int, oid: str, pack: int, offset: int | None) -> None:
        self.path.append(path)
        self.mode.append(mode)
        self.size.append(size)
        self.oid.append(oid)
        self.pack.append(pack)
        self.offset.append(-1 if offset is None else offset)


def nullable(values: Int64s) -> pa.Array:
    """An int64 column with -1 as null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    at = values.__arrow_array__()
    return pc.if_else(pc.less(at, 0), pa.scalar(None, pa.int64()), at)


def stored_rows(objects: list[StoredObject]) -> pa.Table:
    """Catalog object rows of a few stored objects."""
    import pyarrow as pa

    return pa.table(
        {
            "oid": pa.array([o.oid for o in objects], pa.string()),
            "size": pa.array([o.size for o in objects], pa.int64()),
            "pack": pa.array([o.pack for o in objects], pa.string()),
            "offset": pa.array([o.offset for o in objects], pa.int64()),
        }
    )
