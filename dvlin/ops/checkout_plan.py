"""The checkout plan: which paths to write, remove and keep, decided on columns.

The inputs are manifests (Arrow tables sorted by path): the version to check out (the chosen
paths of it), what the folder holds now, the version it was last synced to, and the version an
interrupted checkout into it was writing. Each comparison is a hash lookup of one path column
in another (``pyarrow.compute.index_in``) followed by element-wise compares of type, mode, oid
and link target, so no Python object is built per path; :class:`Entry` objects are made only
for the rows that change. ``tests/ops/test_checkout_plan.py`` checks the result against a
straightforward per-entry reference on random trees. :func:`never_tracked` asks the asset's
history about the removals no manifest at hand vouches for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.catalog import Version
from dvlin.catalog.gc import GcStore
from dvlin.errors import NotFoundError
from dvlin.objects.manifest import Entry, Manifest, table_entries
from dvlin.objects.store import ObjectError
from dvlin.ops.manifests import load_manifest
from dvlin.values import sealed

if TYPE_CHECKING:
    import pyarrow as pa

    from dvlin.repo import Repo

__all__ = [
    "CheckoutPlan",
    "manifest_of",
    "never_tracked",
    "plan_checkout",
    "select",
    "unknown_paths",
]


@sealed
@dataclass(frozen=True, slots=True)
class CheckoutPlan:
    """What a checkout changes; every tuple is sorted by path."""

    writes: tuple[Entry, ...]
    """Entries of the version whose path is missing or differs in the folder."""
    removals: tuple[Entry, ...]
    """Entries in the folder to remove first: paths the version lacks, or of another type."""
    lost: tuple[Entry, ...]
    """Files and links in the folder that would change and that neither the synced version
    nor the interrupted checkout wrote: uncommitted changes."""
    unvouched: tuple[str, ...]
    """Removals that neither the version, the synced version nor the interrupted checkout
    has: the asset's history must vouch for them before they may go."""
    unchanged: int


def _kernels() -> Any:
    from dvlin.objects import columns

    return columns


def select(manifest: Manifest, paths: Sequence[str]) -> Manifest:
    """The rows at or under any of ``paths`` (all rows when none, ``""`` or ``"."`` is given).

    Raises:
        NotFoundError: one of ``paths`` matches no row.
    """
    if not paths:
        return manifest
    import pyarrow as pa
    import pyarrow.compute as pc

    every = manifest.paths()
    chosen = pa.array([False] * len(every), pa.bool_())
    for raw in paths:
        p = raw.strip("/")
        if p in ("", "."):
            return manifest
        hits = pc.or_(pc.equal(every, p), pc.starts_with(every, p + "/"))
        if not pc.any(hits).as_py():
            raise NotFoundError(
                f"{raw} is not in this version", hint="`dvlin ls REF` lists its files"
            )
        chosen = pc.or_(chosen, hits)
    return manifest.filter(chosen)


def within(manifest: Manifest, paths: Sequence[str]) -> Manifest:
    """The rows at or under any of ``paths`` (all rows when none is given); never raises."""
    if not paths:
        return manifest
    import pyarrow.compute as pc

    every = manifest.paths()
    mask = None
    for raw in paths:
        p = raw.strip("/")
        if p in ("", "."):
            return manifest
        hits = pc.or_(pc.equal(every, p), pc.starts_with(every, p + "/"))
        mask = hits if mask is None else pc.or_(mask, hits)
    return manifest.filter(mask)


def _matched(a: Manifest, b: Manifest) -> pa.Array:
    """For each row of ``a``, the index of the row of ``b`` with the same path, or null."""
    import pyarrow.compute as pc

    return pc.index_in(a.paths(), value_set=b.paths())


def _same_content(a: Manifest, b: Manifest, at: pa.Array) -> pa.Array:
    """Per row of ``a``: ``Entry.same_content`` against ``b``'s row ``at`` (false if none)."""
    import pyarrow.compute as pc

    columns = _kernels()
    found = pc.is_valid(at)
    mask = found
    for name in ("type", "mode", "oid", "target"):
        mine = columns.column(a.table, name)
        theirs = pc.take(columns.column(b.table, name), at)
        mask = pc.and_(mask, columns.same(mine, theirs))
    return pc.fill_null(mask, False)


def _entries(manifest: Manifest, mask: Any) -> tuple[Entry, ...]:
    return tuple(table_entries(manifest.table.filter(mask)))


