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

from array import array
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from dvlin.lean import numpy_blocked
from dvlin.objects.hashing import digest_length, hasher_factory

if TYPE_CHECKING:
    from collections.abc import Iterable

    import numpy as np

# The reference `_UNSAFE_PATH` in RE2 syntax: RE2 has no `\Z`, and its `$` (without the m flag)
# matches only at the very end of the text, as Python's `\Z` does.
UNSAFE_PATH_RE2 = r"^$|^/|//|/$|(?:^|/)\.{1,2}(?:/|$)|[\\\x00]"

TYPES = ("file", "dir", "link")


def _bools(n: int, value: bool) -> pa.Array:
    """``n`` times ``value`` as a boolean array (straight from a buffer: no NumPy, no loop)."""
    bits = pa.py_buffer((b"\xff" if value else b"\x00") * ((n + 7) // 8))
    return pa.Array.from_buffers(pa.bool_(), n, [None, bits])


def _indices(n: int) -> pa.Array:
    """``0 … n-1`` as an int64 array."""
    if numpy_blocked():
        return pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(array("q", range(n)))])
    import numpy as np

    return pa.array(np.arange(n, dtype=np.int64))


def strings(column: Any) -> pa.Array:
    """One string (or binary) array from a column, chunked or not, dictionary decoded."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column


def column(table: pa.Table, name: str) -> pa.Array:
    """A table's column as one array (dictionaries decoded)."""
    return strings(table.column(name))


def same(a: Any, b: Any) -> pa.Array:
    """Element-wise equality where two nulls are equal (Python's ``None == None``)."""
    eq = pc.fill_null(pc.equal(a, b), False)
    return pc.or_(eq, pc.and_(pc.is_null(a), pc.is_null(b)))


