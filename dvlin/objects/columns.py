"""Vectorised kernels over a manifest's Arrow table: digest, validation, storage and diff.

Each function here has a straightforward reference in :mod:`dvlin.objects.manifest` (or
:mod:`dvlin.objects.diff`) that walks one :class:`Entry` per path; the property tests in
``tests/objects/`` check that both agree on random trees, hostile paths included. These work
on columns with ``pyarrow.compute`` and never build a Python object per row, so they are the
ones used on big trees. ``pyarrow.compute`` costs ~70 ms to import: this module imports it at
the top, and is itself imported only when a kernel is needed. NumPy is imported only by the
kernels that need it, and not at all in a process that runs without it (:mod:`dvlin.lean`):
there the path join is a hash join instead of NumPy's merge of two sorted runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from dvlin.lean import numpy_blocked
from dvlin.objects.column_base import TYPES, _bools, column, first_true, same, strings
from dvlin.objects.column_checks import (
    UNSAFE_PATH_RE2,
    all_hex,
    has_adjacent_duplicates,
    implied_folders,
    parent_levels,
    row_errors,
    under_links,
)
from dvlin.objects.column_join import (
    MERGE_BYTES,
    PAIRS_PER_STEP,
    changed_rows,
    differing,
    match_paths,
)
from dvlin.objects.hashing import hasher_factory

__all__ = [
    "MERGE_BYTES",
    "PAIRS_PER_STEP",
    "TYPES",
    "UNSAFE_PATH_RE2",
    "all_hex",
    "changed_rows",
    "column",
    "differing",
    "first_true",
    "has_adjacent_duplicates",
    "implied_folders",
    "match_paths",
    "parent_levels",
    "row_errors",
    "same",
    "strings",
    "under_links",
]

if TYPE_CHECKING:
    from collections.abc import Iterable

    import numpy as np


def is_sorted_unique(paths: pa.Array) -> bool:
    """True when the paths are strictly increasing in byte order."""
    if len(paths) < 2:
        return True
    binary = paths.cast(pa.binary()) if pa.types.is_string(paths.type) else paths
    return bool(pc.all(pc.less(binary[:-1], binary[1:])).as_py())


def insertion_points(haystack: Any, needles: Any) -> np.ndarray | list[int]:
    """For each of ``needles``, how many of the sorted ``haystack`` paths sort before it.

    ``bisect_left`` in path byte order, for every needle at once: each halving is one
    ``take`` and one ``less`` over the needles, so placing k rows among n costs ~k log n,
    not the n log n of sorting them all together. Without NumPy (a small tree, see
    :mod:`dvlin.lean`) it is :func:`bisect.bisect_left` per needle, as a list.
    """
    hay = strings(haystack).cast(pa.binary())
    keys = strings(needles).cast(pa.binary())
    if numpy_blocked():
        from bisect import bisect_left

        sorted_hay = hay.to_pylist()
        return [bisect_left(sorted_hay, key) for key in keys.to_pylist()]
    import numpy as np

    lo = np.zeros(len(keys), dtype=np.int64)
    hi = np.full(len(keys), len(hay), dtype=np.int64)
    if not len(hay):
        return lo
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        probe = hay.take(pa.array(np.minimum(mid, len(hay) - 1)))
        before = pc.fill_null(pc.less(probe, keys), False).to_numpy(zero_copy_only=False)
        lo = np.where(active & before, mid + 1, lo)
        hi = np.where(active & ~before, mid, hi)


def sort_table(table: pa.Table) -> pa.Table:
    """The table sorted by path bytes (stable: duplicate paths keep their order)."""
    paths = column(table, "path")
    if is_sorted_unique(paths):
        return table
    order = pc.sort_indices(paths.cast(pa.binary()), sort_keys=[("", "ascending")])
    return table.take(order)


def octal(modes: pa.Array) -> pa.Array:
    """Each mode formatted as ``f"{mode:o}"`` (few distinct values: formatted once each)."""
    distinct = pc.unique(modes)
    texts = [None if m is None else f"{m:o}" for m in distinct.to_pylist()]
    return pc.take(pa.array(texts, pa.string()), pc.index_in(modes, value_set=distinct))


def digest_lines(table: pa.Table) -> pa.Array:
    """The reference digest's lines, ``path\\0type\\0mode\\0(oid or target or '')\\n``."""
    paths = column(table, "path")
    kinds = pc.fill_null(column(table, "type"), "None")
    oid = column(table, "oid")
    target = column(table, "target")
    # `e.oid or e.target or ''`: an empty string is as false as a missing one.
    oid = pc.if_else(pc.fill_null(pc.not_equal(oid, ""), False), oid, None)
    content = pc.coalesce(oid, target, pa.scalar("", pa.string()))
    nul = pa.scalar("\0", pa.string())
    lines = pc.binary_join_element_wise(
        pc.fill_null(paths, "None"), kinds, octal(column(table, "mode")), content, nul
    )
    return pc.binary_join_element_wise(lines, pa.scalar("\n"), pa.scalar(""))


DIGEST_ROWS = 1 << 16
"""Rows whose digest lines are built at a time: a million rows' lines at once took ~200 MB."""