def plan_checkout(
    wanted: Manifest, every: Manifest, current: Manifest, synced: Manifest, ours: Manifest
) -> CheckoutPlan:
    """Compare the chosen rows of a version with the folder, the synced version and ``ours``.

    ``wanted`` are the chosen rows of the version ``every``; ``current`` holds only paths
    inside the chosen ones; ``ours`` is what an interrupted checkout into the folder was
    writing (empty when none).
    """
    if not (len(current) or len(synced) or len(ours)):
        # A restore (a new folder, or a deleted one): every chosen row is written and
        # nothing else is touched; no kernel (nor pyarrow.compute's import) is needed.
        writes = tuple(wanted.entries())
        return CheckoutPlan(writes=writes, removals=(), lost=(), unvouched=(), unchanged=0)
    import pyarrow.compute as pc

    columns = _kernels()
    in_current = _matched(wanted, current)
    write = pc.invert(_same_content(wanted, current, in_current))

    in_wanted = _matched(current, wanted)
    absent = pc.is_null(in_wanted)
    wanted_type = pc.take(columns.column(wanted.table, "type"), in_wanted)
    other_type = pc.fill_null(
        pc.not_equal(columns.column(current.table, "type"), wanted_type), False
    )
    remove = pc.or_(absent, other_type)
    # A path of the folder is touched when it goes, or when the version writes over it.
    touched = pc.or_(absent, pc.fill_null(pc.take(write, in_wanted), False))
    kept = pc.or_(
        _same_content(current, synced, _matched(current, synced)),
        _same_content(current, ours, _matched(current, ours)),
    )
    is_dir = pc.equal(columns.column(current.table, "type"), "dir")
    lost = pc.and_(touched, pc.invert(pc.or_(kept, is_dir)))

    removals = current.filter(remove)
    vouched = removals.paths()
    unvouched_mask = pc.invert(
        pc.or_(
            pc.or_(
                pc.is_in(vouched, value_set=every.paths()),
                pc.is_in(vouched, value_set=synced.paths()),
            ),
            pc.is_in(vouched, value_set=ours.paths()),
        )
    )
    unvouched = vouched.filter(unvouched_mask).to_pylist()
    writes = _entries(wanted, write)
    return CheckoutPlan(
        writes=writes,
        removals=tuple(removals.entries()),
        lost=_entries(current, lost),
        unvouched=tuple(unvouched),
        unchanged=len(wanted) - len(writes),
    )


def unknown_paths(candidates: Sequence[str], manifests: Iterable[bytes]) -> list[str]:
    """The ``candidates`` (sorted) that none of the Parquet ``manifests`` lists.

    Only the path column of each manifest is decoded, and the lookup is one hash probe per
    candidate, so vouching for a few paths against a long history reads no entry.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    left = pa.array(sorted(set(candidates)), pa.string())
    if not len(left):
        return []
    for data in manifests:
        left = left.filter(pc.invert(pc.is_in(left, value_set=_path_column(data))))
        if not len(left):
            break
    return [str(p) for p in left.to_pylist()]


def _path_column(data: bytes) -> pa.Array:
    """The path column of a Parquet manifest, without decoding its other columns."""
    import pyarrow as pa

    from dvlin.errors import IntegrityError
    from dvlin.objects.manifest import arrow_owned
    from dvlin.objects.manifest_io import parquet_file

    try:
        table = parquet_file(arrow_owned(data)).read(columns=["path"])
    except (pa.ArrowException, OSError, KeyError, ValueError) as exc:
        raise IntegrityError(f"manifest is unreadable: {exc}") from None
    return _kernels().column(table, "path")


def manifest_of(repo: Repo, version_id: str) -> Manifest:
    """A version's manifest, or an empty one when it is gone (expired, or its manifest lost)."""
    version = repo.catalog.version(version_id)
    if version is None or version.id in GcStore(repo.catalog).expired():
        return Manifest.empty()
    try:
        return load_manifest(repo, version)
    except ObjectError:
        return Manifest.empty()


def never_tracked(repo: Repo, version: Version, candidates: Sequence[str]) -> list[str]:
    """The ``candidates`` no version of ``version.asset`` ever tracked (sorted).

    Only asked about paths that neither the version, the synced version nor an interrupted
    checkout has, so the common case reads no manifest. Otherwise manifests are read newest
    first, only while some candidate is unexplained, and only their path column: the cost is
    one hash probe per candidate per version, never an entry per path per version.
    """
    if not candidates:
        return []
    expired = GcStore(repo.catalog).expired()

    def manifests() -> Iterator[bytes]:
        for v in repo.catalog.versions(version.asset):
            if v.id in expired:
                continue
            try:
                yield repo.store.get(v.manifest)
            except ObjectError:
                continue  # a manifest we cannot read cannot vouch for a path

    return unknown_paths(candidates, manifests())


def clean_chunked(files: list[Entry], current: Manifest, synced: Manifest) -> dict[str, Entry]:
    """For each big file to write, the synced version's entry when the folder still holds it.

    The folder's oid comes from the stat cache; the writer trusts it for nothing (it hashes
    what it copies from the file), but a clean copy lets it take the chunks both versions
    share from the file instead of the store (:mod:`dvlin.workspace.chunked`).
    """
    found: dict[str, Entry] = {}
    for e in files:
        if e.chunks is None:
            continue
        now, then = current.get(e.path), synced.get(e.path)
        if (
            now is not None
            and then is not None
            and then.chunks
            and now.type == then.type == "file"
            and (now.oid, now.size) == (then.oid, then.size)
        ):
            found[e.path] = then
    return found
