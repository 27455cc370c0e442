"""Manifests: the file list of one version, stored as a Parquet object.

A manifest row says what a path is (file, dir or link), its normalised mode, its size, the oid of
its whole content, and where the bytes live: a loose object (the oid itself), a slice of a pack
(``pack`` + ``offset``), or a list of content-defined chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from dvlin.errors import IntegrityError
from dvlin.objects.entry import (
    DIR_MODE,
    EXEC_MODE,
    FILE_MODE,
    LINK_MODE,
    MANIFEST_FORMAT,
    Chunk,
    Entry,
    EntryType,
    check_link,
    check_path,
    leaves_tree,
    normal_mode,
    tree_digest,
    validate,
    validate_structure,
)
from dvlin.objects.manifest_io import (
    PARTIAL_FROM,
    _schema,
    _type_array,
    arrow_owned,
    entries_table,
    from_parquet,
    read_table,
    table_entries,
    table_parquet,
    to_parquet,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DIR_MODE",
    "EXEC_MODE",
    "FILE_MODE",
    "LINK_MODE",
    "MANIFEST_FORMAT",
    "DIFF_COLUMNS",
    "SMALL",
    "VALIDATOR",
    "Chunk",
    "Entry",
    "EntryType",
    "Manifest",
    "arrow_owned",
    "check_link",
    "check_path",
    "entries_table",
    "from_parquet",
    "leaves_tree",
    "normal_mode",
    "read_table",
    "table_entries",
    "table_parquet",
    "to_parquet",
    "tree_digest",
    "validate",
    "validate_structure",
]


DIFF_COLUMNS = ("path", "type", "mode", "size", "oid", "target")
"""What a comparison of two versions (and ``dvlin ls``) reads: what each path is and its
content, not where the bytes are stored (``pack``, ``offset``, ``chunks``)."""

VALIDATOR = 1
"""The version of the rules :meth:`Manifest.validate` applies (:func:`validate` and
:func:`dvlin.objects.columns.row_errors`). A read skips validating a manifest only when the
catalog records that it passed this version: bump it whenever those rules change, and every
manifest is validated again on its next read."""

SMALL = 4096
"""Below this many rows, Manifest methods use the reference functions: building a few thousand
entries is cheaper than importing ``pyarrow.compute`` (~70 ms) for a short command."""


SORTED_CHECK_ROWS = 65_536
"""Up to this many rows, a manifest read checks its path order in Python (~3 ms at 20,000
rows) rather than with ``pyarrow.compute``, whose import (40-60 ms) a restore otherwise pays
for this check alone."""


def _increasing(paths: Any) -> bool:
    """True when ``paths`` (no nulls) strictly increase in UTF-8 byte order.

    Python compares ``str`` by code point, which orders valid UTF-8 exactly as its bytes (an
    Arrow string holds no lone surrogate).
    """
    if paths.null_count:
        return False
    keys = paths.to_pylist()
    return all(a < b for a, b in zip(keys, keys[1:], strict=False))


def _combined(column: Any) -> Any:
    """A chunked column as one array."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _whole(table: pa.Table) -> pa.Table:
    """A partial table (some columns not read) with the missing columns as nulls."""
    import pyarrow as pa

    schema = _schema()
    if table.num_columns == len(schema):
        return table
    arrays = [
        table.column(f.name) if f.name in table.column_names else pa.nulls(len(table), f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


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
    def from_parquet(
        cls, data: bytes | pa.Buffer, *, columns: Sequence[str] | None = None
    ) -> Manifest:
        """Read Parquet bytes (format 1); an unreadable manifest is an :class:`IntegrityError`.

        With ``columns`` (e.g. :data:`DIFF_COLUMNS`) the table holds only those: a partial
        manifest for readers that compare or list, never for writing files (``entries``
        fails loudly on it).
        """
        return cls._sorted(read_table(data, columns))

    @property
    def partial(self) -> bool:
        """True when some on-disk columns were not read (see :meth:`from_parquet`)."""
        return bool(self.table.num_columns != len(_schema()))

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
        if table.num_rows <= SORTED_CHECK_ROWS and _increasing(table.column("path")):
            return cls(table)  # the usual case, read without importing pyarrow.compute
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
        if len(self) < SMALL and not self.partial:
            validate(list(self.entries()), algorithm)
            return
        from dvlin.objects import columns

        bad = columns.first_true(columns.row_errors(self.table, algorithm))
        if bad is not None:
            validate(list(table_entries(_whole(self.table.slice(bad, 1)))), algorithm)
            raise IntegrityError(  # not reached: the reference refuses what row_errors flags
                f"manifest entry {self.paths()[bad].as_py()!r} is malformed",
                hint="the version or remote is corrupt or hostile; nothing was written",
            )
        self.validate_structure()

    def validate_structure(self) -> None:
        """The checks of :meth:`validate` that no row shows alone: a path listed twice, a
        path under a link. For a manifest built of rows each already validated."""
        if len(self) < SMALL and not self.partial:
            validate_structure(list(self.entries()))
            return
        from dvlin.objects import columns

        if not columns.is_sorted_unique(self.paths()):
            if columns.has_adjacent_duplicates(self.paths()):
                raise IntegrityError("manifest lists a path twice")
            raise IntegrityError("manifest paths are not in order")
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

    def select(self, columns: Sequence[str] | None) -> Manifest:
        """The same rows with only ``columns`` (in schema order), as a partial read gives."""
        if columns is None or len(self) < PARTIAL_FROM:
            return self  # as a partial read of a small manifest: every column
        wanted = set(columns)
        return Manifest(self.table.select([f.name for f in _schema() if f.name in wanted]))

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
