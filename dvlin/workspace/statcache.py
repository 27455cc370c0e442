"""The stat cache: skip re-reading files whose size, mtime and inode have not changed.

The rows of the last scan of each asset layout, with the oid each file hashed to, kept in a
memory-mapped Arrow file (:mod:`dvlin.workspace.statfile` has the format). When every file has
an oid the cache also records the tree digest those rows make, so a scan whose columns equal
the cached ones is that tree — a clean ``dvlin status`` builds no per-file object and reads no
manifest.

Repos from before kept one SQLite row per path (table ``stat_cache``); those rows are read
when a layout has no file yet, and the next save writes the file. The table is no longer
written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

from dvlin.faults import IN_STATCACHE, pause_point
from dvlin.objects.hashing import Oid
from dvlin.workspace import statfile
from dvlin.workspace.scan import Columns, Item
from dvlin.workspace.statfile import CACHE_FORMAT, FOLDER, cache_file, fingerprint, prune

if TYPE_CHECKING:
    import pyarrow as pa

# A file modified within one clock tick of being hashed could change again without its mtime
# moving. Rows are only saved once the mtime is safely in the past: 50 ms covers the kernel's
# coarse file clock; filesystems that keep whole seconds (FAT, some network mounts) need 2 s.
_RACY_NS = 50_000_000
_RACY_COARSE_NS = 2_000_000_000

DELTA_SHARE = 1 / 16
"""A save writes the rows that differ from the rows file as a delta while they are at most
this share of it; past it the file is rewritten whole (and the delta dropped)."""

__all__ = [
    "CACHE_FORMAT",
    "FOLDER",
    "StatCache",
    "StatRows",
    "cache_file",
    "fingerprint",
    "is_racy",
    "prune",
    "repo_path",
]


class StatRows(Protocol):
    """Where stat-cache rows of repos from before the columnar file were kept (the catalog)."""

    def stat_rows(self, prefix: str) -> dict[str, tuple[int, int, int, Oid]]:
        """Rows ``path → (size, mtime_ns, inode, oid)`` under ``prefix``."""


def repo_path(base: str, path: str) -> str:
    """A path relative to an asset's base, as a path relative to the repo root."""
    return path if base in ("", ".") else f"{base}/{path}"


def is_racy(mtime_ns: int, hashed_at_ns: int) -> bool:
    """True when a file's mtime is too recent, at hashing time, to vouch for its content."""
    margin = _RACY_COARSE_NS if mtime_ns % 1_000_000_000 == 0 else _RACY_NS
    return mtime_ns >= hashed_at_ns - margin


