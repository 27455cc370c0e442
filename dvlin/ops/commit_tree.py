"""The new tree of a commit, built from the scan and the parent's manifest by columns.

A commit that changes 0.1% of a million files should not pay for the other 99.9%: the scan's
columns are joined with the stat cache and the parent's manifest on path (Arrow, vectorised),
rows whose oid the cache vouches for and the parent already holds are taken from the parent as
they are (where their bytes live included), and only the other files — new, changed, or not
vouched for — are read, hashed and stored one by one.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dvlin.lean import numpy_blocked
from dvlin.objects.arrays import Int64s
from dvlin.objects.diff import Diff
from dvlin.objects.hashing import Oid
from dvlin.objects.manifest import Manifest
from dvlin.progress import Progress
from dvlin.values import sealed
from dvlin.workspace.scan import Columns
from dvlin.workspace.statcache import StatCache, is_racy

if TYPE_CHECKING:
    import pyarrow as pa

    from dvlin.objects.ingest import Ingester


@sealed
@dataclass(frozen=True, slots=True)
class NewTree:
    """What :func:`build` made."""

    manifest: Manifest
    oids: pa.Array | pa.ChunkedArray
    """Per scanned row, the oid the stat cache may remember (null: racy, vanished, not a
    file), as Arrow strings: a million oids are never Python objects."""
    arrays: dict[str, pa.Array]
    """The scan's columns converted to Arrow on the way (path, type, mode, …), for the stat
    cache's snapshot to reuse."""
    rows: pa.Array | None
    """Where each scanned path sits in the new manifest, when the build knows it for free
    (the paths are the parent's, so their rows are too); None otherwise."""
    changed: dict[str, Oid]
    """Tables and arrays (the files a version describes) not taken from the parent (new,
    changed, or stored again), with their oids."""
    kept: frozenset[str]
    """Of ``wanted``, the paths taken unchanged from the parent."""
    diff: Diff
    """The parent's manifest against the new one (what :func:`diff_manifests` gives)."""


