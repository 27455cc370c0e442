"""``dvlin fsck``: prove every version can still be checked out, and the catalog is sound.

Reads every object every version needs (each once), verifies it against its oid — and each
packed blob against its own — runs SQLite's ``integrity_check``, recomputes the audit chain and
replays it against the catalog (every version id, tag, hold, stage, override and expiry).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.audit.verify import Verification, verify
from dvlin.errors import IntegrityError
from dvlin.objects.store import ObjectError
from dvlin.progress import NullProgress, Progress
from dvlin.values import sealed
from dvlin.wording import plural

if TYPE_CHECKING:
    from dvlin.catalog import Catalog, Version
    from dvlin.repo import Repo


@sealed
@dataclass(frozen=True, slots=True)
class Problem:
    """One thing fsck found wrong."""

    kind: str
    """``missing``, ``corrupt``, ``manifest``, ``gc`` or ``record`` (a row the audit log
    disagrees with)."""
    oid: str | None
    versions: tuple[str, ...]
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "kind": self.kind,
            "oid": self.oid,
            "versions": list(self.versions),
            "message": self.message,
        }


@sealed
@dataclass(frozen=True, slots=True)
class FsckReport:
    """What fsck checked and found."""

    versions: int
    objects: int
    bytes: int
    catalog: str
    audit: Verification
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems and self.catalog == "ok" and self.audit.ok

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "ok": self.ok,
            "versions": self.versions,
            "objects": self.objects,
            "bytes": self.bytes,
            "catalog": self.catalog,
            "audit": self.audit.to_dict(),
            "problems": [p.to_dict() for p in self.problems],
        }


def _load_versions(catalog: Catalog) -> tuple[list[Version], list[Problem]]:
    """Every version row that parses, and a problem naming each one that does not."""
    try:
        return catalog.versions(), []
    except ValueError:
        pass  # a mangled JSON column: read row by row to name it and check the rest
    from dvlin.audit.records import version_label

    found: list[Version] = []
    problems: list[Problem] = []
    for (vid,) in catalog.conn.execute("SELECT id FROM versions ORDER BY asset, number"):
        try:
            v = catalog.version(vid)
        except ValueError:
            label = version_label(catalog.conn, vid) or vid
            problems.append(
                Problem("catalog", None, (label,), f"version {label}: its row is not valid JSON")
            )
            continue
        if v is not None:
            found.append(v)
    return found, problems


def fsck(repo: Repo, *, progress: Progress | None = None) -> FsckReport:
    """Check every version's objects, the catalog file and the audit chain; change nothing."""

    _return_freed_pages()
    progress = progress or NullProgress()
    catalog = repo.catalog
    store = repo.store
    from dvlin.catalog.gc import GcStore

    gc = GcStore(catalog)
    expired = gc.expired()
    # Expired versions may have lost their objects to gc: only kept ones must be whole.
    readable, problems = _load_versions(catalog)
    versions = [v for v in readable if v.id not in expired]
    # A clone holds only what it checked out; objects a remote holds are not missing.
    from dvlin.catalog.remotes import RemoteState

    on_remote = set(RemoteState(catalog).remotes_holding(gc.objects_of(v.id for v in versions)))
    problems += [
        Problem(
            "gc",
            None,
            p.versions,
            f"gc plan {p.id} was interrupted ({plural(len(p.objects), 'object')} to delete); "
            "run `dvlin gc --apply` to finish it",
        )
        for p in gc.plans("in_progress")
    ]
    # Each manifest is read as a table: the objects a version needs come from its columns,
    # and Python objects are made only for objects checked (each once) and for the slices of
    # one pack at a time (a million packed rows as Python tuples were ~460 MB).
    import pyarrow as pa
    import pyarrow.compute as pc

    from dvlin.objects import columns
    from dvlin.objects.manifest import Manifest

    # kind, the object whose users are named, message, the oid shown
    found: list[tuple[str, str, str, str]] = []
    needs: list[tuple[str, Any]] = []  # version label → the unique objects it needs
    slices = _PackSlices()
    wholes: list[Any] = []
    chunked: list[tuple[str, Any]] = []  # version label → the oids of its files' chunks
    progress.start("reading manifests", files=len(versions))
    for v in versions:
        try:
            manifest = Manifest.from_parquet(store.get(v.manifest))
            manifest.validate(repo.config.hash)
        except ObjectError as exc:
            kind = "missing" if "missing" in exc.message else "corrupt"
            if not (kind == "missing" and v.manifest in on_remote):
                problems.append(Problem(kind, v.manifest, (v.label,), exc.message))
            progress.advance(files=1)
            continue
        except IntegrityError as exc:
            problems.append(Problem("manifest", v.manifest, (v.label,), exc.message))
            progress.advance(files=1)
            continue
        whole, packed = columns.file_storage(manifest.table)
        wholes.append(whole)
        chunk_oids = columns.chunk_oids(manifest.table)
        del manifest
        if len(chunk_oids):
            chunked.append((v.label, chunk_oids))
        packs = slices.add(packed)
        del packed
        needs.append((v.label, pc.unique(pa.concat_arrays([whole, packs]))))
        progress.advance(files=1)
    progress.finish()

    # Chunks in packs (how big files are stored since issue 12) are checked as slices of their
    # pack, read once; chunks of older versions are loose objects.
    in_packs = _packed_chunks(catalog, chunked)
    for label, oids in chunked:
        packs = {in_packs[o][0] for o in oids.to_pylist() if o in in_packs}
        needs.append((label, pa.array(sorted(packs), pa.string())))
    for oid, (pack, offset, size) in in_packs.items():
        slices.add_chunk(pack, oid, offset, size)
    checked = {v.manifest for v in versions}
    every = pc.unique(pa.concat_arrays([*wholes, pa.array(slices.packs(), pa.string())]))
    del wholes
    todo = sorted(set(every.to_pylist()) - checked - set(in_packs))
    progress.start("checking objects", files=len(todo))
    total = 0
    for oid in todo:
        try:
            data = store.get(oid)
            total += len(data)
            view = memoryview(data)
            for (blob, start, size), path in slices.of(oid).items():
                try:
                    store.verify(blob, view[start : start + size], pack=oid)
                except ObjectError as exc:
                    found.append(("corrupt", oid, f"{exc.message} (path {path})", blob))
        except ObjectError as exc:
            kind = "missing" if "missing" in exc.message else "corrupt"
            if kind == "missing" and oid in on_remote:
                continue
            found.append((kind, oid, exc.message, oid))
        progress.advance(files=1)
    progress.finish()
    users = _users(needs, {oid for _, oid, _, _ in found})
    problems += [
        Problem(kind, shown, tuple(sorted(users.get(oid, ()))), message)
        for kind, oid, message, shown in found
    ]
    integrity = "; ".join(r[0] for r in catalog.conn.execute("PRAGMA integrity_check"))
    audit = verify(catalog, algorithm=repo.config.hash)
    problems += [Problem("record", None, m.versions, m.problem) for m in audit.mismatches]
    return FsckReport(
        versions=len(versions),
        objects=len(todo) + len(checked),
        bytes=total,
        catalog=integrity,
        audit=audit,
        problems=tuple(problems),
    )


