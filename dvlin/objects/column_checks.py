"""Vectorised checks of a manifest's rows: the validation kernels of
:mod:`dvlin.objects.columns` (each with a reference in :mod:`dvlin.objects.manifest`)."""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from dvlin.objects.column_base import TYPES, _bools, _indices, column
from dvlin.objects.hashing import digest_length

if TYPE_CHECKING:
    from collections.abc import Iterable


# The reference `_UNSAFE_PATH` in RE2 syntax: RE2 has no `\Z`, and its `$` (without the m flag)
# matches only at the very end of the text, as Python's `\Z` does.
UNSAFE_PATH_RE2 = r"^$|^/|//|/$|(?:^|/)\.{1,2}(?:/|$)|[\\\x00]"


def row_errors(table: pa.Table, algorithm: str) -> pa.Array:
    """A boolean per row: true where the reference's per-entry checks would refuse it."""
    n = digest_length(algorithm)
    oid_re = f"^[0-9a-f]{{{n}}}$"

    def bad_oid(values: Any) -> Any:
        if pc.all(pc.equal(pc.binary_length(values), n)).as_py() and all_hex(values):
            return pc.is_null(values)  # the usual case, 3x faster than a regex per row
        ok = pc.and_(pc.equal(pc.utf8_length(values), n), pc.match_substring_regex(values, oid_re))
        return pc.invert(pc.fill_null(ok, False))

    paths = column(table, "path")
    kinds = column(table, "type")
    is_file = pc.fill_null(pc.equal(kinds, "file"), False)
    is_link = pc.fill_null(pc.equal(kinds, "link"), False)
    known = pc.fill_null(pc.is_in(kinds, value_set=pa.array(TYPES)), False)

    bad_path = pc.fill_null(pc.match_substring_regex(paths, UNSAFE_PATH_RE2), True)
    bad_storage = bad_oid(column(table, "oid"))
    # A partial table (Manifest.from_parquet(columns=…)) is checked on the columns it holds.
    names = table.column_names
    if "pack" in names:
        pack = column(table, "pack")
        bad_storage = pc.or_(bad_storage, pc.and_(pc.is_valid(pack), bad_oid(pack)))
    chunks = table.column("chunks") if "chunks" in names else pa.nulls(0)
    chunks = chunks.combine_chunks() if isinstance(chunks, pa.ChunkedArray) else chunks
    if chunks.null_count != len(chunks):
        flat = pc.list_flatten(chunks)
        chunk_oids = pc.struct_field(flat, "oid")
        bad_chunk = pc.and_(pc.is_valid(chunk_oids), bad_oid(chunk_oids))
        bad_chunk = pc.fill_null(bad_chunk, False)
        if pc.any(bad_chunk).as_py():
            owners = pc.list_parent_indices(chunks).filter(bad_chunk)
            per_row = pc.is_in(_indices(len(chunks)), value_set=owners)
            bad_storage = pc.or_(bad_storage, per_row)
    target = column(table, "target")
    bad_target = pc.or_(
        pc.invert(pc.fill_null(pc.not_equal(target, ""), False)),
        pc.fill_null(pc.match_substring(target, "\0"), False),
    )
    bad = pc.or_(
        bad_path,
        pc.or_(
            pc.and_(is_file, bad_storage),
            pc.or_(pc.and_(is_link, bad_target), pc.invert(known)),
        ),
    )
    return pc.fill_null(bad, True)


def all_hex(values: pa.Array) -> bool:
    """True when every byte of a string column's values is a lower-case hex digit.

    One regex over the whole data buffer rather than one per row. Conservative: bytes behind
    null slots count too (Arrow leaves none there).
    """
    if not len(values):
        return True
    offsets = memoryview(values.buffers()[1]).cast("B").cast("i")
    start, end = offsets[values.offset], offsets[values.offset + len(values)]
    data = values.buffers()[2]
    if end == start or data is None:
        return True
    whole = pa.Array.from_buffers(
        pa.binary(),
        1,
        [
            None,
            pa.py_buffer(array("i", [0, end - start])),
            data.slice(start, end - start),
        ],
    )
    return bool(pc.match_substring_regex(whole, "^[0-9a-f]*$")[0].as_py())


def has_adjacent_duplicates(paths: pa.Array) -> bool:
    """True when two neighbouring paths of a sorted column are equal."""
    if len(paths) < 2:
        return False
    return bool(pc.any(pc.fill_null(pc.equal(paths[:-1], paths[1:]), False)).as_py())


def parent_levels(paths: pa.Array) -> Iterable[pa.Array]:
    """Each path's parent, then grandparent … (null once a path has no more), level by level."""
    current = paths
    while True:
        nested = pc.fill_null(pc.match_substring(current, "/"), False)
        if not pc.any(nested).as_py():
            return
        parent = pc.replace_substring_regex(current, r"/[^/]*$", "")
        current = pc.if_else(nested, parent, pa.scalar(None, pa.string()))
        yield current


def under_links(table: pa.Table) -> pa.Array | None:
    """A boolean per row: true where some parent folder of the path is a link (None if none)."""
    kinds = column(table, "type")
    paths = column(table, "path")
    links = paths.filter(pc.fill_null(pc.equal(kinds, "link"), False))
    if not len(links):
        return None
    hit = _bools(len(paths), False)
    for parents in parent_levels(paths):
        hit = pc.or_(hit, pc.fill_null(pc.is_in(parents, value_set=links), False))
    return hit


def implied_folders(paths: pa.Array, kinds: pa.Array) -> pa.Array:
    """A mask of folders whose coming or going is implied by another listed path inside them."""
    if not len(paths):
        return pa.array([], pa.bool_())
    ancestors = [level.drop_null() for level in parent_levels(paths)]
    if not ancestors:
        return _bools(len(paths), False)
    folders = pc.unique(pa.concat_arrays(ancestors))
    is_dir = pc.fill_null(pc.equal(kinds, "dir"), False)
    return pc.and_(is_dir, pc.fill_null(pc.is_in(paths, value_set=folders), False))
