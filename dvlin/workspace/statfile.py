"""The stat cache's files: their format, the scan fingerprint, and writing them whole.

One Arrow IPC file per asset layout (base folder + roots) under ``.dvlin/statcache/``, read
memory-mapped and replaced whole (temp name, fsync, rename: a crash leaves the old file). Its
rows are the last scan of the folder, in scan order: path, type, mode, size, mtime_ns, inode,
target, the oid each file hashed to, its inode change time (ctime_ns; null where unknown, as in
files of format 1) and, since format 3, ``row``: where the path sits in the manifest of the tree
the schema's metadata names (``dvlin.rows_of``; null: not in it), so the next commit of that
tree's child finds each path's parent row without a hash join of a million paths. Files of
formats 1 and 2 are still read (the missing columns null). Beside it a one-line ``.tree`` file
(the head) says which tree digest a scan with a given fingerprint makes, so a clean ``dvlin
status`` compares one string and imports no Arrow. :class:`dvlin.workspace.statcache.StatCache`
is the cache itself.

A save that changes few rows of a scan with the cached paths (a commit after a small edit)
does not rewrite the rows file: it writes a *delta* beside it (``KEY.delta``, format
:data:`DELTA_FORMAT`), the rows that differ from the rows file, each with its position there,
for the base named by its ``dvlin.generation`` (a random token each full write gets). Read,
the delta's rows replace the base's at their positions; a delta that does not parse, names
another base, or whose rows do not sit at their own paths is ignored (the base's rows still
vouch only for files whose stats match). A full write removes the delta; older dvlin reads the
base alone.
"""

from __future__ import annotations

import contextlib
import os
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from dvlin.objects.hashing import Oid
from dvlin.sha import sha256
from dvlin.workspace.scan import Columns

if TYPE_CHECKING:
    import pyarrow as pa

CACHE_FORMAT = "3"
"""Format 2 added ``ctime_ns`` (a format-1 file is read with it null: not compared), format 3
``row`` (read as null from older files: the commit joins on paths instead)."""
HEAD_FORMAT = "2"
"""The head line's own format (unchanged by format 3: old heads still vouch)."""
FOLDER = "statcache"
ROWS_OF = b"dvlin.rows_of"
"""Schema metadata: the tree whose manifest the ``row`` column points into ("" for none)."""
GENERATION = b"dvlin.generation"
"""Schema metadata of a rows file: a random token per full write, which a delta names."""
DELTA_FORMAT = "1"
"""The delta file's format (``dvlin.statcache-delta`` in its metadata)."""
AT = "at"
"""The delta's extra column: each row's position in the base."""


def cache_file(dvlin_dir: str | os.PathLike[str], base: str, roots: Sequence[str]) -> Path:
    """Where the stat cache of one layout lives."""
    key = "\0".join([base, *roots]).encode("utf-8", "surrogateescape")
    return Path(dvlin_dir) / FOLDER / f"{sha256(key).hexdigest()[:24]}.arrow"


def schema() -> Any:
    """The columns of a stat-cache file (format 2)."""
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
            ("row", pa.int64()),
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
        if ext not in ("arrow", "tree", "delta") or stem in keep:
            continue
        try:
            os.unlink(folder / name)
        except FileNotFoundError:
            continue
        except OSError:
            return removed  # a folder we may not write: keep everything
        removed += 1
    return removed


def read_head(head: Path, algorithm: str) -> tuple[str, str]:
    """``(scan fingerprint, tree digest)`` from a head file, or ``("", "")``."""
    try:
        words = head.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return "", ""
    if len(words) == 5 and words[:3] == ["dvlin-statcache", HEAD_FORMAT, algorithm]:
        return words[3], words[4]
    return "", ""


def write_head(head: Path, algorithm: str, scanned: str, tree: str) -> None:
    """Say that a scan with fingerprint ``scanned`` makes tree ``tree``."""
    line = f"dvlin-statcache {HEAD_FORMAT} {algorithm} {scanned} {tree}\n"
    replace(head, lambda f: f.write(line.encode("ascii")))


def read_rows(file: Path, algorithm: str) -> tuple[pa.Table | None, bool]:
    """The rows of a cache file (memory-mapped) and whether a readable file was found.

    The rows are None when the file is missing or damaged (found False: an older cache may
    stand in) or holds another algorithm's oids or an unknown format (found True): the files
    are then hashed again. Rows of formats 1 and 2 come back in format 3's schema, the
    columns they lack null.
    """
    import pyarrow as pa

    try:
        import pyarrow.ipc as ipc

        with pa.memory_map(str(file)) as source:
            table = ipc.open_file(source).read_all()
    except (OSError, pa.ArrowException):
        return None, False  # a damaged cache is no cache
    meta = table.schema.metadata or {}
    wanted = schema()
    if meta.get(b"algorithm", b"").decode() != algorithm:
        return None, True
    version = meta.get(b"dvlin.statcache", b"").decode()
    # Format 1 lacks ctime_ns and row, format 2 row: their rows vouch as they did (an
    # unknown ctime is not compared) until the next snapshot rewrites them.
    have = {"1": len(wanted) - 2, "2": len(wanted) - 1, CACHE_FORMAT: len(wanted)}.get(version)
    if have is None or not table.schema.remove_metadata().equals(pa.schema(list(wanted)[:have])):
        return None, True
    for field in list(wanted)[have:]:
        table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table, True


