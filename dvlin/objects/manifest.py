"""Manifests: the file list of one version, stored as a Parquet object.

A manifest row says what a path is (file, dir or link), its normalised mode, its size, the oid of
its whole content, and where the bytes live: a loose object (the oid itself), a slice of a pack
(``pack`` + ``offset``), or a list of content-defined chunks.
"""

from __future__ import annotations

import io
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from dvlin.errors import IntegrityError
from dvlin.objects.hashing import Oid, hasher_factory
from dvlin.values import sealed

if TYPE_CHECKING:
    import pyarrow as pa

EntryType = Literal["file", "dir", "link"]

FILE_MODE = 0o644
EXEC_MODE = 0o755
DIR_MODE = 0o755
LINK_MODE = 0o777

MANIFEST_FORMAT = 1


def normal_mode(kind: EntryType, st_mode: int) -> int:
    """Reduce a stat mode to what dvlin versions: only the executable bit of files."""
    if kind == "file":
        return EXEC_MODE if st_mode & 0o111 else FILE_MODE
    return DIR_MODE if kind == "dir" else LINK_MODE


@sealed
@dataclass(frozen=True, slots=True)
class Chunk:
    """One content-defined chunk of a large file, stored as a loose object."""

    oid: Oid
    size: int


class Entry(NamedTuple):
    """One path of a version. Paths are POSIX, relative to the asset's base folder.

    A NamedTuple rather than a frozen dataclass: a million of these are built per status or
    commit of a big tree, and a frozen dataclass takes five times longer to construct.
    """

    path: str
    type: EntryType
    mode: int
    size: int = 0
    oid: Oid | None = None
    target: str | None = None
    pack: Oid | None = None
    offset: int | None = None
    chunks: tuple[Chunk, ...] | None = None

    def same_content(self, other: Entry | None) -> bool:
        """True when ``other`` has the same type, mode and content (storage may differ)."""
        return (
            other is not None
            and self.type == other.type
            and self.mode == other.mode
            and self.oid == other.oid
            and self.target == other.target
        )

    def storage_oids(self) -> Iterable[str]:
        """The objects this entry's bytes live in."""
        if self.chunks is not None:
            return (c.oid for c in self.chunks)
        if self.pack is not None:
            return (self.pack,)
        if self.oid is not None:
            return (self.oid,)
        return ()


def tree_digest(algorithm: str, entries: Iterable[Entry]) -> str:
    """The content digest of a tree: independent of entry order and of where bytes are stored."""
    lines = sorted(
        f"{e.path}\0{e.type}\0{e.mode:o}\0{e.oid or e.target or ''}\n".encode() for e in entries
    )
    h = hasher_factory(algorithm)()
    h.update(b"".join(lines))
    return h.hexdigest()[:32]


# Empty, absolute, "." or ".." components, doubled or trailing slashes, backslashes, NULs.
_UNSAFE_PATH = re.compile(r"\A\Z|\A/|//|/\Z|(?:\A|/)\.{1,2}(?:/|\Z)|[\\\0]")


def check_path(path: str) -> None:
    """Refuse a manifest path that could escape the folder it is materialised into."""
    if _UNSAFE_PATH.search(path):
        raise IntegrityError(
            f"manifest path {path!r} is not a safe relative path",
            hint="the version or remote is corrupt or hostile; nothing was written",
        )


def leaves_tree(path: str, target: str) -> bool:
    """True when the link at ``path`` points outside the asset (absolute, or climbing out)."""
    if target.startswith("/"):
        return True
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return resolved == ".." or resolved.startswith("../")


def check_link(path: str, target: str) -> None:
    """Refuse a link with no target or a NUL in it.

    A link out of the tree is kept as a link — its target string, as git keeps it — and is
    never followed or written through: checkout checks every parent folder with ``lstat``,
    and :func:`validate` refuses a manifest with paths under a link.
    """
    if not target or "\0" in target:
        raise IntegrityError(
            f"link {path!r} has a malformed target {target!r}",
            hint="the version or remote is corrupt or hostile; nothing was written",
        )


