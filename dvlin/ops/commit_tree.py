"""The new tree of a commit, built from the scan and the parent's manifest by columns.

A commit that changes 0.1% of a million files should not pay for the other 99.9%: the scan's
columns are joined with the stat cache and the parent's manifest on path (Arrow, vectorised),
rows whose oid the cache vouches for and the parent already holds are taken from the parent as
they are (where their bytes live included), and only the other files — new, changed, or not
vouched for — are read, hashed and stored one by one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dvlin.objects.hashing import Oid
from dvlin.objects.manifest import Manifest
from dvlin.progress import Progress
from dvlin.values import sealed
from dvlin.workspace.scan import Columns, Item
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
    """Files not taken from the parent (new, changed, or stored again), with their oids."""
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
    hashed: dict[str, Oid] = {}

    def on_hashed(tag: object, oid: str) -> None:
        item = tag if isinstance(tag, Item) else None
        if item is not None and not is_racy(item.mtime_ns, started_ns):
            hashed[item.path] = Oid(oid)

    ingester.on_hashed = on_hashed
    plain: list[tuple[str, str, int, str | None]] = []
    files = [i for i in others if cols.type[i] == "file"]
    progress.start("committing", files=len(files), bytes=sum(cols.size[i] for i in files))
    for i, oid in zip(others, known_others, strict=True):
        item = cols.item(i)
        if item.type != "file":
            plain.append((item.path, item.type, item.mode, item.target))
            continue
        if oid is None or not ingester.add_known(item.path, item.mode, item.size, oid):
            ingester.add_file(
                os.path.join(base_abs, item.path), item.path, item.mode, item.size, tag=item
            )
        progress.advance(files=1, bytes=item.size)
    stored = ingester.finish()
    progress.finish()
    changed = {e.path: Oid(e.oid) for e in stored if e.oid is not None}

    added = Manifest.from_entries(stored).table
    if plain:
        added = pa.concat_tables(
            [
                added,
                Manifest.from_columns(
                    path=[p[0] for p in plain],
                    type=[p[1] for p in plain],
                    mode=[p[2] for p in plain],
                    size=[0] * len(plain),
                    oid=[None] * len(plain),
                    target=[p[3] for p in plain],
                ).table,
            ]
        )
    table = pa.concat_tables([_plain_types(reused), _plain_types(added)])
    manifest = Manifest.from_columns(**{name: table.column(name) for name in table.column_names})

    oids: list[Oid | None] = known.to_pylist()
    for i in others:
        oids[i] = hashed.get(cols.path[i], oids[i])
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