def digest(table: pa.Table, algorithm: str) -> str:
    """``tree_digest`` over the table's rows, byte for byte, hashing Arrow's data buffer."""
    paths = column(table, "path")
    h = hasher_factory(algorithm)()
    # Lines sort as their paths do when paths are unique and hold no NUL (the path ends at
    # the first NUL of its line): then they are hashed in order, a slice of rows at a time.
    # Otherwise sort the lines themselves, as the reference does.
    if is_sorted_unique(paths) and not pc.any(pc.match_substring(paths, "\0")).as_py():
        del paths
        for start in range(0, table.num_rows, DIGEST_ROWS):
            _hash_lines(h, digest_lines(table.slice(start, DIGEST_ROWS)))
    else:
        lines = digest_lines(table).cast(pa.binary())
        _hash_lines(h, lines.take(pc.sort_indices(lines)))
    return h.hexdigest()[:32]


def _hash_lines(h: Any, lines: pa.Array) -> None:
    """Feed the bytes of ``lines`` (a string or binary array), in order, to ``h``."""
    if not len(lines):
        return
    _, offsets_buffer, data = lines.buffers()
    offsets = memoryview(offsets_buffer).cast("B").cast("i")
    start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    if data is not None:
        h.update(memoryview(data)[start:end])


def storage_oids(table: pa.Table) -> set[str]:
    """Every object the rows' bytes live in: chunks, else the pack, else the oid itself."""
    chunks = table.column("chunks")
    chunks = chunks.combine_chunks() if isinstance(chunks, pa.ChunkedArray) else chunks
    pack, oid = column(table, "pack"), column(table, "oid")
    # The packs (a few dozen distinct values) straight from their column, and only the
    # unpacked rows' oids copied out: coalescing the two columns first copied every oid.
    if chunks.null_count != len(chunks):
        whole = pc.is_null(chunks)
        pack = pack.filter(whole)
        oid = oid.filter(whole)
    loose = oid.filter(pc.is_null(pack)) if pack.null_count != len(pack) else oid
    parts = [pc.unique(pack).drop_null(), pc.unique(loose).drop_null()]
    if chunks.null_count != len(chunks):
        parts.append(pc.unique(pc.struct_field(pc.list_flatten(chunks), "oid").drop_null()))
    return {oid for part in parts for oid in part.to_pylist()}


def within(table: pa.Table, prefix: str | None, kinds: Iterable[str] | None = None) -> pa.Array:
    """A mask of rows at ``prefix`` or inside the folder ``prefix`` (and of one of ``kinds``).

    The same rule as :func:`dvlin.ops.stats.within`: no prefix (or ``.``) takes every row.
    """
    paths = column(table, "path")
    mask = _bools(len(paths), True)
    if prefix and prefix not in (".", "./"):
        prefix = prefix.strip("/")
        mask = pc.or_(pc.equal(paths, prefix), pc.starts_with(paths, prefix + "/"))
    if kinds is not None:
        wanted = pc.is_in(column(table, "type"), value_set=pa.array(list(kinds), pa.string()))
        mask = pc.and_(mask, wanted)
    return pc.fill_null(mask, False)


def suffixed(paths: pa.Array, suffixes: Iterable[str]) -> pa.Array:
    """The paths that end in one of ``suffixes`` (``.csv`` …), case-insensitively."""
    import re

    words = "|".join(re.escape(s.lstrip(".")) for s in suffixes)
    return paths.filter(pc.match_substring_regex(paths, f"\\.(?:{words})$", ignore_case=True))


def link_paths(table: pa.Table) -> set[str]:
    """The paths of the table's links."""
    kinds = column(table, "type")
    links = column(table, "path").filter(pc.fill_null(pc.equal(kinds, "link"), False))
    return set(links.to_pylist())


def count_files(table: pa.Table) -> int:
    """How many rows are files."""
    return int(pc.sum(pc.fill_null(pc.equal(column(table, "type"), "file"), False)).as_py() or 0)


def file_bytes(table: pa.Table) -> int:
    """The total size of the rows that are files."""
    files = pc.fill_null(pc.equal(column(table, "type"), "file"), False)
    return int(pc.sum(column(table, "size").filter(files)).as_py() or 0)


def chunk_oids(table: pa.Table) -> pa.Array:
    """The unique oids of every chunk of the table's chunked files."""
    chunks = column(table, "chunks")
    if chunks.null_count == len(chunks):
        return pa.array([], pa.string())
    return pc.unique(pc.struct_field(pc.list_flatten(chunks), "oid").drop_null())


def file_storage(table: pa.Table) -> tuple[pa.Array, pa.Table]:
    """Where the files' bytes live: the unique whole objects (loose files and chunks), and the
    packed rows (path, oid, pack, offset, size) whose slices a check verifies one by one."""
    files = table.filter(pc.fill_null(pc.equal(column(table, "type"), "file"), False))
    chunks = files.column("chunks")
    chunks = chunks.combine_chunks() if isinstance(chunks, pa.ChunkedArray) else chunks
    whole = pc.is_null(chunks)
    pack = column(files, "pack")
    packed = pc.and_(whole, pc.is_valid(pack))
    loose = column(files, "oid").filter(pc.and_(whole, pc.is_null(pack))).drop_null()
    parts = [loose]
    if chunks.null_count != len(chunks):
        parts.append(pc.struct_field(pc.list_flatten(chunks), "oid").drop_null())
    wholes = pc.unique(pa.concat_arrays([p.cast(pa.string()) for p in parts]))
    slices = files.filter(packed).select(["path", "oid", "pack", "offset", "size"])
    return wholes, slices
