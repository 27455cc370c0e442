"""A manifest's bytes: the Parquet schema (format 1), writing entries or a table, reading back."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from dvlin.errors import IntegrityError
from dvlin.objects.entry import MANIFEST_FORMAT, Chunk, Entry

if TYPE_CHECKING:
    import pyarrow as pa


PARTIAL_FROM = 4096
"""Manifests with fewer rows are read whole even when some columns are asked for: they cost
nothing to read, and the per-entry reference functions need every column."""


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


_WRITER_OPTIONS: dict[str, Any] = {
    "version": "2.6",
    "compression": "zstd",
    "use_dictionary": True,
    "write_statistics": True,
    "use_deprecated_int96_timestamps": False,
    "coerce_timestamps": None,
    "data_page_size": None,
    "allow_truncated_timestamps": False,
    "compression_level": None,
    "use_byte_stream_split": False,
    "column_encoding": None,
    "writer_engine_version": "V2",
    "data_page_version": "1.0",
    "use_compliant_nested_type": True,
    "encryption_properties": None,
    "write_batch_size": None,
    "dictionary_pagesize_limit": None,
    "store_schema": True,
    "write_page_index": False,
    "write_page_checksum": False,
    "sorting_columns": None,
    "store_decimal_as_integer": False,
    "write_time_adjusted_to_utc": False,
    "max_rows_per_page": None,
    "bloom_filter_options": None,
    "use_content_defined_chunking": False,
}
"""What ``pyarrow.parquet.write_table(..., compression="zstd")`` hands pyarrow's own writer
(pyarrow 26's defaults, every one spelled out): the same bytes without importing
``pyarrow.parquet``, whose import of ``pyarrow.fs`` (S3, GCS, HDFS bindings, ``ssl``) costs
~15-20 ms of every commit. A pyarrow whose private writer takes other keywords refuses them
(TypeError) and the public writer is used; ``tests/objects/test_manifest.py`` checks both
write the same bytes."""


def table_parquet(table: pa.Table) -> bytes:
    """A manifest table as Parquet bytes (zstd, one chunk per column).

    Written into Arrow's own buffer, not a Python file object: a Python sink takes the GIL
    for every write, so a commit writing a big manifest beside other work (the tree digest)
    would wait for it.
    """
    import pyarrow as pa

    table = table.combine_chunks()
    try:
        from pyarrow._parquet import ParquetWriter

        sink = pa.BufferOutputStream()
        writer = ParquetWriter(sink, table.schema, **_WRITER_OPTIONS)
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - another pyarrow
        import pyarrow.parquet as pq

        out = io.BytesIO()
        pq.write_table(table, out, compression="zstd")
        return out.getvalue()
    try:
        writer.write_table(table, row_group_size=None)
    finally:
        writer.close()
    data: bytes = sink.getvalue().to_pybytes()
    return data


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


class _Parquet:
    """The part of ``pyarrow.parquet.ParquetFile`` a manifest read uses, on pyarrow's own
    reader: importing ``pyarrow.parquet`` imports ``pyarrow.fs`` (S3, GCS, HDFS bindings and
    ``ssl``, ~15 ms of every command that reads a manifest), which reading bytes in memory
    never uses."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self.metadata = reader.metadata

    def read(self, columns: Sequence[str], use_threads: bool = True) -> pa.Table:
        """These top-level columns (a nested one with all its leaves)."""
        wanted = set(columns)
        leaves = [i for i, path in enumerate(self._reader.column_paths) if path[0] in wanted]
        return self._reader.read_all(column_indices=leaves, use_threads=use_threads)


def parquet_file(buffer: pa.Buffer) -> Any:
    """A reader of Parquet bytes in memory with ``metadata`` and ``read(columns=...)``."""
    import pyarrow as pa

    try:
        from pyarrow._parquet import ParquetReader

        reader = ParquetReader()
        reader.open(pa.BufferReader(buffer))
        return _Parquet(reader)
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - a pyarrow that
        # moved or reshaped its private reader: the public one reads the same bytes.
        import pyarrow.parquet as pq

        return pq.ParquetFile(pa.BufferReader(buffer))


def read_table(data: bytes | pa.Buffer, columns: Sequence[str] | None = None) -> pa.Table:
    """Parquet bytes as a table with the on-disk schema; unreadable is an integrity error.

    ``columns`` (in schema order, ``path`` first) reads only those: a diff of two 1M-row
    versions needs neither the chunk lists nor where the bytes are packed. ``data`` may be
    an Arrow buffer from :func:`arrow_owned` (the caller can then drop its ``bytes``).
    """
    import pyarrow as pa

    try:
        schema = _schema()
        if columns is not None:
            wanted = set(columns)
            schema = pa.schema([f for f in schema if f.name in wanted], metadata=schema.metadata)
        # ParquetFile, not read_table: read_table imports pyarrow.dataset (+0.17 s).
        owned = data if isinstance(data, pa.Buffer) else arrow_owned(data)
        parquet = parquet_file(owned)
        if columns is not None and parquet.metadata.num_rows < PARTIAL_FROM:
            schema = _schema()  # small: every column, so the reference functions apply
        big = parquet.metadata.num_rows >= PARTIAL_FROM
        if big and len(schema) < len(_schema()):
            # A column at a time, its decoding scratch handed back before the next: a reader
            # holding another 1M-row manifest already peaks ~60 MiB lower than with all at once.
            parts = {}
            for name in schema.names:
                parts[name] = parquet.read(columns=[name], use_threads=False).column(0)
                pa.default_memory_pool().release_unused()
            table = pa.table(parts)
        else:
            table = parquet.read(columns=schema.names)
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
    except (pa.ArrowException, OSError, KeyError, ValueError, TypeError) as exc:
        # OSError: a footer that does not decode (Thrift) is reported as one, not as Arrow's.
        raise IntegrityError(f"manifest is unreadable: {exc}") from None
    if table.num_rows >= PARTIAL_FROM:
        # Decoding a 1M-row column chunk needs ~70 MiB of scratch that Arrow's allocator keeps
        # for itself; handing it back (~1 ms) keeps two manifests read in a row near 2x one.
        pa.default_memory_pool().release_unused()
    return table


def table_entries(table: pa.Table, *, batch_rows: int = 65536) -> Iterator[Entry]:
    """One :class:`Entry` per row of a manifest table, converted a batch at a time."""
    names = _schema().names
    assert names[-1] == "chunks" and list(names) == list(Entry._fields)
    make = Entry._make  # positional: a third of the keyword constructor's time per row
    for batch in table.to_batches(max_chunksize=batch_rows):
        cols = []
        for name in names:
            column = batch.column(name)
            # Columns that are all null (chunks, targets, packs in most trees) skip to_pylist.
            all_null = column.null_count == len(column)
            cols.append([None] * len(column) if all_null else _pylist(column))
        if cols[-1].count(None) == len(cols[-1]):
            yield from map(make, zip(*cols, strict=True))
            continue
        cols[-1] = [
            None if chunks is None else tuple(Chunk(c["oid"], c["size"]) for c in chunks)
            for chunks in cols[-1]
        ]
        yield from map(make, zip(*cols, strict=True))


def _pylist(column: Any) -> list[Any]:
    """``column.to_pylist()``; a dictionary column (``type``) is decoded from its codes.

    Arrow builds a scalar per row to list a dictionary array: 0.4 s for 200,000 types, ten
    times the cost of listing the codes and looking each up in the (three-word) dictionary.
    """
    import pyarrow as pa

    if not pa.types.is_dictionary(column.type):
        return column.to_pylist()  # type: ignore[no-any-return]
    words = column.dictionary.to_pylist()
    codes = column.indices.to_pylist()
    if column.null_count:
        return [None if code is None else words[code] for code in codes]
    return list(map(words.__getitem__, codes))


def from_parquet(data: bytes) -> list[Entry]:
    """Parse Parquet bytes back into entries; a malformed manifest is an integrity error."""
    return list(table_entries(read_table(data)))