class StatCache:
    """The stat cache of one layout, plus the hashes found this run.

    ``dvlin_dir`` None (``checkout --to`` elsewhere) or ``enabled=False`` make a cache that
    knows and remembers nothing.
    """

    def __init__(
        self,
        dvlin_dir: str | os.PathLike[str] | None,
        catalog: StatRows | None,
        base: str,
        roots: Sequence[str] = (".",),
        *,
        algorithm: str = "",
        enabled: bool = True,
    ) -> None:
        self.base = base
        self.roots = tuple(roots)
        self.algorithm = algorithm
        self.enabled = enabled and dvlin_dir is not None
        self.file = cache_file(dvlin_dir, base, self.roots) if dvlin_dir is not None else None
        self._catalog = catalog
        self._table: pa.Table | None = None
        self._base: pa.Table | None = None
        """The rows file as read, without its delta (what a new delta is taken against)."""
        self._loaded = False
        self.tree = ""
        """The tree digest a scan with fingerprint ``self.scanned`` makes, or ""."""
        self.scanned = ""
        self._legacy: dict[str, tuple[int, int, int, Oid]] | None = None
        self._index: dict[str, int] | None = None
        self.updates: dict[str, tuple[Item, Oid]] = {}
        self._snapshot: _Snapshot | None = None
        self._seen: tuple[Columns, str] | None = None
        self._aligned: Columns | None = None
        """The scan :meth:`lookup_array` found row for row in the cached table."""
        """The last scan fingerprinted, and its fingerprint (a commit asks twice)."""
        if self.enabled:
            self.scanned, self.tree = statfile.read_head(self.head, self.algorithm)

    # -- reading ---------------------------------------------------------------------------

    @property
    def head(self) -> Path:
        """The small file saying which tree a scan fingerprint stands for."""
        assert self.file is not None
        return self.file.with_suffix(".tree")

    @property
    def table(self) -> pa.Table | None:
        """The cached rows (memory-mapped), read on first use; None when there are none."""
        if not self._loaded and self.enabled:
            self._loaded = True
            self._load(self._catalog)
        return self._table

    def _load(self, catalog: StatRows | None) -> None:
        assert self.file is not None
        self._table, found = statfile.read_rows(self.file, self.algorithm)
        self._base = self._table
        if self._table is not None:
            self._table = statfile.read_delta(self.file, self._table) or self._table
        if not found and catalog is not None:
            # A repo from before the columnar cache: its SQLite rows still vouch for files.
            prefix = "" if self.base in ("", ".") else self.base
            rows = catalog.stat_rows(prefix)
            if rows:
                cut = len(prefix) + 1 if prefix else 0
                self._legacy = {p[cut:]: r for p, r in rows.items()}

    def fingerprint(self, cols: Columns) -> str:
        """:func:`fingerprint` of a scan, taken once per scan."""
        if self._seen is None or self._seen[0] is not cols:
            self._seen = (cols, fingerprint(cols))
        return self._seen[1]

    def matches(self, cols: Columns) -> bool:
        """True when a scan is the one the cache vouches for (so it is ``self.tree``)."""
        return bool(self.tree) and self.fingerprint(cols) == self.scanned

    def lookup_all(self, cols: Columns) -> list[Oid | None]:
        """For each scanned row, the oid the cache vouches for, or None (hash it)."""
        if self.table is not None and self.table.num_rows:
            return self.lookup_array(cols).to_pylist()  # type: ignore[no-any-return]
        if self._legacy:
            rows = self._legacy
            found: list[Oid | None] = [None] * len(cols)
            for i, path in enumerate(cols.path):
                row = rows.get(path)
                if (
                    row is not None
                    and cols.type[i] == "file"
                    and row[0] == cols.size[i]
                    and row[1] == cols.mtime_ns[i]
                    and row[2] == cols.inode[i]
                ):
                    found[i] = row[3]
            return found
        return [None] * len(cols)

    def lookup_array(self, cols: Columns, arrays: dict[str, pa.Array] | None = None) -> pa.Array:
        """:meth:`lookup_all` as an Arrow string array.

        ``arrays`` holds the scan's columns already in Arrow (by name); the ones converted
        here are added to it, for :meth:`snapshot` to reuse.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        arrays = {} if arrays is None else arrays
        table = self.table
        if table is None or not table.num_rows:
            return pa.array(self.lookup_all(cols), pa.string())
        column = _converter(cols, arrays)
        paths = column("path")
        if table.num_rows == len(cols) and table.column("path").equals(pa.chunked_array([paths])):
            rows = table  # the same rows in the same order: compare in place
            self._aligned = cols
        else:
            rows = table.take(pc.index_in(paths, value_set=table.column("path")))
        same = pc.and_kleene(
            pc.and_kleene(
                pc.equal(rows.column("size"), column("size")),
                pc.equal(rows.column("mtime_ns"), column("mtime_ns")),
            ),
            pc.and_kleene(
                pc.and_kleene(
                    pc.equal(rows.column("inode"), column("inode")),
                    pc.equal(rows.column("type"), column("type")),
                ),
                # A row whose ctime is unknown (recorded by a checkout, format 1) vouches on
                # size, mtime and inode alone.
                pc.or_kleene(
                    pc.is_null(rows.column("ctime_ns")),
                    pc.equal(rows.column("ctime_ns"), column("ctime_ns")),
                ),
            ),
        )
        oids = pc.if_else(pc.fill_null(same, False), rows.column("oid"), None)
        return oids.combine_chunks() if isinstance(oids, pa.ChunkedArray) else oids

    def parent_rows(self, cols: Columns, tree: str) -> pa.Array | None:
        """Where each row of a scan sits in the manifest of ``tree`` (null: not in it), as
        the cache remembers it, or None when it does not know.

        Known only after :meth:`lookup_array` found the scan's paths, in order, in the cached
        rows, and when those rows point into ``tree``'s manifest. A caller must still check
        the rows (the paths they point at are the scan's): the cache is only a shortcut.
        """
        table = self.table
        if not tree or table is None or self._aligned is not cols:
            return None
        if statfile.rows_of(table) != tree:
            return None
        return table.column("row").combine_chunks()

    def lookup(self, item: Item) -> Oid | None:
        """The cached oid of one file that stats exactly as it did when it was hashed."""
        if not self.enabled or item.type != "file":
            return None
        update = self.updates.get(item.path)
        if update is not None:
            known, oid = update
            return oid if known[3:6] == item[3:6] else None
        if self.table is not None:
            if self._index is None:
                self._index = {p: i for i, p in enumerate(self.table.column("path").to_pylist())}
            i = self._index.get(item.path)
            if i is None:
                return None
            row = self.table.slice(i, 1).to_pylist()[0]
            stats = (row["size"], row["mtime_ns"], row["inode"])
            return row["oid"] if row["type"] == "file" and stats == item[3:6] else None
        if self._legacy is not None:
            legacy = self._legacy.get(item.path)
            if legacy is not None and legacy[:3] == item[3:6]:
                return legacy[3]
        return None

    # -- remembering -----------------------------------------------------------------------

    def record(self, item: Item, oid: str, *, hashed_at_ns: int | None = None) -> None:
        """Remember a freshly hashed file, unless its mtime is too recent to trust."""
        if not self.enabled:
            return
        now = time.time_ns() if hashed_at_ns is None else hashed_at_ns
        if is_racy(item.mtime_ns, now):
            return
        self.updates[item.path] = (item, Oid(oid))

    def snapshot(
        self,
        cols: Columns,
        oids: Sequence[Oid | None] | pa.Array | pa.ChunkedArray,
        tree: str,
        arrays: Mapping[str, pa.Array] | None = None,
        rows: pa.Array | None = None,
    ) -> None:
        """Replace the cache with this scan on the next :meth:`save`.

        ``oids`` are per row (None for files not to vouch for: racy, vanished), a list or an
        Arrow array; ``tree`` is the digest the rows make, kept only when every file has an
        oid. ``arrays`` are scan columns already in Arrow (:meth:`lookup_array` fills them).
        ``rows`` (a commit whose paths are its parent's) are where each scanned path sits in
        the manifest of ``tree``, kept with the rows for the next commit (:meth:`parent_rows`);
        without them, a scan with the cached paths keeps the cached ``row`` column.

        The rows become the Arrow table to write at once, and with a ``tree`` (a commit) the
        scan's fingerprint is taken now: the caller may then drop the scan's lists and the
        oids (a million-file commit holds them as Arrow columns, not Python objects, while
        it writes its manifest). Without one, the scan is kept for :meth:`vouch`.
        """
        if not self.enabled:
            return
        given = dict(arrays or {})
        rows_of = tree if rows is not None else ""
        if rows is None and self._aligned is cols and self.table is not None:
            # The same paths as the cached rows: where they sit in that tree's manifest holds.
            rows_of = statfile.rows_of(self.table)
            rows = self.table.column("row").combine_chunks() if rows_of else None
        if rows is not None and rows_of:
            import pyarrow as pa

            given["row"] = rows.cast(pa.int64())
        table = statfile.scan_table(cols, oids, given)
        # The cached rows' paths, in order (their delta keeps the base's paths): the next save
        # may write the rows that differ from the base rather than all of them.
        aligned = self._aligned is cols and self.table is not None
        import pyarrow.compute as pc

        unvouched = pc.and_(pc.is_null(table.column("oid")), pc.equal(table.column("type"), "file"))
        complete = not pc.any(unvouched).as_py()
        if complete and tree:
            self._snapshot = _Snapshot(table, None, self.fingerprint(cols), tree, rows_of, aligned)
            self._seen = self._aligned = None  # the caller may now free the scan
        else:
            self._snapshot = _Snapshot(table, cols if complete else None, "", "", rows_of, aligned)
            self._aligned = None  # only the snapshot may keep the scan (for vouch)
            if not complete:
                self._seen = None

    def vouch(self, tree: str) -> None:
        """Record the tree digest the pending snapshot's rows make."""
        snap = self._snapshot
        if snap is not None and snap.cols is not None:
            self._snapshot = snap._replace(
                cols=None, scanned=self.fingerprint(snap.cols), tree=tree
            )
            self._seen = None

    @property
    def dirty(self) -> bool:
        """True when :meth:`save` has something to write."""
        return self.enabled and (bool(self.updates) or self._snapshot is not None)

    def save(self, catalog: object = None) -> None:
        """Write the snapshot (or the updates over the old rows) to the cache file.

        A cache is only a shortcut: a folder that cannot be written (a read-only repo) keeps
        the old file, and the next run hashes again.
        """
        del catalog  # rows no longer go to the catalog
        if not self.dirty:
            return
        snap = self._snapshot
        vouched = snap is not None and bool(snap.tree) and not self.updates
        try:
            assert self.file is not None
            if not self._save_delta():
                rows, rows_of = self._table_to_write()
                table = statfile.write_rows(self.file, rows, self.algorithm, rows_of)
                self._table = self._base = table
                pause_point(IN_STATCACHE)
                statfile.drop_delta(self.file)  # it names the old generation: ignored anyway
            self._loaded, self._index = True, None
            if vouched:
                assert snap is not None
                statfile.write_head(self.head, self.algorithm, snap.scanned, snap.tree)
                self.scanned, self.tree = snap.scanned, snap.tree
        except OSError:
            pass
        self.updates = {}
        self._snapshot = None
        self._seen = self._aligned = None

    def _save_delta(self) -> bool:
        """Write the snapshot as a delta over the rows file, if it has the file's paths and
        few rows differ (:data:`DELTA_SHARE`); True when it did.

        A commit after a small edit then writes a few rows, not a million; once the rows
        differing from the file grow past the share, the next save rewrites the file whole.
        """
        snap, base = self._snapshot, self._base
        if (
            self.updates
            or snap is None
            or not snap.aligned
            or base is None
            or not statfile.generation(base)
            or base.num_rows != snap.table.num_rows
        ):
            return False
        assert self.file is not None
        at = statfile.changed_rows(base, snap.table)
        if len(at) > base.num_rows * DELTA_SHARE:
            return False
        statfile.write_delta(self.file, snap.table, at, base, snap.rows_of)
        pause_point(IN_STATCACHE)
        meta = {**(base.schema.metadata or {}), statfile.ROWS_OF: snap.rows_of.encode()}
        self._table = snap.table.replace_schema_metadata(meta)
        return True

    def _table_to_write(self) -> tuple[pa.Table, str]:
        """The rows to write, and the tree their ``row`` column points into."""
        import pyarrow as pa

        schema = statfile.schema()
        base: pa.Table | None = None
        if self._snapshot is not None:
            base = self._snapshot.table
            if not self.updates:
                return base, self._snapshot.rows_of
        new = Columns()
        new_oids: list[Oid | None] = []
        for item, oid in self.updates.values():
            new.add(item)
            new_oids.append(oid)
        # Recorded one by one (a checkout's writes): the ctime is not known, so not compared.
        added = pa.Table.from_arrays(
            [
                pa.array(getattr(new, f.name) if f.name != "oid" else new_oids, f.type)
                if f.name not in ("ctime_ns", "row")
                else pa.nulls(len(new), f.type)
                for f in schema
            ],
            schema=schema,
        )
        old = base if base is not None else self.table
        if old is None and self._legacy:
            old = statfile.legacy_table(self._legacy)
        if old is not None and old.num_rows:
            import pyarrow.compute as pc

            kept = old.filter(
                pc.invert(pc.is_in(old.column("path"), value_set=added.column("path")))
            )
            added = pa.concat_tables([kept.replace_schema_metadata(None), added])
        return added, ""  # rows recorded one by one: no row column to vouch for


class _Snapshot(NamedTuple):
    """A scan waiting for :meth:`StatCache.save`: its rows as the table to write; the scan
    itself only while a tree may still be vouched for (:meth:`StatCache.vouch`)."""

    table: pa.Table
    cols: Columns | None
    scanned: str
    """The scan's fingerprint ("" until a tree is vouched for)."""
    tree: str
    rows_of: str = ""
    """The tree whose manifest the rows' ``row`` column points into ("" for none)."""
    aligned: bool = False
    """The scan had the cached rows' paths in their order (a delta may stand for it)."""


def _converter(cols: Columns, arrays: dict[str, pa.Array]) -> Callable[[str], pa.Array]:
    """A function giving a scan column in Arrow by name, converted once into ``arrays``."""
    import pyarrow as pa

    fields = statfile.schema()

    def column(name: str) -> pa.Array:
        found = arrays.get(name)
        if found is None:
            values = getattr(cols, name)
            if name == "ctime_ns":
                found = statfile.int64(values)
            else:
                found = pa.array(values, fields.field(name).type)
            arrays[name] = found
        return found

    return column