def read_delta(file: Path, base: pa.Table) -> pa.Table | None:
    """``base`` (the rows of ``file``) with its delta's rows in place, or None when there is
    no delta that applies to it (none, torn, another generation or format, a row that is not
    at its own path: the base alone is then the cache)."""
    import pyarrow as pa

    gen = generation(base)
    if not gen:
        return None  # a file from before deltas, or written by an older dvlin: no delta is its
    try:
        import pyarrow.ipc as ipc

        # Read into memory, not mapped: a few rows, and nothing can change them under us.
        data = delta_file(file).read_bytes()
        delta = ipc.open_file(pa.BufferReader(data)).read_all()
    except (OSError, pa.ArrowException):
        return None
    meta = delta.schema.metadata or {}
    base_meta = base.schema.metadata or {}
    if (
        meta.get(b"dvlin.statcache-delta") != DELTA_FORMAT.encode()
        or meta.get(GENERATION) != gen.encode()
        or meta.get(b"algorithm") != base_meta.get(b"algorithm")
        or meta.get(b"dvlin.base_rows") != str(base.num_rows).encode()
    ):
        return None
    fields = [*schema(), pa.field(AT, pa.int64())]
    if not delta.schema.remove_metadata().equals(pa.schema(fields)):
        return None
    at = delta.column(AT).combine_chunks()
    if at.null_count or not _increasing(at, base.num_rows):
        return None
    rows = delta.drop_columns([AT])
    if not base.column("path").take(at).equals(rows.column("path")):
        return None  # each row replaces the row of its own path, or the delta is not used
    merged = _patched(base, rows, at)
    return merged.replace_schema_metadata({**base_meta, ROWS_OF: meta.get(ROWS_OF, b"")})


def _increasing(at: pa.Array, n: int) -> bool:
    """True when ``at`` is strictly increasing and within ``[0, n)``."""
    import pyarrow.compute as pc

    if not len(at):
        return True
    low, high = pc.min_max(at).values()
    if low.as_py() < 0 or high.as_py() >= n:
        return False
    return len(at) < 2 or bool(pc.all(pc.less(at.slice(0, len(at) - 1), at.slice(1))).as_py())


def _patched(base: pa.Table, rows: pa.Table, at: pa.Array) -> pa.Table:
    """``base`` with ``rows`` at positions ``at`` (sorted, unique): each column the delta
    changes copied once with its values put in place; the others (the path always) are the
    base's."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = base.num_rows
    bits = bytearray((n + 7) // 8)
    for p in at.to_pylist():  # a Python step per delta row, none per base row
        bits[p >> 3] |= 1 << (p & 7)
    mask = pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(bytes(bits))])
    arrays = [base.column("path")]
    for name in base.column_names[1:]:
        column = base.column(name)
        whole = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        values = rows.column(name).combine_chunks()
        if whole.take(at).equals(values):
            arrays.append(whole)  # the delta leaves this column as it was (sizes, inodes …)
        else:
            arrays.append(pc.replace_with_mask(whole, mask, values))
    return pa.Table.from_arrays(arrays, schema=base.schema.remove_metadata())


def rows_of(table: pa.Table) -> str:
    """The tree whose manifest a table's ``row`` column points into ("" for none)."""
    return bytes((table.schema.metadata or {}).get(ROWS_OF, b"")).decode()


def generation(table: pa.Table) -> str:
    """The token of the full write a rows table came from ("" for files from before deltas)."""
    return bytes((table.schema.metadata or {}).get(GENERATION, b"")).decode()


def delta_file(file: Path) -> Path:
    """Where the delta of the rows file ``file`` lives."""
    return file.with_suffix(".delta")


def write_rows(file: Path, table: pa.Table, algorithm: str, tree: str = "") -> pa.Table:
    """Replace a cache file by ``table``'s rows, their ``row`` column pointing into the
    manifest of ``tree`` (empty: none); the table as written (with its metadata).

    The file gets a new generation, so a delta of the old one no longer applies; the caller
    removes it (:func:`drop_delta`)."""
    import pyarrow.ipc as ipc

    if any(column.num_chunks > 1 for column in table.columns):
        table = table.combine_chunks()  # one record batch, as the file has always been
    table = table.replace_schema_metadata(
        {
            "dvlin.statcache": CACHE_FORMAT,
            "algorithm": algorithm,
            ROWS_OF.decode(): tree,
            GENERATION.decode(): os.urandom(8).hex(),
        }
    )

    def arrow(f: BinaryIO) -> None:
        with ipc.new_file(f, table.schema) as writer:
            writer.write_table(table, max_chunksize=max(table.num_rows, 1))

    # Not flushed to disk: after a power loss the file is the old one, the new one, or one that
    # does not parse (no cache); the head (flushed) never depends on it, and every row is
    # checked against the files' stats, a commit's oids against the store and its rows
    # against the parent's paths before use.
    replace(file, arrow, durable=False)
    return table