def validate(entries: Sequence[Entry], algorithm: str) -> None:
    """Check every path, link and oid of a manifest before anything is written from it."""
    from dvlin.objects.hashing import digest_length

    oid_ok = re.compile(f"[0-9a-f]{{{digest_length(algorithm)}}}\\Z").match
    unsafe = _UNSAFE_PATH.search
    seen: set[str] = set()
    for e in entries:
        if unsafe(e.path):
            check_path(e.path)
        seen.add(e.path)
        if e.type == "file":
            if e.oid is None or not oid_ok(e.oid):
                raise IntegrityError(f"manifest entry {e.path!r} has a malformed oid {e.oid!r}")
            for oid in (e.pack, *(c.oid for c in e.chunks or ())):
                if oid is not None and not oid_ok(oid):
                    raise IntegrityError(f"manifest entry {e.path!r} has a malformed oid {oid!r}")
        elif e.type == "link":
            check_link(e.path, e.target or "")
        elif e.type != "dir":
            raise IntegrityError(f"manifest entry {e.path!r} has unknown type {e.type!r}")
    if len(seen) != len(entries):
        raise IntegrityError("manifest lists a path twice")
    links = {e.path for e in entries if e.type == "link"}
    if links:
        for e in entries:
            parent = e.path.rpartition("/")[0]
            while parent:
                if parent in links:
                    raise IntegrityError(
                        f"manifest entry {e.path!r} lies under the link {parent!r}",
                        hint="the version or remote is corrupt or hostile; nothing was written",
                    )
                parent = parent.rpartition("/")[0]


def _schema() -> Any:
    import pyarrow as pa

    chunk = pa.struct([("oid", pa.string()), ("size", pa.int64())])
    return pa.schema(
        [
            ("path", pa.string()),
            ("type", pa.dictionary(pa.int8(), pa.string())),
            ("mode", pa.int32()),
            ("size", pa.int64()),
            ("oid", pa.string()),
            ("target", pa.string()),
            ("pack", pa.string()),
            ("offset", pa.int64()),
            ("chunks", pa.list_(chunk)),
        ],
        metadata={"dvlin.manifest": str(MANIFEST_FORMAT)},
    )


def to_parquet(entries: Sequence[Entry]) -> bytes:
    """Serialise entries (sorted by path) as Parquet bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = sorted(entries, key=lambda e: e.path.encode())
    schema = _schema()
    # The type column is built as a dictionary array directly: Array.cast would import
    # pyarrow.compute, 70 ms of start-up on every commit.
    codes = {"file": 0, "dir": 1, "link": 2}
    kinds = pa.DictionaryArray.from_arrays(
        pa.array([codes[e.type] for e in rows], pa.int8()), pa.array(["file", "dir", "link"])
    )
    columns: dict[str, Any] = {
        "path": [e.path for e in rows],
        "mode": [e.mode for e in rows],
        "size": [e.size for e in rows],
        "oid": [e.oid for e in rows],
        "target": [e.target for e in rows],
        "pack": [e.pack for e in rows],
        "offset": [e.offset for e in rows],
        "chunks": [
            None if e.chunks is None else [{"oid": c.oid, "size": c.size} for c in e.chunks]
            for e in rows
        ],
    }
    arrays = [
        kinds if field.name == "type" else pa.array(columns[field.name], type=field.type)
        for field in schema
    ]
    table = pa.Table.from_arrays(arrays, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def arrow_owned(data: bytes) -> pa.Buffer:
    """A copy of ``data`` in memory that Arrow owns, for readers that use Arrow's threads.

    A reader over Python ``bytes`` keeps a Python object alive inside Arrow, and Arrow's
    worker threads can drop the last reference after ``read()`` has returned. If that happens
    while the interpreter shuts down, the worker cannot take the GIL, is cancelled inside a
    C++ destructor and the whole process aborts ("terminate called without an active
    exception", exit 134): a no-op commit, which exits right after reading its parent's
    manifest, hit it about one run in eight. Arrow-owned memory needs no GIL to be freed.
    """
    import pyarrow as pa

    buffer = pa.allocate_buffer(len(data))
    memoryview(buffer).cast("B")[:] = data
    return buffer


def from_parquet(data: bytes) -> list[Entry]:
    """Parse Parquet bytes back into entries; a malformed manifest is an integrity error."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # ParquetFile, not read_table: read_table imports pyarrow.dataset (+0.17 s).
        table = pq.ParquetFile(pa.BufferReader(arrow_owned(data))).read()
        cols = {}
        for name in _schema().names:
            column = table.column(name)
            # Columns that are all null (chunks, targets, packs in most trees) skip to_pylist.
            all_null = column.null_count == len(column)
            cols[name] = [None] * len(column) if all_null else column.to_pylist()
    except (pa.ArrowException, KeyError) as exc:
        raise IntegrityError(f"manifest is unreadable: {exc}") from None
    entries = []
    for path, kind, mode, size, oid, target, pack, offset, chunks in zip(
        cols["path"],
        cols["type"],
        cols["mode"],
        cols["size"],
        cols["oid"],
        cols["target"],
        cols["pack"],
        cols["offset"],
        cols["chunks"],
        strict=True,
    ):
        entries.append(
            Entry(
                path=path,
                type=kind,
                mode=mode,
                size=size,
                oid=oid,
                target=target,
                pack=pack,
                offset=offset,
                chunks=None
                if chunks is None
                else tuple(Chunk(c["oid"], c["size"]) for c in chunks),
            )
        )
    return entries