def build(
    cols: Columns,
    cache: StatCache,
    parent: Manifest | Callable[[], Manifest],
    ingester: Ingester,
    *,
    algorithm: str,
    base_abs: str,
    started_ns: int,
    progress: Progress,
    wanted: frozenset[str] = frozenset(),
    parent_tree: str = "",
) -> NewTree:
    """The manifest of the scanned tree; files not vouched for go through ``ingester``.

    ``wanted`` are paths the caller wants to know about (the parent's described files): the
    ones taken unchanged are returned in :attr:`NewTree.kept`. ``parent`` has been validated
    (``load_manifest``); the rows that are not its own are validated here, so the new manifest
    is valid as a whole (the commit records it as checked). ``parent`` may be a function that
    gives it (:func:`~dvlin.ops.manifests.load_manifest_soon`): asked for once the scan has
    been compared with the stat cache.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from dvlin.objects.columns import strings

    n = len(cols)
    paths = pa.array(cols.path, pa.string())
    kinds = pa.array(cols.type, pa.string())
    modes = pa.array(cols.mode, pa.int32())
    arrays = {"path": paths, "type": kinds, "mode": modes}
    known = cache.lookup_array(cols, arrays)
    if cols.oid.count(None) != n:  # links into the store stand for their objects
        known = pc.coalesce(pa.array(cols.oid, pa.string()), known)
    is_file = pc.equal(kinds, "file")
    if callable(parent):
        parent = parent()
    # The parent's row of each scanned path, and only the columns that decide reuse: the
    # parent's rows stay where they are, in path order. The stat cache may know the rows
    # (``parent_tree``'s, when the last commit had the same paths): checked, they save a hash
    # join of every path.
    where = _remembered_rows(cache.parent_rows(cols, parent_tree), paths, parent)
    if where is None:
        where = pc.index_in(paths, value_set=parent.paths())
    reuse = pc.fill_null(
        pc.and_kleene(
            pc.and_kleene(
                is_file, pc.equal(strings(parent.table.column("type")).take(where), "file")
            ),
            pc.equal(strings(parent.table.column("oid")).take(where), known),
        ),
        False,
    )
    reused_count = pc.sum(reuse).as_py() or 0

    # Per-row Python work from here on only for rows not taken from the parent.
    other_rows = pc.indices_nonzero(pc.invert(reuse))
    others = other_rows.to_pylist()
    known_others = known.take(other_rows).to_pylist()
    types, col_paths, col_modes, col_sizes = cols.type, cols.path, cols.mode, cols.size
    plain: list[int] = []
    todo = pc.and_(is_file, pc.invert(reuse))
    reading = pc.sum(todo).as_py() or 0
    if reading >= MANY_FILES:
        _heap_for_many_files()
    progress.start(
        "committing",
        files=reading,
        bytes=sum(col_sizes[i] for i in others if types[i] == "file"),
    )
    prefix = os.path.join(base_abs, "")
    for start in range(0, len(others), LOOK_UP_ROWS):
        rows = others[start : start + LOOK_UP_ROWS]
        knowns = known_others[start : start + LOOK_UP_ROWS]
        # Where the stat cache's oids of these files are stored: one catalog query for them
        # all, not one per file (a few thousand at a time: a million known files would be a
        # million answers held at once).
        ingester.look_up(
            oid
            for i, oid in zip(rows, knowns, strict=True)
            if oid is not None and types[i] == "file"
        )
        for i, oid in zip(rows, knowns, strict=True):
            if types[i] != "file":
                plain.append(i)
                continue
            path, mode, size = col_paths[i], col_modes[i], col_sizes[i]
            if oid is None or not ingester.add_known(path, mode, size, oid):
                ingester.add_file(prefix + path, path, mode, size, tag=i)
            progress.advance(files=1, bytes=size)
    del known_others
    added = ingester.finish_table()
    progress.finish()
    # The hashed oids into the Arrow column now, and their Python objects (a million files:
    # ~200 MB of strings, ints, lists and a dict) freed before the rows are merged, validated,
    # diffed and written, which is when the commit's memory peaks.
    oids = _with_oids(known, *_fresh(ingester, cols.mtime_ns, started_ns))
    plain_rows = [(col_paths[i], types[i], col_modes[i], cols.target[i]) for i in plain]
    del others, plain
    changed = _described(added)

    fresh = Manifest(added)  # finish_table's rows are sorted and in the on-disk schema
    if plain_rows:
        # The folders and links (a few, sorted here) merged into the sorted file rows: not
        # all rows concatenated and sorted again (a first commit of a million files: two more
        # copies of every row, and every type as a Python string).
        folders = Manifest.from_columns(
            path=[r[0] for r in plain_rows],
            type=[r[1] for r in plain_rows],
            mode=[r[2] for r in plain_rows],
            size=[0] * len(plain_rows),
            oid=[None] * len(plain_rows),
            target=[r[3] for r in plain_rows],
        )
        fresh = Manifest(_merge(added, folders.table).combine_chunks())
        del folders
    del added
    # The parent's rows passed validation; the new rows are checked here, and the whole for
    # what no row shows alone (a path twice, a path under a link).
    fresh.validate(algorithm)
    # One copy of the merged rows, so every column is one array for what follows (digest,
    # structure checks, the Parquet writer).
    manifest = fresh
    if reused_count:
        table = None
        if n == len(parent) == reused_count + len(fresh) and where.null_count == 0:
            # The parent's paths, one scanned row each: its table with the new rows in place.
            table = _in_place(parent, fresh.table, where, modes, other_rows)
        if table is None:
            reused = _reused(parent, where.filter(reuse), modes.filter(reuse))
            table = _merge(reused, fresh.table).combine_chunks()
            del reused
        manifest = Manifest(table)
        del table
        manifest.validate_structure()

    kept: frozenset[str] = frozenset()
    if wanted:
        asked = pa.array(sorted(wanted), pa.string())
        kept = frozenset(asked.filter(pc.is_in(asked, value_set=paths.filter(reuse))).to_pylist())
    # Where each fresh row that is not a new path was in the parent (a first commit: none).
    matched = where.take(other_rows)
    at = pc.indices_nonzero(pc.is_valid(matched))
    previous = dict(
        zip(
            [col_paths[i] for i in other_rows.take(at).to_pylist()],
            matched.take(at).to_pylist(),
            strict=True,
        )
    )
    diff = _diff(parent, fresh, where, reuse, modes, previous)
    # Every scanned path in the parent, one row each, and as many rows as the parent's: the
    # new manifest lists the parent's paths, so each path keeps its row.
    same_paths = n == len(parent) == len(manifest) and where.null_count == 0
    return NewTree(manifest, oids, arrays, where if same_paths else None, changed, kept, diff)


WRITE_BESIDE_FROM = 1_000
"""From this many rows, :func:`parquet_soon` writes the manifest in a thread of its own. It was
50,000; from 1,000 a 20,000-file first commit took 0.688 s instead of 0.727 s (medians of eight
alternated rounds): the writer overlaps the digest, the stat-cache snapshot and the
description. A smaller manifest is written when asked."""


def parquet_soon(manifest: Manifest) -> Callable[[], bytes]:
    """The manifest's Parquet bytes, to be asked for later; all but a tiny one are written now,
    in a thread, while the caller digests the tree (two passes over every row, each on a core of
    its own: the writer and the digest's kernels run without the GIL). The same bytes as
    :meth:`Manifest.to_parquet`, which a small manifest calls when asked."""
    if len(manifest) < WRITE_BESIDE_FROM:
        return manifest.to_parquet
    from dvlin.ops.manifests import in_thread

    return in_thread(manifest.to_parquet, "dvlin-manifest-write")


LOOK_UP_ROWS = 4096
"""Rows of :func:`build` whose known oids are looked up in the catalog in one go."""

MANY_FILES = 100_000
"""From this many files to read, :func:`_heap_for_many_files` tunes glibc's allocator."""


def _heap_for_many_files() -> None:
    """Freed memory goes back to the system while a commit reads many small files.

    glibc raises its threshold for ``mmap`` to the size of each big block freed (a list of a
    million slots), and blocks below it then come from the heap, where the small files' bytes
    (freed once their pack is written) and the long-lived rows interleave: memory freed there
    is kept. A fixed threshold (glibc's default, 128 KiB) keeps big blocks out of the heap
    (a million files: ~85-130 MB less at the peak). Only for many files: a big file's read
    windows would be mapped afresh each time.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return
    m_mmap_threshold = -3
    mallopt(m_mmap_threshold, 128 * 1024)


def _remembered_rows(rows: pa.Array | None, paths: pa.Array, parent: Manifest) -> pa.Array | None:
    """The stat cache's parent rows of the scanned ``paths``, if each points at its own path
    in ``parent`` (one ``take`` and a comparison, not a hash join); None otherwise."""
    import pyarrow as pa

    if rows is None or len(rows) != len(paths) or rows.null_count:
        return None
    try:
        found = parent.paths().take(rows)
    except (pa.ArrowException, IndexError):
        return None  # a row past the parent's end: not this parent's rows
    return rows if found.equals(paths) else None


def _fresh(ingester: Ingester, mtimes: Int64s, started_ns: int) -> tuple[list[int], list[Oid]]:
    """The rows the ingester hashed that the stat cache may vouch for, in order, and their
    oids; empties the ingester's lists (a million files: their objects are freed here)."""
    tags, hashed = ingester.hashed_tags, ingester.hashed_oids
    ingester.hashed_tags, ingester.hashed_oids = [], []
    rows: list[int] = []
    oids: list[Oid] = []
    for i, oid in zip(tags, hashed, strict=True):
        assert isinstance(i, int)
        # A file changed within the clock's granularity of the scan could change again
        # unseen: the cache does not vouch for it.
        if not is_racy(mtimes[i], started_ns):
            rows.append(i)
            oids.append(oid)
    del tags, hashed
    if rows != sorted(rows):  # a big file is reported before the small ones queued ahead
        pairs = sorted(zip(rows, oids, strict=True))
        rows, oids = [r for r, _ in pairs], [o for _, o in pairs]
    return rows, oids


def _with_oids(known: pa.Array, rows: list[int], fresh: list[Oid]) -> pa.Array | pa.ChunkedArray:
    """``known`` with ``rows`` (ascending, each once) replaced by the oids ``fresh``.

    The runs of ``known`` between those rows go through as slices, not copied (a commit that
    hashed 1,000 files of a million copied ~40 MB of oids here): a chunked array, which the
    stat cache compares and writes as it is.
    """
    import pyarrow as pa

    if not fresh:
        return known
    if len(fresh) * 8 > len(known):
        return _replaced(known, rows, fresh)  # most rows hashed (a first commit): one copy
    pieces: list[pa.Array] = []
    previous = 0
    starts = [i for i in range(len(rows)) if not i or rows[i] != rows[i - 1] + 1]
    for first, last in zip(starts, [*starts[1:], len(rows)], strict=True):
        if rows[first] > previous:
            pieces.append(known.slice(previous, rows[first] - previous))
        pieces.append(pa.array(fresh[first:last], pa.string()))
        previous = rows[last - 1] + 1
    if previous < len(known):
        pieces.append(known.slice(previous))
    return pa.chunked_array(pieces, pa.string())


def _replaced(known: pa.Array, rows: list[int], fresh: list[Oid]) -> pa.Array:
    """``known`` with ``rows`` (ascending) replaced by ``fresh``, copied once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if numpy_blocked():  # a small tree (dvlin.lean)
        flags = [False] * len(known)
        for row in rows:
            flags[row] = True
        mask = pa.array(flags, pa.bool_())
    else:
        import numpy as np

        marks = np.zeros(len(known), dtype=bool)
        marks[rows] = True
        mask = pa.array(marks)
    return pc.replace_with_mask(known, mask, pa.array(fresh, pa.string()))


def _in_place(
    parent: Manifest, fresh: pa.Table, where: pa.Array, modes: pa.Array, others: pa.Array
) -> pa.Table | None:
    """The new manifest when the scan has exactly the parent's paths (``where``: each scanned
    row's parent row, every parent row once) and ``fresh`` holds the rows not taken from the
    parent (the scan's rows ``others``): the parent's table with those rows put in place,
    column by column, and a column no fresh row changes (the paths always) not copied.

    The same table :func:`_merge` then one copy make (the Parquet bytes too); None when this
    way does not apply (a mode changed on a kept row, a type changed, a small tree without
    NumPy): the caller merges.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from dvlin.objects.columns import strings

    if numpy_blocked():
        return None
    import numpy as np

    table = parent.table
    mode = table.column("mode")
    if not pc.all(pc.equal(mode.take(where), modes)).as_py():
        return None  # a kept file's mode changed: the merge sets the modes
    at_np = np.sort(where.take(others).to_numpy(zero_copy_only=False))
    at = pa.array(at_np)
    if not parent.paths().take(at).equals(_one(fresh.column("path"))):
        return None
    marks = np.zeros(len(table), dtype=bool)
    marks[at_np] = True
    mask = pa.array(marks)
    arrays = []
    for field in table.schema:
        old = _one(table.column(field.name))
        new = _one(fresh.column(field.name))
        if field.name == "type":
            if not strings(old.take(at)).equals(strings(new)):
                return None  # a path changed type: the merge re-encodes the dictionary
            arrays.append(old)
            continue
        if new.type != old.type:
            new = new.cast(old.type)
        if old.take(at).equals(new):
            arrays.append(old)
            continue
        try:
            arrays.append(pc.replace_with_mask(old, mask, new))
        except pa.ArrowNotImplementedError:  # lists (chunks): one take over both
            index = np.arange(len(table), dtype=np.int64)
            index[at_np] = len(table) + np.arange(len(at_np), dtype=np.int64)
            arrays.append(pa.concat_arrays([old, new]).take(pa.array(index)))
    return pa.Table.from_arrays(arrays, schema=table.schema)


def _one(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A column as one array."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _reused(parent: Manifest, rows: pa.Array, modes: pa.Array) -> pa.Table:
    """The parent's ``rows`` (each at most once), in the parent's (path) order, with ``modes``
    (given in the order of ``rows``) as their new modes.

    The rows go through as slices of the parent's table, runs between the rows left out, not
    copied: the merged table is copied once, whole, after the new rows are in place.
    """
    import pyarrow as pa

    table = parent.table
    if not len(rows):
        return table.slice(0, 0)
    index = table.schema.get_field_index("mode")
    field = table.schema.field(index)
    if numpy_blocked():  # a small tree (dvlin.lean): plain lists, then one filter
        keep_list, modes_list = [False] * len(table), [0] * len(table)
        for row, mode in zip(rows.to_pylist(), modes.to_pylist(), strict=True):
            keep_list[row], modes_list[row] = True, mode
        table = table.set_column(index, field, pa.array(modes_list, field.type))
        return table.filter(pa.array(keep_list, pa.bool_()))
    import numpy as np

    at = rows.to_numpy()
    keep = np.zeros(len(table), dtype=bool)
    keep[at] = True
    new_modes = np.zeros(len(table), dtype=np.int32)
    new_modes[at] = modes.to_numpy()
    table = table.set_column(index, field, pa.array(new_modes))
    edges = np.flatnonzero(np.diff(keep.astype(np.int8), prepend=0, append=0))
    starts, ends = edges[0::2], edges[1::2]
    if len(starts) > max(len(table) // 64, 1024):
        return table.filter(pa.array(keep))  # scattered: slicing would cost more than copying
    return pa.concat_tables(
        [table.slice(s, e - s) for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    )


def _merge(old: pa.Table, new: pa.Table) -> pa.Table:
    """Two tables sorted by path with no path in both, as one sorted table (no full sort).

    Each new row's place among the old ones comes from a binary search run on all new rows
    at once (a few ``take`` and ``less`` calls over the new rows per halving); the old rows
    go through in runs, sliced, not copied, between the new ones.
    """
    import pyarrow as pa

    from dvlin.objects.columns import insertion_points

    if not len(new):
        return old
    at = insertion_points(old.column("path"), new.column("path"))
    new = new.cast(old.schema)
    pieces = []
    previous, j = 0, 0
    # Runs of new rows that go between the same two old rows are sliced together.
    starts: list[int]
    if isinstance(at, list):  # without NumPy (dvlin.lean)
        starts = [i for i in range(len(at)) if not i or at[i] != at[i - 1]]
    else:
        import numpy as np

        starts = np.flatnonzero(np.diff(at, prepend=-1)).tolist() if len(at) else []
    ends = [*starts[1:], len(at)]
    for first, last in zip(starts, ends, strict=True):
        place = int(at[first])
        if place > previous:
            pieces.append(old.slice(previous, place - previous))
        pieces.append(new.slice(first, last - first))
        previous = place
        j = last
    if previous < len(old):
        pieces.append(old.slice(previous))
    assert j == len(new)
    return pa.concat_tables(pieces)


def _diff(
    parent: Manifest,
    fresh: Manifest,
    where: pa.Array,
    reuse: pa.Array,
    modes: pa.Array,
    previous: dict[str, int],
) -> Diff:
    """The parent against the new tree from what the build knows: the reused rows differ at
    most in mode, every other scanned row is one of ``fresh``'s, and a parent row no scanned
    row points at was removed. The paths are :func:`diff_entries`'s."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from dvlin.objects import columns

    table = parent.table
    if numpy_blocked():  # a small tree (dvlin.lean): the same rows by a hash lookup
        every = pa.array(range(len(table)), pa.int64())
        removed = every.filter(
            pc.invert(pc.is_in(every, value_set=where.drop_null().cast(pa.int64())))
        )
    else:
        import numpy as np

        hit = np.zeros(len(table), dtype=bool)
        hit[where.drop_null().to_numpy()] = True
        removed = pa.array(np.flatnonzero(~hit))
    removed = removed.filter(
        pc.invert(
            columns.implied_folders(
                parent.paths().take(removed), columns.column(table, "type").take(removed)
            )
        )
    )
    # Reused rows: the same content unless the mode changed.
    rows = where.filter(reuse)
    mode_changed = pc.not_equal(columns.column(table, "mode").take(rows), modes.filter(reuse))
    moded = rows.filter(pc.fill_null(mode_changed, True))
    # Fresh rows: new paths (added), or in the parent with other content (changed).
    fresh_paths = fresh.paths()
    if previous:
        before = pa.array([previous.get(p) for p in fresh_paths.to_pylist()], pa.int64())
    else:
        before = pa.nulls(len(fresh_paths), pa.int64())
    is_new = pc.is_null(before)
    added = pc.indices_nonzero(is_new)
    added = added.filter(
        pc.invert(
            columns.implied_folders(
                fresh_paths.take(added), columns.column(fresh.table, "type").take(added)
            )
        )
    )
    matched = pc.indices_nonzero(pc.invert(is_new))
    differs = columns.differing(
        table,
        fresh.table,
        before.filter(pc.invert(is_new)),
        matched,
        ("type", "mode", "oid", "target"),
    )
    changed = pa.concat_arrays(
        [fresh_paths.take(matched.filter(differs)), parent.paths().take(moded)]
    )
    return Diff(
        tuple(fresh_paths.take(added).to_pylist()),
        tuple(sorted(changed.to_pylist())),
        tuple(parent.paths().take(removed).to_pylist()),
    )


def _described(added: object) -> dict[str, Oid]:
    """Of the files ``added`` lists, the tables and arrays (by name), with their oids."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from dvlin.inspect.tables import TABLE_SUFFIXES, is_described
    from dvlin.objects.columns import strings

    assert isinstance(added, pa.Table)
    if not added.num_rows:
        return {}
    words = "|".join(re.escape(s.lstrip(".")) for s in [*TABLE_SUFFIXES, "npy"])
    paths = added.column("path")
    mask = pc.and_(
        pc.match_substring_regex(paths, f"\\.(?:{words})$", ignore_case=True),
        pc.equal(strings(added.column("type")), "file"),
    )
    rows = added.filter(mask)
    return {
        p: Oid(o)
        for p, o in zip(
            rows.column("path").to_pylist(), rows.column("oid").to_pylist(), strict=True
        )
        if o is not None and is_described(p)
    }
