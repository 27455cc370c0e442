"""``dvlin checkout``: materialise a version byte for byte, into its own path or elsewhere.

Nothing is written until the whole plan is known: every manifest path is validated, the
target is checked (never ``.dvlin``, the store or a folder holding the repo), compared with
the version it was last synced to, and changes that would be lost stop the checkout (unless
``force``); paths no version of the asset tracked are never removed. Writes never pass
through a symlink, every file appears whole (temporary name, then rename; a target that does
not exist yet appears whole, a staging folder renamed into place), and a marker in
``.dvlin`` records the checkout from its first change to its last (see
:mod:`dvlin.workspace.pending`).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin import lean
from dvlin.catalog import Version
from dvlin.catalog.gc import GcStore
from dvlin.errors import (
    ConflictError,
    FileSystemError,
    NotFoundError,
    ReadOnlyRepoError,
    UsageError,
)
from dvlin.faults import IN_CHECKOUT, pause_point
from dvlin.identity import utc_now
from dvlin.objects.manifest import Entry, Manifest
from dvlin.objects.store import ObjectError
from dvlin.ops.checkout_plan import (
    CheckoutPlan,
    clean_chunked,
    manifest_of,
    never_tracked,
    plan_checkout,
    select,
    within,
)
from dvlin.ops.manifests import load_manifest, with_versions
from dvlin.ops.refs import resolve
from dvlin.ops.status import follows, scanned_manifest, stat_cache
from dvlin.progress import NullProgress, Progress
from dvlin.values import sealed
from dvlin.workspace import pending
from dvlin.workspace.folders import (
    make_folders,
    make_staging,
    publish,
    remove,
    remove_empty,
    remove_staging,
)
from dvlin.workspace.materialize import LINK_MODES, LinkMode, Writer, write_link
from dvlin.workspace.scan import LaterScan, scan_columns_later
from dvlin.workspace.target import check_path_column, check_target
from dvlin.workspace.torn import is_torn

if TYPE_CHECKING:
    from dvlin.repo import Repo
    from dvlin.workspace.statcache import StatCache

__all__ = ["CheckoutResult", "LinkMode", "checkout"]

RESTORE_FROM_TABLE = 50_000
"""Rows from which a restore into a new or emptied folder writes from the version's table
(:meth:`Writer.write_table`): below it the entries are small and the table's kernels (the
import of ``pyarrow.compute``, ~70 ms) would cost more than they save."""
_RESTORE = CheckoutPlan(writes=(), removals=(), lost=(), unvouched=(), unchanged=0)


@sealed
@dataclass(frozen=True, slots=True)
class CheckoutResult:
    """What a checkout wrote, removed and left alone."""

    version: Version
    target: str
    link: str
    written: int
    removed: int
    unchanged: int
    bytes_written: int
    link_fallbacks: int
    """Files copied although a link mode was asked for (packed small files, for one)."""
    dry_run: bool = False
    discarded: tuple[str, ...] = ()
    """Paths whose uncommitted changes ``force`` overwrote (or would, in a dry run)."""
    planned_writes: tuple[str, ...] = ()
    planned_removals: tuple[str, ...] = ()
    fallback_reasons: tuple[tuple[str, int], ...] = ()
    """Why files were copied instead of linked: ``(reason, count)`` pairs, sorted."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "dry_run": self.dry_run,
            "discarded": list(self.discarded),
            "writes": list(self.planned_writes),
            "removals": list(self.planned_removals),
            "version": self.version.label,
            "version_id": self.version.id,
            "target": self.target,
            "link": self.link,
            "written": self.written,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "bytes_written": self.bytes_written,
            "link_fallbacks": self.link_fallbacks,
            "link_fallback_reasons": dict(self.fallback_reasons),
        }