def first_true(mask: Any) -> int | None:
    """Index of the first true value of a boolean array (nulls count as false), or None."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return None
    return int(pc.index(mask, True).as_py())


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


def digest(table: pa.Table, algorithm: str) -> str:
    """``tree_digest`` over the table's rows, byte for byte, hashing Arrow's data buffer."""
    lines = digest_lines(table).cast(pa.binary())
    paths = column(table, "path")
    # Lines sort as their paths do when paths are unique and hold no NUL (the path ends at
    # the first NUL of its line); otherwise sort the lines themselves, as the reference does.
    if not (is_sorted_unique(paths) and not pc.any(pc.match_substring(paths, "\0")).as_py()):
        lines = lines.take(pc.sort_indices(lines))
    h = hasher_factory(algorithm)()
    if len(lines):
        _, offsets_buffer, data = lines.buffers()
        offsets = memoryview(offsets_buffer).cast("B").cast("i")
        start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
        if data is not None:
            h.update(memoryview(data)[start:end])
    return h.hexdigest()[:32]


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


MERGE_BYTES = 64 << 20
"""Most bytes the padded copy of both path columns may take in :func:`match_paths` (a few long
paths widen every row; past this the hash join is used)."""


def _fixed_width(parts: list[pa.Array]) -> np.ndarray | None:
    """The path columns, one after the other, as one zero-padded NumPy bytes array (``S<w>``).

    NumPy compares ``S`` values as unsigned bytes, the manifest's path order. None when some
    path is null or holds a NUL (it would compare equal to padding), or when a few long paths
    would make the array too wide (see :data:`MERGE_BYTES`).
    """
    import numpy as np

    rows = sum(len(part) for part in parts)
    width, total = 0, 0
    for part in parts:
        if part.null_count:
            return None
        lengths = pc.binary_length(part)
        width = max(width, int(pc.max(lengths).as_py() or 0))
        total += int(pc.sum(lengths).as_py() or 0)
    if width == 0 or width * rows > max(MERGE_BYTES, 3 * total):
        return None
    out = np.empty(rows, dtype=f"S{width}")
    at = 0
    for part in parts:
        offsets = np.frombuffer(part.buffers()[1], dtype=np.int32)
        data = part.buffers()[2]
        start, end = int(offsets[part.offset]), int(offsets[part.offset + len(part)])
        if data is None or not np.all(np.frombuffer(data, dtype=np.uint8)[start:end]):
            return None  # a NUL, or an empty path (np.all: 10x faster than pc.match_substring)
        # A slice at a time, straight into the result: the peak stays near one copy.
        for first in range(0, len(part), PAIRS_PER_STEP):
            padded = pc.ascii_rpad(part.slice(first, PAIRS_PER_STEP), width=width, padding="\0")
            offsets = np.frombuffer(padded.buffers()[1], dtype=np.int32)
            start, end = int(offsets[padded.offset]), int(offsets[padded.offset + len(padded)])
            if end - start != width * len(padded):
                return None
            out[at : at + len(padded)] = np.frombuffer(
                padded.buffers()[2], dtype=f"S{width}", count=len(padded), offset=start
            )
            at += len(padded)
    return out


def _merge_paths(old: pa.Array, new: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """(old row, new row) of each path in both, by a stable sort of the two columns together.

    Two sorted columns are two runs: NumPy's stable sort (timsort for bytes) merges them in
    linear time, where a hash join of 1M paths costs about twice as much. None when the
    columns are not fit for it (too wide, a NUL, a path twice on one side): the caller joins
    by hashing instead.
    """
    import numpy as np

    both = _fixed_width([strings(old), strings(new)])
    if both is None:
        return None
    order = np.argsort(both, kind="stable")
    n_old = len(old)
    # Equal paths end up side by side, the old row first (the sort is stable); compared a
    # slice at a time so the sorted copy never exists whole.
    equal = np.zeros(max(len(order) - 1, 0), dtype=bool)
    for at in range(0, len(equal), PAIRS_PER_STEP):
        sorted_slice = both[order[at : at + PAIRS_PER_STEP + 1]]
        equal[at : at + len(sorted_slice) - 1] = sorted_slice[:-1] == sorted_slice[1:]
    del both
    first, second = order[:-1][equal], order[1:][equal]
    if not (np.all(first < n_old) and np.all(second >= n_old)):
        return None  # a path twice on one side: the hash join says which row is meant
    new_rows = second - n_old
    if len(new_rows) > 1 and not np.all(new_rows[1:] > new_rows[:-1]):
        by_new = np.argsort(new_rows, kind="stable")
        first, new_rows = first[by_new], new_rows[by_new]
    return first.astype(np.int64), new_rows.astype(np.int64)


def match_paths(old: pa.Array, new: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """Join two unique path columns: (only in new, in both: new rows, old rows, only in old)."""
    lean = numpy_blocked()
    merged = _merge_paths(old, new) if len(old) >= 2 and len(new) >= 2 and not lean else None
    if lean:  # the same answer as the hash join below, on Arrow alone
        where = pc.index_in(new, value_set=old)
        in_old = pc.is_valid(where)
        indices = _indices(len(new))
        previous = where.filter(in_old).cast(pa.int64())
        every_old = _indices(len(old))
        return (
            indices.filter(pc.invert(in_old)),
            indices.filter(in_old),
            previous,
            every_old.filter(pc.invert(pc.is_in(every_old, value_set=previous))),
        )
    import numpy as np

    if merged is not None:
        old_rows, new_rows = merged
        in_new = np.zeros(len(new), dtype=bool)
        in_new[new_rows] = True
        kept = np.zeros(len(old), dtype=bool)
        kept[old_rows] = True
        return (
            pa.array(np.flatnonzero(~in_new).astype(np.int64)),
            pa.array(new_rows),
            pa.array(old_rows),
            pa.array(np.flatnonzero(~kept).astype(np.int64)),
        )
    where = pc.index_in(new, value_set=old)
    in_old = pc.is_valid(where)
    indices = pa.array(np.arange(len(new), dtype=np.int64))
    previous = where.filter(in_old).cast(pa.int64())
    kept = np.zeros(len(old), dtype=bool)
    kept[previous.to_numpy()] = True
    return (
        indices.filter(pc.invert(in_old)),
        indices.filter(in_old),
        previous,
        pa.array(np.flatnonzero(~kept).astype(np.int64)),
    )


PAIRS_PER_STEP = 1 << 18
"""Matched rows compared per step: bounds the copies that ``take`` makes of each column."""


def differing(
    old: pa.Table, new: pa.Table, old_rows: pa.Array, new_rows: pa.Array, names: Iterable[str]
) -> pa.Array:
    """A mask over matched row pairs: true where any of the named columns differ."""
    olds = {name: column(old, name) for name in names}
    news = {name: column(new, name) for name in names}
    # A column null on both sides (link targets in a tree without links) cannot differ.
    names = [
        n for n in olds if olds[n].null_count != len(olds[n]) or news[n].null_count != len(news[n])
    ]
    steps = []
    for start in range(0, len(new_rows), PAIRS_PER_STEP):
        a_rows = new_rows.slice(start, PAIRS_PER_STEP)
        b_rows = old_rows.slice(start, PAIRS_PER_STEP)
        differs = _bools(len(a_rows), False)
        for name in names:
            same_here = same(news[name].take(a_rows), olds[name].take(b_rows))
            differs = pc.or_(differs, pc.invert(same_here))
        steps.append(differs)
    return pa.concat_arrays(steps) if steps else pa.array([], pa.bool_())


def changed_rows(old: pa.Table, new: pa.Table) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Row indices of added (in ``new``), changed (in ``new``) and removed (in ``old``) paths.

    Both tables are sorted with unique paths. Added and removed folders implied by a path
    listed inside them are left out, as ``diff_entries`` does.
    """
    old_paths, new_paths = column(old, "path"), column(new, "path")
    added, both, previous, removed = match_paths(old_paths, new_paths)
    changed = both.filter(differing(old, new, previous, both, ("type", "mode", "oid", "target")))
    added = added.filter(
        pc.invert(implied_folders(new_paths.take(added), column(new, "type").take(added)))
    )
    removed = removed.filter(
        pc.invert(implied_folders(old_paths.take(removed), column(old, "type").take(removed)))
    )
    return added, changed, removed


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
