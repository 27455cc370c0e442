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
    from dvlin.ids import Oid
    from dvlin.objects.manifest import Chunk, Entry
    from dvlin.repo import Repo


@sealed
@dataclass(frozen=True, slots=True)
class Problem:
    """One thing fsck found wrong."""

    kind: str
    """``missing``, ``corrupt``, ``manifest``, ``gc`` or ``record`` (a row the audit log
    disagrees with)."""
    oid: Oid | None
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
    from dvlin.objects.manifest import from_parquet, validate

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
    # object → how it is used: whole (loose, chunk, manifest) or slices of a pack
    users: dict[Oid, set[str]] = defaultdict(set)
    slices: dict[Oid, list[Entry]] = defaultdict(list)
    wholes: set[Oid] = set()
    chunked: list[tuple[str, Entry, Chunk]] = []
    for v in versions:
        users[v.manifest].add(v.label)
        try:
            entries = from_parquet(store.get(v.manifest))
            validate(entries, repo.config.hash)
        except ObjectError as exc:
            kind = "missing" if "missing" in exc.message else "corrupt"
            if kind == "missing" and v.manifest in on_remote:
                continue
            problems.append(Problem(kind, v.manifest, (v.label,), exc.message))
            continue
        except IntegrityError as exc:
            problems.append(Problem("manifest", v.manifest, (v.label,), exc.message))
            continue
        for e in entries:
            if e.type != "file":
                continue
            if e.chunks is not None:
                chunked.extend((v.label, e, c) for c in e.chunks)
            elif e.pack is not None:
                users[e.pack].add(v.label)
                slices[e.pack].append(e)
            elif e.oid is not None:
                users[e.oid].add(v.label)
                wholes.add(e.oid)

    # Chunks in packs (how big files are stored since issue 12) are checked as slices of their
    # pack, read once; chunks of older versions are loose objects.
    where = catalog.find_objects({c.oid for _, _, c in chunked})
    sliced: set[tuple[str, str]] = set()
    for label, e, c in chunked:
        found = where.get(c.oid)
        if found is None or found.pack in (None, "", c.oid):
            users[c.oid].add(label)
            wholes.add(c.oid)
            continue
        assert found.pack is not None
        users[found.pack].add(label)
        if (found.pack, c.oid) not in sliced:
            sliced.add((found.pack, c.oid))
            part = e._replace(size=c.size, oid=c.oid, pack=found.pack, offset=found.offset)
            slices[found.pack].append(part._replace(chunks=None))

    checked = {v.manifest for v in versions}
    todo = sorted((wholes | set(slices)) - checked)
    progress.start("checking objects", files=len(todo))
    total = 0
    for oid in todo:
        try:
            data = store.get(oid)
            total += len(data)
            view = memoryview(data)
            for e in slices.get(oid, ()):
                start = e.offset or 0
                try:
                    store.verify(e.oid or "", view[start : start + e.size], pack=oid)
                except ObjectError as exc:
                    problems.append(
                        Problem(
                            "corrupt",
                            e.oid,
                            tuple(sorted(users[oid])),
                            f"{exc.message} (path {e.path})",
                        )
                    )
        except ObjectError as exc:
            kind = "missing" if "missing" in exc.message else "corrupt"
            if kind == "missing" and oid in on_remote:
                continue
            problems.append(Problem(kind, oid, tuple(sorted(users[oid])), exc.message))
        progress.advance(files=1)
    progress.finish()
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
