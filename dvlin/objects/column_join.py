"""Vectorised joins of two manifests by path: which rows are new, kept, changed or gone (the
diff kernels of :mod:`dvlin.objects.columns`, each with a reference in
:mod:`dvlin.objects.diff`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from dvlin.lean import numpy_blocked
from dvlin.objects.column_base import _bools, _indices, column, same, strings
from dvlin.objects.column_checks import implied_folders

if TYPE_CHECKING:
    from collections.abc import Iterable

    import numpy as np


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
    if len(old) == len(new) and old.equals(new):
        # The same paths (a version whose files only changed content, as most are): every
        # row is its own match, found by one comparison of the two columns' bytes instead of
        # a sort of both (a million paths: ~0.4 s).
        rows = _indices(len(new))
        none = pa.array([], pa.int64())
        return none, rows, rows, none
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
    if _every_row_in_order(old, new, old_rows, new_rows):
        # Row i with row i, every row (the same paths on both sides): the columns are
        # compared as they are, with no copy of the rows taken in order.
        differs = _bools(len(new_rows), False)
        for name in names:
            differs = pc.or_(differs, pc.invert(same(news[name], olds[name])))
        return differs
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


def _every_row_in_order(
    old: pa.Table, new: pa.Table, old_rows: pa.Array, new_rows: pa.Array
) -> bool:
    """True when the pairs are (0, 0), (1, 1) … over every row of both tables."""
    n = len(new_rows)
    if not (n == len(old_rows) == old.num_rows == new.num_rows) or not n:
        return False
    every = _indices(n)
    return bool(new_rows.equals(every) and old_rows.equals(every))


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