def _return_freed_pages() -> None:
    """Ask Arrow's allocator (mimalloc) to give freed pages back to the system at once rather
    than after a delay, when it has not read its options yet: each manifest's columns are
    freed after its rows are grouped, and kept pages made a 200k-file fsck ~90 MB bigger."""
    import os

    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")


class _PackSlices:
    """The packed rows of every version, grouped by pack, as Arrow tables; a pack's slices
    become Python objects only when that pack is checked (:meth:`of`).

    The slices of a pack are ``(blob oid, offset, size) → path``: each slice once, named by
    the first row that has it (versions in order, rows in manifest order)."""

    __slots__ = ("_chunks", "_runs", "_tables")

    def __init__(self) -> None:
        self._tables: list[Any] = []  # per version: path, oid, offset, size, sorted by pack
        self._runs: dict[str, list[tuple[int, int, int]]] = {}  # pack → (table, start, stop)
        self._chunks: dict[str, list[tuple[str, int, int]]] = defaultdict(list)

    def add(self, packed: Any) -> Any:
        """Keep one version's packed rows (path, oid, pack, offset, size); its packs."""
        import pyarrow as pa
        import pyarrow.compute as pc

        pack = packed.column("pack")
        if isinstance(pack, pa.ChunkedArray):
            pack = pack.combine_chunks()
        if not pa.types.is_dictionary(pack.type):
            pack = pc.dictionary_encode(pack)
        codes, names = pack.indices, pack.dictionary
        if not len(codes):
            return names.cast(pa.string())
        rows = packed.select(["path", "oid", "offset", "size"])
        diffs = pc.pairwise_diff(codes.cast(pa.int64()))
        if (pc.min(diffs).as_py() or 0) < 0:  # not grouped by pack yet
            order = pc.sort_indices(codes)  # stable: rows keep their order within a pack
            rows, codes = rows.take(order), codes.take(order)
            diffs = pc.pairwise_diff(codes.cast(pa.int64()))
        edges = pc.indices_nonzero(pc.fill_null(pc.not_equal(diffs, 0), False)).to_pylist()
        starts, stops = [0, *edges], [*edges, len(codes)]
        at = len(self._tables)
        self._tables.append(rows)
        used = codes.take(pa.array(starts, pa.int64())).to_pylist()
        labels = names.cast(pa.string()).to_pylist()
        for code, start, stop in zip(used, starts, stops, strict=True):
            self._runs.setdefault(labels[code], []).append((at, start, stop))
        return names.cast(pa.string()).take(pa.array(sorted(set(used)), pa.int64()))

    def add_chunk(self, pack: str, oid: str, offset: int, size: int) -> None:
        """A chunk of a big file, stored at ``offset`` in ``pack``."""
        self._chunks[pack].append((oid, offset, size))

    def packs(self) -> list[str]:
        """Every pack with a slice."""
        return sorted({*self._runs, *self._chunks})

    def of(self, pack: str) -> dict[tuple[str, int, int], str]:
        """The slices of ``pack``: ``(blob oid, offset, size) → path``."""
        out: dict[tuple[str, int, int], str] = {}
        for at, start, stop in self._runs.get(pack, ()):
            rows = self._tables[at].slice(start, stop - start)
            for path, oid, offset, size in zip(
                *(rows.column(name).to_pylist() for name in ("path", "oid", "offset", "size")),
                strict=True,
            ):
                out.setdefault((oid or "", offset or 0, size), path)
        for oid, offset, size in self._chunks.get(pack, ()):
            out.setdefault((oid, offset, size), f"chunk {oid}")
        return out


def _users(needs: list[tuple[str, Any]], oids: set[str]) -> dict[str, set[str]]:
    """The labels of the versions that need each of ``oids`` (one pass per version)."""
    if not oids:
        return {}
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = pa.array(sorted(oids), pa.string())
    users: dict[str, set[str]] = defaultdict(set)
    for label, needed in needs:
        for oid in needed.filter(pc.is_in(needed, value_set=wanted)).to_pylist():
            users[oid].add(label)
    return users


def _packed_chunks(
    catalog: Catalog, chunked: list[tuple[str, Any]]
) -> dict[str, tuple[str, int, int]]:
    """``chunk oid → (pack, offset, size)`` for the chunks that live in a pack."""
    wanted = {oid for _, oids in chunked for oid in oids.to_pylist()}
    if not wanted:
        return {}
    found = catalog.find_objects(wanted)
    return {
        oid: (obj.pack, obj.offset or 0, obj.size)
        for oid, obj in found.items()
        if obj.pack not in (None, "", oid)
    }
