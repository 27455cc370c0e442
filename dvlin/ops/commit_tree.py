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
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dvlin.objects.hashing import Oid
from dvlin.objects.manifest import Manifest
from dvlin.progress import Progress
from dvlin.values import sealed
from dvlin.workspace.scan import Columns
from dvlin.workspace.statcache import StatCache, is_racy

if TYPE_CHECKING:
    from dvlin.objects.ingest import Ingester


@sealed
@dataclass(frozen=True, slots=True)
class NewTree:
    """What :func:`build` made."""

    manifest: Manifest
    oids: list[Oid | None]
    """Per scanned row, the oid the stat cache may remember (None: racy, vanished, not a file)."""
    changed: dict[str, Oid]
    """Tables and arrays (the files a version describes) not taken from the parent (new,
    changed, or stored again), with their oids."""
    kept: frozenset[str]
    """Of ``wanted``, the paths taken unchanged from the parent."""


def build(
    cols: Columns,
    cache: StatCache,
    parent: Manifest,
    ingester: Ingester,
    *,
    base_abs: str,
    started_ns: int,
    progress: Progress,
    wanted: frozenset[str] = frozenset(),
) -> NewTree:
    """The manifest of the scanned tree; files not vouched for go through ``ingester``.

    ``wanted`` are paths the caller wants to know about (the parent's described files): the
    ones taken unchanged are returned in :attr:`NewTree.kept`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from dvlin.objects.columns import strings

    n = len(cols)
    paths = pa.array(cols.path, pa.string())
    kinds = pa.array(cols.type, pa.string())
    known = cache.lookup_array(cols, paths)
    if cols.oid.count(None) != n:  # links into the store stand for their objects
        known = pc.coalesce(pa.array(cols.oid, pa.string()), known)
    is_file = pc.equal(kinds, "file")
    parent_rows = parent.table.take(pc.index_in(paths, value_set=parent.paths()))
    reuse = pc.fill_null(
        pc.and_kleene(
            pc.and_kleene(is_file, pc.equal(strings(parent_rows.column("type")), "file")),
            pc.equal(strings(parent_rows.column("oid")), known),
        ),
        False,
    )
    modes = pa.array(cols.mode, pa.int32())
    reused = parent_rows.filter(reuse)
    reused = reused.set_column(reused.schema.get_field_index("mode"), "mode", modes.filter(reuse))

    # Per-row Python work from here on only for rows not taken from the parent.
    others = pc.indices_nonzero(pc.invert(reuse)).to_pylist()
    known_others = known.take(pa.array(others, pa.int64())).to_pylist()
    types, col_paths, col_modes, col_sizes = cols.type, cols.path, cols.mode, cols.size
    plain: list[int] = []
    todo = pc.and_(is_file, pc.invert(reuse))
    progress.start(
        "committing",
        files=pc.sum(todo).as_py() or 0,
        bytes=pc.sum(pa.array(col_sizes, pa.int64()).filter(todo)).as_py() or 0,
    )
    prefix = os.path.join(base_abs, "")
    for i, oid in zip(others, known_others, strict=True):
        if types[i] != "file":
            plain.append(i)
            continue
        path, mode, size = col_paths[i], col_modes[i], col_sizes[i]
        if oid is None or not ingester.add_known(path, mode, size, oid):
            ingester.add_file(prefix + path, path, mode, size, tag=i)
        progress.advance(files=1, bytes=size)
    added = ingester.finish_table()
    progress.finish()

    if plain:
        added = pa.concat_tables(
            [
                _plain_types(added),
                _plain_types(
                    Manifest.from_columns(
                        path=[col_paths[i] for i in plain],
                        type=[types[i] for i in plain],
                        mode=[col_modes[i] for i in plain],
                        size=[0] * len(plain),
                        oid=[None] * len(plain),
                        target=[cols.target[i] for i in plain],
                    ).table
                ),
            ]
        )
    if len(reused):
        table = pa.concat_tables([_plain_types(reused), _plain_types(added)])
        manifest = Manifest.from_columns(
            **{name: table.column(name) for name in table.column_names}
        )
    elif plain:
        manifest = Manifest.from_columns(**{n: added.column(n) for n in added.column_names})
    else:
        manifest = Manifest(added)  # finish_table's rows are sorted and in the on-disk schema

    oids: list[Oid | None] = known.to_pylist()
    mtimes = cols.mtime_ns
    for i, oid in zip(ingester.hashed_tags, ingester.hashed_oids, strict=True):
        assert isinstance(i, int)
        # A file changed within the clock's granularity of the scan could change again
        # unseen: the cache does not vouch for it.
        if not is_racy(mtimes[i], started_ns):
            oids[i] = oid
    changed = _described(added)
    kept: frozenset[str] = frozenset()
    if wanted:
        asked = pa.array(sorted(wanted), pa.string())
        kept = frozenset(asked.filter(pc.is_in(asked, value_set=paths.filter(reuse))).to_pylist())
    return NewTree(manifest, oids, changed, kept)


def _plain_types(table: object) -> object:
    """A manifest table with its dictionary ``type`` column decoded (tables concatenate)."""
    import pyarrow as pa

    from dvlin.objects.columns import strings

    assert isinstance(table, pa.Table)
    at = table.schema.get_field_index("type")
    return table.set_column(at, "type", strings(table.column("type")))


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
