"""What the ingester keeps while files come in: the manifest rows of small files (columns,
not an object per file), the packs being filled, and the files waiting for a chunk's pack;
and the rows it hands back: the version's manifest and the catalog's new objects."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dvlin.objects.arrays import Int64s, Strings
from dvlin.objects.entry import Entry
from dvlin.objects.hashing import Oid
from dvlin.objects.store import StoredObject

if TYPE_CHECKING:
    import pyarrow as pa

NO_PACK = -1  # a row's blob is a loose object
PACK_UNNAMED = -2  # a row's blob is in a pack still being written


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


def manifest_table(rows: Rows, pack_names: list[Oid], entries: list[Entry]) -> pa.Table:
    """Manifest rows (sorted by path) of the small files in ``rows`` (whose ``pack`` indexes
    ``pack_names``) and of ``entries`` (files stored whole or in chunks). Empties ``rows.oid``
    once it is a column (a million files)."""
    import pyarrow as pa

    from dvlin.objects.manifest import Manifest

    n = len(rows.path)
    packs = pack_column(rows.pack, pack_names)
    offsets = nullable(rows.offset)
    oids = pa.array(rows.oid, pa.string())
    rows.oid = []
    table = Manifest.from_columns(
        path=rows.path,
        type=pa.DictionaryArray.from_arrays(  # code 0 of the fixed dictionary: "file"
            pa.Array.from_buffers(pa.int8(), n, [None, pa.py_buffer(bytes(n))]),
            pa.array(["file", "dir", "link"], pa.string()),
        ),
        mode=rows.mode,
        size=rows.size,
        oid=oids,
        pack=packs,
        offset=offsets,
    ).table
    if entries:
        table = pa.concat_tables([table, Manifest.from_entries(entries).table])
        table = Manifest.from_columns(
            **{name: table.column(name) for name in table.column_names}
        ).table
    return table


def pack_column(ids: Int64s, names: list[Oid]) -> pa.Array:
    """The pack name of each row (null for a loose blob), from the rows' pack indices."""
    import pyarrow as pa
    import pyarrow.compute as pc

    assert PACK_UNNAMED not in ids, "a pack was left unnamed"
    known = pa.array(names, pa.string())
    at = ids.__arrow_array__()
    return known.take(pc.if_else(pc.less(at, 0), pa.scalar(None, pa.int64()), at))


def new_object_rows(
    manifest: pa.Table, others: list[StoredObject], new_loose: set[str]
) -> pa.Table:
    """The catalog rows (oid, size, pack, offset) of every object a commit stored.

    ``manifest`` holds the commit's rows: a new small blob is a row in a pack the commit wrote
    (a pack is an object of ``others`` with no pack) or a new loose object (``new_loose``);
    each oid once, where it was first stored. Then ``others``: the packs and the chunks of big
    files. By columns, and only at the end: the table is not held while the manifest is
    sorted, diffed and written.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from dvlin.objects.columns import column

    packs = pa.array([o.oid for o in others if o.pack is None], pa.string())
    pack, oid = column(manifest, "pack"), column(manifest, "oid")
    mine = pc.is_in(pack, value_set=packs)
    if new_loose:
        loose = pa.array(sorted(new_loose), pa.string())
        mine = pc.or_(mine, pc.and_(pc.is_null(pack), pc.is_in(oid, value_set=loose)))
    # One copy of the four columns, of the rows wanted only (the manifest is big).
    rows = manifest.select(["oid", "size", "pack", "offset"]).filter(pc.fill_null(mine, False))
    oids = rows.column("oid")
    distinct = pc.unique(oids)
    if len(distinct) != rows.num_rows:
        rows = rows.take(pc.index_in(distinct, value_set=oids))  # duplicates: the first row
    if not others:
        return rows
    # A pack of one blob has the blob's oid: its row (pack = itself) stands for both; a
    # chunk equal to a small file, likewise.
    again = pc.is_in(pa.array([o.oid for o in others], pa.string()), value_set=distinct)
    others = [o for o, dup in zip(others, again.to_pylist(), strict=True) if not dup]
    return pa.concat_tables([rows, stored_rows(others)]) if others else rows
