"""Manifests: the file list of one version, stored as a Parquet object.

A manifest row says what a path is (file, dir or link), its normalised mode, its size, the oid of
its whole content, and where the bytes live: a loose object (the oid itself), a slice of a pack
(``pack`` + ``offset``), or a list of content-defined chunks.
"""

from __future__ import annotations

import io
import posixpath
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from dvlin.errors import IntegrityError
from dvlin.objects.hashing import Oid, hasher_factory
from dvlin.values import sealed

if TYPE_CHECKING:
    import pyarrow as pa

EntryType = Literal["file", "dir", "link"]

FILE_MODE = 0o644
EXEC_MODE = 0o755
DIR_MODE = 0o755
LINK_MODE = 0o777

MANIFEST_FORMAT = 1


def normal_mode(kind: EntryType, st_mode: int) -> int:
    """Reduce a stat mode to what dvlin versions: only the executable bit of files."""
    if kind == "file":
        return EXEC_MODE if st_mode & 0o111 else FILE_MODE
    return DIR_MODE if kind == "dir" else LINK_MODE


@sealed
@dataclass(frozen=True, slots=True)
class Chunk:
    """One content-defined chunk of a large file, stored as a loose object."""

    oid: Oid
    size: int


class Entry(NamedTuple):
    """One path of a version. Paths are POSIX, relative to the asset's base folder.

    A NamedTuple rather than a frozen dataclass: a million of these are built per status or
    commit of a big tree, and a frozen dataclass takes five times longer to construct.
    """

    path: str
    type: EntryType
    mode: int
    size: int = 0
    oid: Oid | None = None
    target: str | None = None
    pack: Oid | None = None
    offset: int | None = None
    chunks: tuple[Chunk, ...] | None = None

    def same_content(self, other: Entry | None) -> bool:
        """True when ``other`` has the same type, mode and content (storage may differ)."""
        return (
            other is not None
            and self.type == other.type
            and self.mode == other.mode
            and self.oid == other.oid
            and self.target == other.target
        )

    def storage_oids(self) -> Iterable[str]:
        """The objects this entry's bytes live in."""
        if self.chunks is not None:
            return (c.oid for c in self.chunks)
        if self.pack is not None:
            return (self.pack,)
        if self.oid is not None:
            return (self.oid,)
        return ()


def tree_digest(algorithm: str, entries: Iterable[Entry]) -> str:
    """The content digest of a tree: independent of entry order and of where bytes are stored."""
    lines = sorted(
        f"{e.path}\0{e.type}\0{e.mode:o}\0{e.oid or e.target or ''}\n".encode() for e in entries
    )
    h = hasher_factory(algorithm)()
    h.update(b"".join(lines))
    return h.hexdigest()[:32]


# Empty, absolute, "." or ".." components, doubled or trailing slashes, backslashes, NULs.
_UNSAFE_PATH = re.compile(r"\A\Z|\A/|//|/\Z|(?:\A|/)\.{1,2}(?:/|\Z)|[\\\0]")


def check_path(path: str) -> None:
    """Refuse a manifest path that could escape the folder it is materialised into."""
    if _UNSAFE_PATH.search(path):
        raise IntegrityError(
            f"manifest path {path!r} is not a safe relative path",
            hint="the version or remote is corrupt or hostile; nothing was written",
        )


def leaves_tree(path: str, target: str) -> bool:
    """True when the link at ``path`` points outside the asset (absolute, or climbing out)."""
    if target.startswith("/"):
        return True
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return resolved == ".." or resolved.startswith("../")


def check_link(path: str, target: str) -> None:
    """Refuse a link with no target or a NUL in it.

    A link out of the tree is kept as a link — its target string, as git keeps it — and is
    never followed or written through: checkout checks every parent folder with ``lstat``,
    and :func:`validate` refuses a manifest with paths under a link.
    """
    if not target or "\0" in target:
        raise IntegrityError(
            f"link {path!r} has a malformed target {target!r}",
            hint="the version or remote is corrupt or hostile; nothing was written",
        )