def changed_rows(base: pa.Table, table: pa.Table) -> pa.Array:
    """Positions of the rows of ``table`` that differ from ``base``'s (same paths, same
    order, same schema): any column unequal, or null on one side only."""
    import pyarrow as pa
    import pyarrow.compute as pc

    differs: pa.Array | None = None
    for name in table.column_names:
        if name == "path":
            continue  # the caller knows the paths are the base's
        a, b = base.column(name), table.column(name)
        unequal = pc.fill_null(pc.not_equal(a, b), False)
        if a.null_count or b.null_count:
            unequal = pc.or_(unequal, pc.not_equal(pc.is_null(a), pc.is_null(b)))
        differs = unequal if differs is None else pc.or_(differs, unequal)
    if differs is None:
        return pa.array([], pa.int64())
    found = pc.indices_nonzero(differs)
    return found.cast(pa.int64())


def write_delta(file: Path, table: pa.Table, at: pa.Array, base: pa.Table, tree: str) -> None:
    """Write the delta of the rows file holding ``base``: ``table``'s rows at positions
    ``at`` (the rows that differ from ``base``), ``row`` pointing into ``tree``'s manifest.

    Replaced whole like the rows file and, like it, not flushed: a delta lost or torn by a
    power loss does not parse or names no base, and is ignored."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    meta = base.schema.metadata or {}
    rows = table.take(at).replace_schema_metadata(None).combine_chunks()
    rows = rows.append_column(pa.field(AT, pa.int64()), at.cast(pa.int64()))
    rows = rows.replace_schema_metadata(
        {
            "dvlin.statcache-delta": DELTA_FORMAT,
            "algorithm": bytes(meta.get(b"algorithm", b"")).decode(),
            GENERATION.decode(): generation(base),
            "dvlin.base_rows": str(base.num_rows),
            ROWS_OF.decode(): tree,
        }
    )

    def arrow(f: BinaryIO) -> None:
        with ipc.new_file(f, rows.schema) as writer:
            writer.write_table(rows, max_chunksize=max(rows.num_rows, 1))

    replace(delta_file(file), arrow, durable=False)


def drop_delta(file: Path) -> None:
    """Remove the delta of ``file`` (after a full write: it names the old generation)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(delta_file(file))


def scan_table(
    cols: Columns,
    oids: Sequence[Oid | None] | pa.Array | pa.ChunkedArray,
    given: Mapping[str, pa.Array] = {},
) -> pa.Table:
    """A scan and its oids as stat-cache rows.

    ``given`` are columns already converted to Arrow (a commit's paths, types and modes):
    a million paths are not turned into Arrow strings twice. Numbers come from the arrays'
    bytes, with no per-row conversion.
    """
    import pyarrow as pa

    fields = schema()
    arrays = []
    for f in fields:
        if f.name in given:
            arrays.append(given[f.name])
        elif f.name == "oid":
            given_oids = isinstance(oids, pa.Array | pa.ChunkedArray)
            arrays.append(oids if given_oids else pa.array(oids, f.type))
        elif f.name == "row":
            arrays.append(pa.nulls(len(cols), f.type))
        else:
            arrays.append(pa.array(getattr(cols, f.name), f.type))
    return pa.Table.from_arrays(arrays, schema=fields)


def int64(values: array[int]) -> pa.Array:
    """An ``array('q')`` as an Arrow int64 array, from a copy of its bytes (``pa.array`` would
    read it item by item: 0.6 s a million)."""
    import pyarrow as pa

    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values.tobytes())])


def replace(path: Path, write: Callable[[BinaryIO], object], *, durable: bool = True) -> None:
    """Write a file under a temporary name, then rename it over ``path``: a crash of the
    process leaves the old file or the new one, never half of one.

    ``durable`` flushes it to disk before the rename, so a power loss cannot either. The
    rows file is not flushed (:func:`write_rows`): a million rows are ~100 MB to wait for,
    inside the commit's catalog transaction, for a file that only saves re-reading files.
    """
    path.parent.mkdir(exist_ok=True)
    temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(temp, "wb") as f:
            write(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def legacy_table(rows: Mapping[str, tuple[int, int, int, Oid]]) -> pa.Table:
    """Rows of the SQLite stat cache (repos from before the file) as stat-cache rows."""
    import pyarrow as pa

    fields = schema()
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
        "row": [None] * n,
    }
    return pa.Table.from_arrays(
        [pa.array(list(columns[f.name]), f.type) for f in fields], schema=fields
    )