def checkout(
    repo: Repo,
    ref: str,
    paths: Sequence[str] = (),
    *,
    to: str | os.PathLike[str] | None = None,
    link: LinkMode = "copy",
    force: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> CheckoutResult:
    """Materialise version ``ref`` (or some of its ``paths``).

    With ``dry_run``, compute and return the plan (what would be written, removed and
    discarded) and change nothing. Only paths that some version of the asset tracked are ever
    removed or overwritten; ``force`` discards changes to those, never anything else.

    Raises:
        ConflictError: changes in the target would be lost (lists them; use ``force``), or the
            target holds paths this asset never tracked (``force`` does not help).
        UsageError: the target is, holds or lies inside ``.dvlin``, the store or the repo.
        IntegrityError: a hostile manifest path, or a corrupt or missing object.
    """
    progress = progress or NullProgress()
    if link not in LINK_MODES:
        raise UsageError(f"unknown link mode {link!r}", hint=f"one of: {', '.join(LINK_MODES)}")
    version = resolve(repo, ref)

    expired_at = GcStore(repo.catalog).expired_at().get(version.id)
    if expired_at is not None:
        raise NotFoundError(
            f"{version.label} expired on {expired_at[:10]} (retention, dvlin gc)",
            hint="its metadata and lineage remain; `dvlin retention` shows what is kept",
        )
    if version.files <= lean.MAX_ROWS:
        lean.without_numpy()  # nothing a checkout does needs NumPy: ~0.1 s less start-up
    in_repo = to is None
    target = str(repo.root / version.base) if in_repo else os.path.abspath(to or ".")
    check_target(
        target,
        repo_root=str(repo.root),
        dvlin_dir=str(repo.dvlin_dir),
        store_root=repo.local_store_root,
        in_place=in_repo,
    )

    # A new folder outside the repo is written aside and published whole by one rename: from
    # a repo this user cannot write (a team's shared store, a read-only mount) it needs no
    # lock and no pending marker, so it is allowed there too, as is any dry run.
    elsewhere_new = not in_repo and not os.path.lexists(target)
    with (
        _no_cycle_collection(),
        _lock_unless_read_only(repo, may_read_only=elsewhere_new or dry_run) as locked,
        _walking(target, version, repo.local_store_root, in_repo) as walking,
    ):
        every = load_manifest(repo, version)  # a missing manifest is fetched from a remote
        check_path_column(every.paths())
        wanted = select(every, paths)
        if repo.config.remotes:
            # Bytes only on a remote: fetch exactly what the chosen paths need, verified,
            # before anything in the workspace is touched.
            from dvlin.ops.fetch import fetch_entries

            fetch_entries(repo, wanted.entries(), progress=progress)
        catalog = repo.catalog
        synced = Manifest.empty()
        if in_repo:
            synced_id = catalog.workspace_version(version.asset)
            synced_version = catalog.version(synced_id) if synced_id else None
            # An expired synced version may have lost its manifest: then nothing counts as
            # committed, and every file that would change is protected (needs --force).
            if synced_version is not None and synced_version.id not in GcStore(catalog).expired():
                synced = (
                    every
                    if synced_version.id == version.id
                    else load_manifest(repo, synced_version)
                )
        # Files an interrupted checkout into this folder already wrote are its work, not edits.
        interrupted = pending.find(repo.dvlin_dir, target)
        ours = Manifest.empty()
        if interrupted:
            ours = (
                every
                if interrupted.version_id == version.id
                else manifest_of(repo, interrupted.version_id)
            )
        # The folder as a manifest, straight from the scan's columns: no entry per path.
        cache = stat_cache(repo, version.base, version.roots, enabled=in_repo)
        cols = walking.result()
        if len(cols) or cache.enabled:
            current, _ = scanned_manifest(repo, cols, cache, base_abs=target)
        else:  # nothing there and no stat cache to tell: no columns to convert
            current = Manifest.empty()
        del cols
        leftovers: list[Entry] = []
        if interrupted:
            current, leftovers = _without_temporary(current)
            if locked and not dry_run:  # a dry run changes nothing; without the lock, another
                pending.remove_temporary_beside(target, version.roots)  # checkout may be writing
        current = within(current, paths)
        # A big restore into a new or emptied folder, recording nothing: the writers read the
        # version's rows straight from its table (no Entry per file held: memory).
        restore = (
            not (in_repo or dry_run or len(current) or len(synced) or len(ours))
            and len(wanted) >= RESTORE_FROM_TABLE
        )
        plan = _RESTORE if restore else plan_checkout(wanted, every, current, synced, ours)
        writes, removals = plan.writes, plan.removals
        strangers = never_tracked(repo, version, plan.unvouched)
        if strangers:
            raise ConflictError(
                f"{_where(version, target, in_repo)} holds {_listed(strangers)}, which no version"
                f" of {version.asset} ever had; refusing to remove them",
                hint="move them away, or check out --to a new folder (--force discards only "
                "changes to paths this asset tracked)",
                paths=strangers,
            )
        lost = [
            e.path
            for e in plan.lost
            if not (interrupted and is_torn(repo.store, target, e, ours.get(e.path)))
        ]
        if lost and not force and not dry_run:
            raise ConflictError(
                f"{_where(version, target, in_repo)} has uncommitted changes that the checkout "
                f"would overwrite: {_listed(lost)}",
                hint="commit them, or use --force to discard them",
                paths=lost,
            )

        if restore:
            dirs = sorted(wanted.within(None, ["dir"]).entries(), key=lambda e: e.path.count("/"))
            links = list(wanted.within(None, ["link"]).entries())
            files: list[Entry] = []
            count, size = wanted.file_count(), wanted.file_bytes()
        else:
            dirs = sorted((e for e in writes if e.type == "dir"), key=lambda e: e.path.count("/"))
            files = [e for e in writes if e.type == "file"]
            links = [e for e in writes if e.type == "link"]
            count, size = len(files), sum(e.size for e in files)
        planned_writes = tuple(e.path for e in writes)
        planned_removals = tuple(sorted({e.path for e in removals}))
        if dry_run:
            return CheckoutResult(
                version=version,
                target=target,
                link=link,
                written=len(writes),
                removed=len(planned_removals),
                unchanged=plan.unchanged,
                bytes_written=size,
                link_fallbacks=0,
                dry_run=True,
                discarded=tuple(lost),
                planned_writes=planned_writes,
                planned_removals=planned_removals,
            )

        # The marker is durable before the first change and goes after the last (catalog
        # included): whatever stops us in between, status and commit can tell. A checkout
        # that changes no file cannot leave a folder half done and needs none (an fsync less).
        if locked and (writes or removals or leftovers or restore):
            pending.begin(
                repo.dvlin_dir,
                pending.PendingCheckout(
                    asset=version.asset,
                    version=version.label,
                    version_id=version.id,
                    target=target,
                    started_at=utc_now(),
                    pid=os.getpid(),
                ),
            )
        # A folder that does not exist yet is written aside and published whole by one
        # rename (workspace/folders): killed at any point, the checkout leaves no file under
        # the target, and nothing in the staging folder needs a temporary name.
        fresh = not os.path.lexists(target)
        if not (locked or fresh):  # no lock and no marker: only a folder written aside is safe
            raise ConflictError(
                f"{target} appeared during the checkout",
                hint="check out into another new folder (the repo is read-only)",
            )
        try:
            if fresh:  # what killed checkouts into it left beside it (none running holds)
                remove_staging(target, interrupted=bool(interrupted) and locked)
            created = make_folders(os.path.dirname(target) if fresh else target)
            try:
                root = make_staging(target) if fresh else target
            except OSError:
                remove_empty(created)
                raise
        except OSError as exc:  # a parent folder this user may not write, a read-only disk
            if locked and not interrupted:
                pending.finish(repo.dvlin_dir, target)  # nothing was changed
            # A folder could not be made: what refused is the folder it was to be made in.
            where = os.path.dirname(str(exc.filename)) if exc.filename else target
            raise FileSystemError.from_os(exc, action="write in", path=where) from None
        writer = Writer(
            repo.store,
            root,
            link=link,
            fresh_root=fresh,
            record=in_repo,
            present={} if fresh else clean_chunked(files, current, synced),
        )
        try:
            remove(root, leftovers)
            removed = remove(root, removals)
            for d in dirs:
                writer.make_dir(d)
            progress.start("checking out", files=count, bytes=size)
            try:
                if restore:
                    writer.write_table(wanted.table, _advance(progress))
                else:
                    writer.write_all(files, _advance(progress))
            except ObjectError as exc:
                raise with_versions(repo, exc) from None
            finally:
                progress.finish()
            for e in links:
                write_link(root, e)
            if fresh:
                publish(root, target)
                fresh = False

            if in_repo:
                _remember(cache, target, files, writer.written)
                with catalog.transaction():
                    cache.save(catalog)
                    if not paths:
                        catalog.set_workspace_version(
                            version.asset, version.id, updated_at=utc_now()
                        )
                from dvlin.ops import lock  # tomllib and the pins: only for a checkout in place

                lock.sync(repo)  # dvlin.lock names what the asset's folder now holds
        except BaseException as exc:
            if fresh:  # not published: nothing of it is visible, and none of it is needed
                remove_staging(target, root)
            if remove_empty(created) and not os.path.lexists(target) and locked:
                pending.finish(repo.dvlin_dir, target)  # nothing of it is left to finish
            if isinstance(exc, OSError):  # disk full, permission denied, read-only target
                where = str(exc.filename or target)
                if root != target and where.startswith(root):  # named as the user knows it
                    where = target + where[len(root) :]
                raise FileSystemError.from_os(exc, action="write", path=where) from None
            raise
        if locked:
            pending.finish(repo.dvlin_dir, target)
        if restore:
            planned_writes = tuple(wanted.paths().to_pylist())
        return CheckoutResult(
            version=version,
            target=target,
            link=link,
            written=count + len(links) + len(dirs),
            removed=removed,
            unchanged=plan.unchanged,
            bytes_written=writer.bytes,
            link_fallbacks=sum(writer.fallbacks.values()),
            fallback_reasons=tuple(sorted(writer.fallbacks.items())),
            discarded=tuple(lost),
            planned_writes=planned_writes,
            planned_removals=planned_removals,
        )


@contextlib.contextmanager
def _lock_unless_read_only(repo: Repo, *, may_read_only: bool) -> Iterator[bool]:
    """Hold the repo's lock (True); on a repo this user cannot write, go on without it (False)
    when ``may_read_only`` (a new folder outside the repo), else refuse with a hint that says
    what does work."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(repo.lock())
        except ReadOnlyRepoError as exc:
            if not may_read_only:
                exc.hint = (
                    "from a read-only repo, check out into a new folder: "
                    "dvlin checkout REF --to NEW_FOLDER"
                )
                raise
            yield False
            return
        yield True


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while a checkout builds its entries.

    A checkout makes a tuple or two per file and frees them all at the end, with no cycles
    among them; the collector would still walk every one of them again and again as they
    pile up: 1.6 s of a 200,000-file restore (the plan's entries and the writers' lanes,
    0.35 s without it), time that grows faster than the file count.
    """
    import gc

    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


@contextlib.contextmanager
def _walking(
    target: str, version: Version, store_root: str | None, in_repo: bool
) -> Iterator[LaterScan]:
    """The target's walk, started in a forked process before pyarrow is imported and the
    manifests read (under the repo lock, so no other checkout changes the folder meanwhile):
    ~0.1 s of a 20,000-file switch. Stopped if the checkout ends before it is taken."""
    walking = scan_columns_later(
        target,
        version.roots,
        store_root=store_root,
        strict=False,
        follow_links=in_repo and follows(version),
    )
    try:
        yield walking
    finally:
        walking.stop()


def _advance(progress: Progress) -> Callable[[Entry], None]:
    if os.environ.get(IN_CHECKOUT):  # the crash tests stop a checkout after its first file

        def advance_and_pause(e: Entry) -> None:
            progress.advance(files=1, bytes=e.size)
            pause_point(IN_CHECKOUT)

        return advance_and_pause
    return lambda e: progress.advance(files=1, bytes=e.size)


def _without_temporary(current: Manifest) -> tuple[Manifest, list[Entry]]:
    """Split off the files under a temporary name an interrupted writer may have left."""
    import pyarrow as pa

    types = current.table.column("type").to_pylist()
    mask = [
        kind == "file" and pending.is_temporary_name(path.rpartition("/")[2])
        for path, kind in zip(current.paths().to_pylist(), types, strict=True)
    ]
    if not any(mask):
        return current, []
    chosen = pa.array(mask, pa.bool_())
    left = current.filter(pa.array([not m for m in mask], pa.bool_()))
    return left, list(current.filter(chosen).entries())


def _where(version: Version, target: str, in_repo: bool) -> str:
    return version.base if in_repo else target


def _listed(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:10])
    return shown + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")


def _remember(
    cache: StatCache,
    target: str,
    files: Sequence[Entry],
    written: Sequence[tuple[Entry, int, int, int]],
) -> None:
    """Tell the stat cache what each file just written stats as, so status need not hash it.

    Files the writer copied were stat'ed on their open descriptor; linked ones are stat'ed
    here (a symlink into the store is never cached).
    """
    from dvlin.workspace.scan import Item

    seen = set()
    for e, size, mtime_ns, inode in written:
        cache.record(Item(e.path, "file", e.mode, size, mtime_ns, inode), e.oid or "")
        seen.add(e.path)
    for e in files:
        if e.path in seen:
            continue
        full = os.path.join(target, e.path)
        st = os.lstat(full)
        if not stat.S_ISLNK(st.st_mode):
            cache.record(
                Item(e.path, "file", e.mode, st.st_size, st.st_mtime_ns, st.st_ino), e.oid or ""
            )