def validate(entries: Sequence[Entry], algorithm: str) -> None:
    """Check every path, link and oid of a manifest before anything is written from it."""
    from dvlin.objects.hashing import digest_length

    oid_ok = re.compile(f"[0-9a-f]{{{digest_length(algorithm)}}}\\Z").match
    unsafe = _UNSAFE_PATH.search
    seen: set[str] = set()
    for e in entries:
        if unsafe(e.path):
            check_path(e.path)
        seen.add(e.path)
        if e.type == "file":
            if e.oid is None or not oid_ok(e.oid):
                raise IntegrityError(f"manifest entry {e.path!r} has a malformed oid {e.oid!r}")
            for oid in (e.pack, *(c.oid for c in e.chunks or ())):
                if oid is not None and not oid_ok(oid):
                    raise IntegrityError(f"manifest entry {e.path!r} has a malformed oid {oid!r}")
        elif e.type == "link":
            check_link(e.path, e.target or "")
        elif e.type != "dir":
            raise IntegrityError(f"manifest entry {e.path!r} has unknown type {e.type!r}")
    if len(seen) != len(entries):
        raise IntegrityError("manifest lists a path twice")
    links = {e.path for e in entries if e.type == "link"}
    if links:
        for e in entries:
            parent = e.path.rpartition("/")[0]
            while parent:
                if parent in links:
                    raise IntegrityError(
                        f"manifest entry {e.path!r} lies under the link {parent!r}",
                        hint="the version or remote is corrupt or hostile; nothing was written",
                    )
                parent = parent.rpartition("/")[0]


def _schema() -> Any:
    import pyarrow as pa

    chunk = pa.struct([("oid", pa.string()), ("size", pa.int64())])
    return pa.schema(
        [
            ("path", pa.string()),
            ("type", pa.dictionary(pa.int8(), pa.string())),
            ("mode", pa.int32()),
            ("size", pa.int64()),
            ("oid", pa.string()),
            ("target", pa.string()),
            ("pack", pa.string()),
            ("offset", pa.int64()),
            ("chunks", pa.list_(chunk)),
        ],
        metadata={"dvlin.manifest": str(MANIFEST_FORMAT)},
    )


def _type_array(kinds: Sequence[str]) -> Any:
    """The type column as a dictionary array, built without ``pyarrow.compute``.

    Array.cast would import pyarrow.compute, 70 ms of start-up on every commit. Known types use
    the fixed dictionary file/dir/link; anything else (only ever seen in tests of hostile
    manifests) gets a dictionary of its own values.
    """
    import pyarrow as pa

    known = ["file", "dir", "link"]
    values = known if set(kinds) <= set(known) else [*known, *sorted(set(kinds) - set(known))]
    codes = {kind: i for i, kind in enumerate(values)}
    return pa.DictionaryArray.from_arrays(
        pa.array([codes[k] for k in kinds], pa.int8()), pa.array(values, pa.string())
    )


