"""The stat cache: skip re-reading files whose size, mtime and inode have not changed.

One Arrow IPC file per asset layout (base folder + roots) under ``.dvlin/statcache/``, read
memory-mapped and replaced whole (temp name, fsync, rename: a crash leaves the old file). Its
rows are the last scan of the folder, in scan order: path, type, mode, size, mtime_ns, inode,
target, the oid each file hashed to and its inode change time (ctime_ns; null where unknown,
as in files of format 1, which are still read). When every file has an oid, the file also records the
tree digest those rows make, so a scan whose columns equal the cached ones is that tree — a
clean ``dvlin status`` builds no per-file object and reads no manifest.

Repos from before kept one SQLite row per path (table ``stat_cache``); those rows are read
when a layout has no file yet, and the next save writes the file. The table is no longer
written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, Protocol

from dvlin.objects.hashing import Oid
from dvlin.workspace.scan import Columns, Item

if TYPE_CHECKING:
    import pyarrow as pa

# A file modified within one clock tick of being hashed could change again without its mtime
# moving. Rows are only saved once the mtime is safely in the past: 50 ms covers the kernel's
# coarse file clock; filesystems that keep whole seconds (FAT, some network mounts) need 2 s.
_RACY_NS = 50_000_000
_RACY_COARSE_NS = 2_000_000_000

CACHE_FORMAT = "2"
"""Format 2 added ``ctime_ns``; a format-1 file is read with it null (not compared)."""
FOLDER = "statcache"


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


def cache_file(dvlin_dir: str | os.PathLike[str], base: str, roots: Sequence[str]) -> Path:
    """Where the stat cache of one layout lives."""
    key = "\0".join([base, *roots]).encode("utf-8", "surrogateescape")
    return Path(dvlin_dir) / FOLDER / f"{hashlib.sha256(key).hexdigest()[:24]}.arrow"


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("path", pa.string()),
            ("type", pa.string()),
            ("mode", pa.int32()),
            ("size", pa.int64()),
            ("mtime_ns", pa.int64()),
            ("inode", pa.uint64()),
            ("target", pa.string()),
            ("oid", pa.string()),
            ("ctime_ns", pa.int64()),
        ]
    )


def fingerprint(cols: Columns) -> str:
    """A digest of everything a scan saw, in scan order (paths, types, modes, sizes, mtimes,
    inodes, file ctimes, link targets, store links).

    Equal fingerprints mean equal scans: a clean status compares one string, not a million
    rows, and imports no Arrow. Each column is turned into bytes in C (``str.join``; the
    numbers are arrays already): about 50 ms for 200,000 files.
    """
    import xxhash

    h = xxhash.xxh3_128()
    h.update(cols.path.joined())  # "\0".join(paths).encode(): the column's own buffer
    h.update("\0".join(cols.type).encode())
    for numbers in (cols.mode, cols.size, cols.mtime_ns, cols.inode, cols.ctime_ns):
        h.update(numbers)  # 8-byte arrays: the bytes of array("q"/"Q", the values)
    n = len(cols)
    for extra in (cols.target, cols.oid):  # links are rare: skip the all-None lists
        if extra.count(None) != n:
            h.update(repr(extra).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def prune(dvlin_dir: str | os.PathLike[str], layouts: Iterable[tuple[str, Sequence[str]]]) -> int:
    """Remove the cache files of every layout but ``layouts``; how many files went.

    Called once every asset was looked at: a layout no asset uses any more (an asset removed,
    or committed again over other roots) would otherwise keep its rows forever. A file being
    written (its temporary name) is left alone; removing a cache costs at most a re-hash.
    """
    folder = Path(dvlin_dir) / FOLDER
    keep = {cache_file(dvlin_dir, base, roots).stem for base, roots in layouts}
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    removed = 0
    for name in names:
        stem, _, ext = name.partition(".")
        if ext not in ("arrow", "tree") or stem in keep:
            continue
        try:
            os.unlink(folder / name)
        except FileNotFoundError:
            continue
        except OSError:
            return removed  # a folder we may not write: keep everything
        removed += 1
    return removed


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
        self._loaded = False
        self.tree = ""
        """The tree digest a scan with fingerprint ``self.scanned`` makes, or ""."""
        self.scanned = ""
        self._legacy: dict[str, tuple[int, int, int, Oid]] | None = None
        self._index: dict[str, int] | None = None
        self.updates: dict[str, tuple[Item, Oid]] = {}
        self._snapshot: _Snapshot | None = None
        if self.enabled:
            self._read_head()

    # -- reading ---------------------------------------------------------------------------

    @property
    def head(self) -> Path:
        """The small file saying which tree a scan fingerprint stands for."""
        assert self.file is not None
        return self.file.with_suffix(".tree")

    def _read_head(self) -> None:
        try:
            words = self.head.read_text(encoding="ascii").split()
        except (OSError, UnicodeDecodeError):
            return
        if len(words) == 5 and words[:3] == ["dvlin-statcache", CACHE_FORMAT, self.algorithm]:
            self.scanned, self.tree = words[3], words[4]

    @property
    def table(self) -> pa.Table | None:
        """The cached rows (memory-mapped), read on first use; None when there are none."""
        if not self._loaded and self.enabled:
            self._loaded = True
            self._load(self._catalog)
        return self._table

    def _load(self, catalog: StatRows | None) -> None:
        import pyarrow as pa

        assert self.file is not None
        try:
            import pyarrow.ipc as ipc

            with pa.memory_map(str(self.file)) as source:
                table = ipc.open_file(source).read_all()
        except FileNotFoundError:
            table = None
        except (OSError, pa.ArrowException):
            table = None  # a damaged cache is no cache: the files are hashed again
        if table is not None:
            meta = table.schema.metadata or {}
            schema = _schema()
            if meta.get(b"algorithm", b"").decode() != self.algorithm:
                return
            if meta.get(b"dvlin.statcache") == b"1" and table.schema.remove_metadata().equals(
                pa.schema(list(schema)[:-1])
            ):
                # Format 1 had no ctime: its rows vouch as they did, until the next snapshot.
                table = table.append_column(
                    schema.field("ctime_ns"), pa.nulls(table.num_rows, pa.int64())
                )
            elif meta.get(b"dvlin.statcache") != CACHE_FORMAT.encode():
                return
            if table.schema.remove_metadata().equals(schema):
                self._table = table
            return
        if catalog is not None:
            # A repo from before the columnar cache: its SQLite rows still vouch for files.
            prefix = "" if self.base in ("", ".") else self.base
            rows = catalog.stat_rows(prefix)
            if rows:
                cut = len(prefix) + 1 if prefix else 0
                self._legacy = {p[cut:]: r for p, r in rows.items()}

    def matches(self, cols: Columns) -> bool:
        """True when a scan is the one the cache vouches for (so it is ``self.tree``)."""
        return bool(self.tree) and fingerprint(cols) == self.scanned

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

    def lookup_array(self, cols: Columns, paths: pa.Array | None = None) -> pa.Array:
        """:meth:`lookup_all` as an Arrow string array (``paths``: the scan's, if built)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if paths is None:
            paths = pa.array(cols.path, pa.string())
        table = self.table
        if table is None or not table.num_rows:
            return pa.array(self.lookup_all(cols), pa.string())
        schema = _schema()
        if table.num_rows == len(cols) and table.column("path").equals(pa.chunked_array([paths])):
            rows = table  # the same rows in the same order: compare in place
        else:
            rows = table.take(pc.index_in(paths, value_set=table.column("path")))
        same = pc.and_kleene(
            pc.and_kleene(
                pc.equal(rows.column("size"), pa.array(cols.size, schema.field("size").type)),
                pc.equal(
                    rows.column("mtime_ns"),
                    pa.array(cols.mtime_ns, schema.field("mtime_ns").type),
                ),
            ),
            pc.and_kleene(
                pc.and_kleene(
                    pc.equal(
                        rows.column("inode"), pa.array(cols.inode, schema.field("inode").type)
                    ),
                    pc.equal(rows.column("type"), pa.array(cols.type, pa.string())),
                ),
                # A row whose ctime is unknown (recorded by a checkout, format 1) vouches on
                # size, mtime and inode alone.
                pc.or_kleene(
                    pc.is_null(rows.column("ctime_ns")),
                    pc.equal(rows.column("ctime_ns"), _int64(cols.ctime_ns)),
                ),
            ),
        )
        oids = pc.if_else(pc.fill_null(same, False), rows.column("oid"), None)
        return oids.combine_chunks() if isinstance(oids, pa.ChunkedArray) else oids

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

    def snapshot(self, cols: Columns, oids: Sequence[Oid | None], tree: str) -> None:
        """Replace the cache with this scan on the next :meth:`save`.

        ``oids`` are per row (None for files not to vouch for: racy, vanished); ``tree`` is
        the digest the rows make, kept only when every file has an oid.

        The rows become the Arrow table to write at once, and with a ``tree`` (a commit) the
        scan's fingerprint is taken now: the caller may then drop the scan's lists and the
        oids (a million-file commit holds them as Arrow columns, not Python objects, while
        it writes its manifest). Without one, the scan is kept for :meth:`vouch`.
        """
        if not self.enabled:
            return
        table = _scan_table(cols, oids)
        import pyarrow.compute as pc

        unvouched = pc.and_(pc.is_null(table.column("oid")), pc.equal(table.column("type"), "file"))
        complete = not pc.any(unvouched).as_py()
        if complete and tree:
            self._snapshot = _Snapshot(table, None, fingerprint(cols), tree)
        else:
            self._snapshot = _Snapshot(table, cols if complete else None, "", "")

    def vouch(self, tree: str) -> None:
        """Record the tree digest the pending snapshot's rows make."""
        snap = self._snapshot
        if snap is not None and snap.cols is not None:
            self._snapshot = _Snapshot(snap.table, None, fingerprint(snap.cols), tree)

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
            table = self._table_to_write()
            self._write(table)
            if vouched:
                assert snap is not None
                self._write_head(snap.scanned, snap.tree)
        except OSError:
            pass
        self.updates = {}
        self._snapshot = None

    def _table_to_write(self) -> pa.Table:
        import pyarrow as pa

        schema = _schema()
        base: pa.Table | None = None
        if self._snapshot is not None:
            base = self._snapshot.table
            if not self.updates:
                return base
        new = Columns()
        new_oids: list[Oid | None] = []
        for item, oid in self.updates.values():
            new.add(item)
            new_oids.append(oid)
        # Recorded one by one (a checkout's writes): the ctime is not known, so not compared.
        added = pa.Table.from_arrays(
            [
                pa.array(getattr(new, f.name) if f.name != "oid" else new_oids, f.type)
                if f.name != "ctime_ns"
                else pa.nulls(len(new), f.type)
                for f in schema
            ],
            schema=schema,
        )
        old = base if base is not None else self.table
        if old is None and self._legacy:
            old = _legacy_table(self._legacy)
        if old is not None and old.num_rows:
            import pyarrow.compute as pc

            kept = old.filter(
                pc.invert(pc.is_in(old.column("path"), value_set=added.column("path")))
            )
            added = pa.concat_tables([kept.replace_schema_metadata(None), added])
        return added

    def _write(self, table: pa.Table) -> None:
        import pyarrow.ipc as ipc

        assert self.file is not None
        table = table.replace_schema_metadata(
            {"dvlin.statcache": CACHE_FORMAT, "algorithm": self.algorithm}
        )

        def arrow(f: BinaryIO) -> None:
            with ipc.new_file(f, table.schema) as writer:
                writer.write_table(table, max_chunksize=max(table.num_rows, 1))

        _replace(self.file, arrow)
        self._table, self._loaded, self._index = table, True, None

    def _write_head(self, scanned: str, tree: str) -> None:
        line = f"dvlin-statcache {CACHE_FORMAT} {self.algorithm} {scanned} {tree}\n"
        _replace(self.head, lambda f: f.write(line.encode("ascii")))
        self.scanned, self.tree = scanned, tree


class _Snapshot(NamedTuple):
    """A scan waiting for :meth:`StatCache.save`: its rows as the table to write; the scan
    itself only while a tree may still be vouched for (:meth:`StatCache.vouch`)."""

    table: pa.Table
    cols: Columns | None
    scanned: str
    """The scan's fingerprint ("" until a tree is vouched for)."""
    tree: str


def _scan_table(cols: Columns, oids: Sequence[Oid | None]) -> pa.Table:
    """A scan and its oids as stat-cache rows (numbers from the arrays' bytes, no per-row
    conversion)."""
    import pyarrow as pa

    schema = _schema()
    arrays = [pa.array(getattr(cols, f.name) if f.name != "oid" else oids, f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _int64(values: array[int]) -> pa.Array:
    """An ``array('q')`` as an Arrow int64 array, from a copy of its bytes (``pa.array`` would
    read it item by item: 0.6 s a million)."""
    import pyarrow as pa

    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values.tobytes())])


def _replace(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write a file under a temporary name, flush it to disk, then rename it over ``path``:
    a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(exist_ok=True)
    temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(temp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _legacy_table(rows: dict[str, tuple[int, int, int, Oid]]) -> pa.Table:
    import pyarrow as pa

    schema = _schema()
    paths = list(rows)
    values = list(rows.values())
    n = len(paths)
    columns: dict[str, Iterable[object]] = {
        "path": paths,
        "type": ["file"] * n,
        "mode": [0] * n,
        "size": [r[0] for r in values],
        "mtime_ns": [r[1] for r in values],
        "inode": [r[2] for r in values],
        "target": [None] * n,
        "oid": [r[3] for r in values],
        "ctime_ns": [None] * n,
    }
    return pa.Table.from_arrays(
        [pa.array(list(columns[f.name]), f.type) for f in schema], schema=schema
    )