def entries_table(entries: Iterable[Entry]) -> pa.Table:
    """Entries (sorted by path bytes, stable) as a table with the on-disk schema."""
    import pyarrow as pa

    rows = sorted(entries, key=lambda e: e.path.encode())
    schema = _schema()
    columns: dict[str, Any] = {
        "path": [e.path for e in rows],
        "mode": [e.mode for e in rows],
        "size": [e.size for e in rows],
        "oid": [e.oid for e in rows],
        "target": [e.target for e in rows],
        "pack": [e.pack for e in rows],
        "offset": [e.offset for e in rows],
        "chunks": [
            None if e.chunks is None else [{"oid": c.oid, "size": c.size} for c in e.chunks]
            for e in rows
        ],
    }
    arrays = [
        _type_array([e.type for e in rows])
        if field.name == "type"
        else pa.array(columns[field.name], type=field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def table_parquet(table: pa.Table) -> bytes:
    """A manifest table as Parquet bytes (zstd, one chunk per column)."""
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table.combine_chunks(), sink, compression="zstd")
    return sink.getvalue()


def to_parquet(entries: Sequence[Entry]) -> bytes:
    """Serialise entries (sorted by path) as Parquet bytes."""
    return table_parquet(entries_table(entries))


def arrow_owned(data: bytes) -> pa.Buffer:
    """A copy of ``data`` in memory that Arrow owns, for readers that use Arrow's threads.

    A reader over Python ``bytes`` keeps a Python object alive inside Arrow, and Arrow's
    worker threads can drop the last reference after ``read()`` has returned. If that happens
    while the interpreter shuts down, the worker cannot take the GIL, is cancelled inside a
    C++ destructor and the whole process aborts ("terminate called without an active
    exception", exit 134): a no-op commit, which exits right after reading its parent's
    manifest, hit it about one run in eight. Arrow-owned memory needs no GIL to be freed.
    """
    import pyarrow as pa

    buffer = pa.allocate_buffer(len(data))
    memoryview(buffer).cast("B")[:] = data
    return buffer


def read_table(data: bytes) -> pa.Table:
    """Parquet bytes as a table with the on-disk schema; unreadable is an integrity error."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # ParquetFile, not read_table: read_table imports pyarrow.dataset (+0.17 s).
        table = pq.ParquetFile(pa.BufferReader(arrow_owned(data))).read()
        schema = _schema()
        arrays = []
        for field in schema:
            column = table.column(field.name)
            if column.type != field.type or str(column.type) != str(field.type):
                # Parquet names a list's items "element", Arrow "item": the same layout, so a
                # zero-copy view gives back exactly the schema written (and its bytes).
                try:
                    column = pa.chunked_array(
                        [chunk.view(field.type) for chunk in column.chunks], field.type
                    )
                except pa.ArrowException:  # another layout (int32 dictionary codes …)
                    column = column.cast(field.type)
            arrays.append(column)
        table = pa.Table.from_arrays(arrays, schema=schema)
    except (pa.ArrowException, KeyError, ValueError, TypeError) as exc:
        raise IntegrityError(f"manifest is unreadable: {exc}") from None
    return table


def table_entries(table: pa.Table, *, batch_rows: int = 65536) -> Iterator[Entry]:
    """One :class:`Entry` per row of a manifest table, converted a batch at a time."""
    names = _schema().names
    for batch in table.to_batches(max_chunksize=batch_rows):
        cols = {}
        for name in names:
            column = batch.column(name)
            # Columns that are all null (chunks, targets, packs in most trees) skip to_pylist.
            all_null = column.null_count == len(column)
            cols[name] = [None] * len(column) if all_null else column.to_pylist()
        for path, kind, mode, size, oid, target, pack, offset, chunks in zip(
            cols["path"],
            cols["type"],
            cols["mode"],
            cols["size"],
            cols["oid"],
            cols["target"],
            cols["pack"],
            cols["offset"],
            cols["chunks"],
            strict=True,
        ):
            yield Entry(
                path=path,
                type=kind,
                mode=mode,
                size=size,
                oid=oid,
                target=target,
                pack=pack,
                offset=offset,
                chunks=None
                if chunks is None
                else tuple(Chunk(c["oid"], c["size"]) for c in chunks),
            )


def from_parquet(data: bytes) -> list[Entry]:
    """Parse Parquet bytes back into entries; a malformed manifest is an integrity error."""
    return list(table_entries(read_table(data)))


SMALL = 4096
"""Below this many rows, Manifest methods use the reference functions: building a few thousand
entries is cheaper than importing ``pyarrow.compute`` (~70 ms) for a short command."""


def _combined(column: Any) -> Any:
    """A chunked column as one array."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


class Manifest:
    """One version's entries as an Arrow table, sorted by path (UTF-8 byte order).

    The columns are exactly the on-disk schema (path, type, mode, size, oid, target, pack,
    offset, chunks). Big trees stay columnar: digest, validation, storage objects, diff and
    lookups work on the columns (see :mod:`dvlin.objects.columns`); :meth:`entries` builds
    Python objects only for callers that walk every entry. Immutable: every method that
    changes rows returns a new manifest.
    """

    __slots__ = ("_paths", "table")

    table: pa.Table

    def __init__(self, table: pa.Table) -> None:
        """Wrap a table already in the on-disk schema and sorted by path (not checked)."""
        self.table = table
        self._paths: Any = None

    def __setattr__(self, name: str, value: object) -> None:
        if name == "_paths" or (name == "table" and not hasattr(self, "table")):
            object.__setattr__(self, name, value)
            return
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot assign to field {name!r} of Manifest")

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_parquet(cls, data: bytes) -> Manifest:
        """Read Parquet bytes (format 1); an unreadable manifest is an :class:`IntegrityError`."""
        return cls._sorted(read_table(data))

    @classmethod
    def from_entries(cls, entries: Iterable[Entry]) -> Manifest:
        """A manifest of these entries (any order)."""
        return cls(entries_table(entries))

    @classmethod
    def from_columns(
        cls,
        *,
        path: Any,
        type: Any,  # noqa: A002 - the column's name
        mode: Any,
        size: Any,
        oid: Any,
        target: Any = None,
        pack: Any = None,
        offset: Any = None,
        chunks: Any = None,
    ) -> Manifest:
        """A manifest from columns (Python lists or Arrow arrays) in any order; sorts by path."""
        import pyarrow as pa

        schema = _schema()
        given = {
            "path": path,
            "type": type,
            "mode": mode,
            "size": size,
            "oid": oid,
            "target": target,
            "pack": pack,
            "offset": offset,
            "chunks": chunks,
        }
        rows = len(path)
        arrays = []
        for field in schema:
            value = given[field.name]
            if value is None:
                arrays.append(pa.nulls(rows, field.type))
            elif isinstance(value, pa.Array | pa.ChunkedArray):
                value = _combined(value)
                if field.name == "type" and not pa.types.is_dictionary(value.type):
                    value = _type_array(value.to_pylist())
                arrays.append(value if value.type == field.type else value.cast(field.type))
            elif field.name == "type":
                arrays.append(_type_array(list(value)))
            elif field.name == "chunks":
                arrays.append(
                    pa.array(
                        [
                            None
                            if c is None
                            else [
                                x if isinstance(x, dict) else {"oid": x.oid, "size": x.size}
                                for x in c
                            ]
                            for c in value
                        ],
                        field.type,
                    )
                )
            else:
                arrays.append(pa.array(value, field.type))
        return cls._sorted(pa.Table.from_arrays(arrays, schema=schema))

    @classmethod
    def empty(cls) -> Manifest:
        """A manifest with no entries."""
        return cls(entries_table(()))

    @classmethod
    def _sorted(cls, table: pa.Table) -> Manifest:
        """Wrap ``table``, sorting it by path bytes first unless it already is."""
        if table.num_rows < SMALL:
            paths = _combined(table.column("path")).to_pylist()
            keys = [p.encode() if p is not None else b"" for p in paths]
            if any(a > b for a, b in zip(keys, keys[1:], strict=False)):
                order = sorted(range(len(keys)), key=keys.__getitem__)
                table = table.take(order)
            return cls(table)
        from dvlin.objects import columns

        return cls(columns.sort_table(table))

    # -- reading -----------------------------------------------------------------------------

    def to_parquet(self) -> bytes:
        """The Parquet bytes of this manifest (format 1, as :func:`to_parquet` writes)."""
        return table_parquet(self.table)

    def __len__(self) -> int:
        return int(self.table.num_rows)

    def __repr__(self) -> str:
        return f"Manifest({len(self)} entries)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Manifest) and self.table.equals(other.table)

    __hash__ = None  # type: ignore[assignment]

    def paths(self) -> pa.Array:
        """The path column as one array."""
        if self._paths is None:
            self._paths = _combined(self.table.column("path"))
        return self._paths

    def entries(self) -> Iterator[Entry]:
        """One :class:`Entry` per row, in path order (for small trees or changed rows)."""
        return table_entries(self.table)

    def entry_map(self) -> dict[str, Entry]:
        """The entries by path (for callers not yet ported to columns)."""
        return {e.path: e for e in self.entries()}

    def get(self, path: str) -> Entry | None:
        """The entry at ``path``, by binary search on the sorted path column."""
        paths = self.paths()
        key = path.encode()
        lo, hi = 0, len(paths)
        while lo < hi:
            mid = (lo + hi) // 2
            if paths[mid].as_py().encode() < key:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(paths) and paths[lo].as_py() == path:
            return next(table_entries(self.table.slice(lo, 1)))
        return None

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.get(path) is not None

    def digest(self, algorithm: str) -> str:
        """The tree digest, byte for byte what :func:`tree_digest` gives for the entries."""
        if len(self) < SMALL:
            return tree_digest(algorithm, self.entries())
        from dvlin.objects import columns

        return columns.digest(self.table, algorithm)

    def validate(self, algorithm: str) -> None:
        """Refuse what :func:`validate` refuses, with the same :class:`IntegrityError`."""
        if len(self) < SMALL:
            validate(list(self.entries()), algorithm)
            return
        from dvlin.objects import columns

        bad = columns.first_true(columns.row_errors(self.table, algorithm))
        if bad is not None:
            validate(list(table_entries(self.table.slice(bad, 1))), algorithm)
        if columns.has_adjacent_duplicates(self.paths()):
            raise IntegrityError("manifest lists a path twice")
        under = columns.under_links(self.table)
        row = None if under is None else columns.first_true(under)
        if row is not None:
            links = columns.link_paths(self.table)
            path = self.paths()[row].as_py()
            parent = path.rpartition("/")[0]
            while parent not in links:
                parent = parent.rpartition("/")[0]
            raise IntegrityError(
                f"manifest entry {path!r} lies under the link {parent!r}",
                hint="the version or remote is corrupt or hostile; nothing was written",
            )

    def file_count(self) -> int:
        """How many rows are files."""
        if len(self) < SMALL:
            return sum(
                1 for kind in _combined(self.table.column("type")).to_pylist() if kind == "file"
            )
        from dvlin.objects import columns

        return columns.count_files(self.table)

    def file_bytes(self) -> int:
        """The total size of the files."""
        if len(self) < SMALL:
            kinds = _combined(self.table.column("type")).to_pylist()
            sizes = _combined(self.table.column("size")).to_pylist()
            return sum(s or 0 for k, s in zip(kinds, sizes, strict=True) if k == "file")
        from dvlin.objects import columns

        return columns.file_bytes(self.table)

    def storage_oids(self) -> set[str]:
        """Every object the version's bytes live in (chunks, packs, loose objects)."""
        if len(self) < SMALL:
            return {oid for e in self.entries() for oid in e.storage_oids()}
        from dvlin.objects import columns

        return columns.storage_oids(self.table)

    # -- new manifests -----------------------------------------------------------------------

    def take(self, indices: Any) -> Manifest:
        """The rows at ``indices`` (an Arrow array or a list of ints), kept sorted by path."""
        return Manifest._sorted(self.table.take(indices))

    def within(self, prefix: str | None, kinds: Iterable[str] | None = None) -> Manifest:
        """The rows at ``prefix`` or under the folder ``prefix`` (all without one), of ``kinds``."""
        from dvlin.objects import columns

        if not prefix and kinds is None:
            return self
        return Manifest(self.table.filter(columns.within(self.table, prefix, kinds)))

    def filter(self, mask: Any) -> Manifest:
        """The rows where ``mask`` (a boolean Arrow array or list) is true."""
        return Manifest(self.table.filter(mask))

    def replace(self, removed_paths: Iterable[str] | pa.Array, added: Manifest) -> Manifest:
        """A new manifest: these paths removed, ``added``'s rows added (replacing same paths)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        gone = pa.concat_arrays(
            [
                removed_paths
                if isinstance(removed_paths, pa.Array)
                else pa.array(list(removed_paths), pa.string()),
                added.paths(),
            ]
        )
        keep = self.table
        if len(gone):
            keep = keep.filter(pc.invert(pc.is_in(self.paths(), value_set=gone)))
        if not len(added):
            return Manifest(keep)
        table = pa.concat_tables([keep, added.table.cast(keep.schema)]).combine_chunks()
        return Manifest._sorted(table)
