"""``dvlin checkout``: materialise a version byte for byte, into its own path or elsewhere.

Nothing is written until the whole plan is known: every manifest path is validated, the
target is compared with the version it was last synced to, and changes that would be lost
stop the checkout (unless ``force``). Writes never pass through a symlink.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.catalog import Version
from dvlin.catalog.gc import GcStore
from dvlin.errors import ConflictError, NotFoundError, UsageError
from dvlin.identity import utc_now
from dvlin.objects.manifest import Entry
from dvlin.objects.store import ObjectError
from dvlin.ops.manifests import load_entries, with_versions
from dvlin.ops.refs import resolve
from dvlin.ops.status import workspace_entries
from dvlin.progress import NullProgress, Progress
from dvlin.workspace.materialize import (
    LINK_MODES,
    LinkMode,
    Writer,
    make_dir,
    remove,
    write_link,
)

if TYPE_CHECKING:
    from dvlin.repo import Repo

__all__ = ["CheckoutResult", "LinkMode", "checkout"]


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
    dry_run: bool = False
    discarded: tuple[str, ...] = ()
    """Paths whose uncommitted changes ``force`` overwrote (or would, in a dry run)."""
    planned_writes: tuple[str, ...] = ()
    planned_removals: tuple[str, ...] = ()

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
        }


def _select(entries: dict[str, Entry], paths: Sequence[str]) -> dict[str, Entry]:
    if not paths:
        return entries
    chosen: dict[str, Entry] = {}
    for raw in paths:
        p = raw.strip("/")
        if p in ("", "."):
            return entries
        hits = {k: e for k, e in entries.items() if k == p or k.startswith(p + "/")}
        if not hits:
            raise NotFoundError(
                f"{raw} is not in this version", hint="`dvlin ls REF` lists its files"
            )
        chosen.update(hits)
    return chosen


def _in_selection(path: str, paths: Sequence[str]) -> bool:
    if not paths:
        return True
    return any(path == p.strip("/") or path.startswith(p.strip("/") + "/") for p in paths)


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
    discarded) and change nothing.

    Raises:
        ConflictError: changes in the target would be lost (lists them); use ``force``.
        IntegrityError: a hostile manifest path, or a corrupt or missing object.
    """
    progress = progress or NullProgress()
    if link not in LINK_MODES:
        raise UsageError(f"unknown link mode {link!r}", hint=f"one of: {', '.join(LINK_MODES)}")
    version = resolve(repo.catalog, ref)

    expired_at = GcStore(repo.catalog).expired_at().get(version.id)
    if expired_at is not None:
        raise NotFoundError(
            f"{version.label} expired on {expired_at[:10]} (retention, dvlin gc)",
            hint="its metadata and lineage remain; `dvlin retention` shows what is kept",
        )
    wanted = _select(load_entries(repo, version), paths)  # a missing manifest is fetched
    if repo.config.remotes:
        # Bytes only on a remote: fetch exactly what the chosen paths need, verified, before
        # anything in the workspace is touched.
        from dvlin.ops.pull import fetch_entries

        fetch_entries(repo, wanted.values(), progress=progress)
    in_repo = to is None
    target = str(repo.root / version.base) if in_repo else os.path.abspath(to or ".")
    if os.path.islink(target):
        raise ConflictError(
            f"{target} is a symlink; refusing to write through it",
            hint="remove the link or check out with --to into a real folder",
        )
    if os.path.exists(target) and not os.path.isdir(target):
        raise UsageError(f"{target} exists and is not a folder", hint="choose another --to")

    with repo.lock():
        catalog = repo.catalog
        synced: dict[str, Entry] = {}
        if in_repo:
            synced_id = catalog.workspace_version(version.asset)
            synced_version = catalog.version(synced_id) if synced_id else None
            # An expired synced version may have lost its manifest: then nothing counts as
            # committed, and every file that would change is protected (needs --force).
            if synced_version is not None and synced_version.id not in GcStore(catalog).expired():
                synced = load_entries(repo, synced_version)
        current_list, cache, _ = workspace_entries(
            repo, version.base, version.roots, base_abs=None if in_repo else target
        )
        current = {e.path: e for e in current_list if _in_selection(e.path, paths)}

        writes = [e for p, e in wanted.items() if not e.same_content(current.get(p))]
        # Anything of another type at a written path goes first, as do paths the version lacks.
        removals = [e for p, e in current.items() if p not in wanted]
        removals += [
            current[e.path] for e in writes if e.path in current and current[e.path].type != e.type
        ]
        touched = {e.path for e in writes} | {e.path for e in removals}
        lost = sorted(
            p
            for p in touched
            if p in current
            and current[p].type != "dir"
            and not current[p].same_content(synced.get(p))
        )
        if lost and not force and not dry_run:
            shown = ", ".join(lost[:10]) + (f" and {len(lost) - 10} more" if len(lost) > 10 else "")
            where = version.base if in_repo else target
            raise ConflictError(
                f"{where} has uncommitted changes that the checkout would overwrite: {shown}",
                hint="commit them, or use --force to discard them",
                paths=lost,
            )

        dirs = sorted((e for e in writes if e.type == "dir"), key=lambda e: e.path.count("/"))
        files = [e for e in writes if e.type == "file"]
        links = [e for e in writes if e.type == "link"]
        plan: dict[str, Any] = {
            "discarded": tuple(lost),
            "planned_writes": tuple(sorted(e.path for e in writes)),
            "planned_removals": tuple(sorted({e.path for e in removals})),
        }
        if dry_run:
            return CheckoutResult(
                version=version,
                target=target,
                link=link,
                written=len(writes),
                removed=len(plan["planned_removals"]),
                unchanged=len(wanted) - len(writes),
                bytes_written=sum(e.size for e in files),
                link_fallbacks=0,
                dry_run=True,
                **plan,
            )

        os.makedirs(target, exist_ok=True)
        removed = remove(target, removals)
        for d in dirs:
            make_dir(target, d)
        writer = Writer(
            repo.store,
            target,
            link=link,
            existing={p for p in current if p not in {r.path for r in removals}},
        )
        progress.start("checking out", files=len(files), bytes=sum(e.size for e in files))
        try:
            writer.write_all(files, lambda e: progress.advance(files=1, bytes=e.size))
        except ObjectError as exc:
            raise with_versions(repo, exc) from None
        finally:
            progress.finish()
        for e in links:
            write_link(target, e)

        if in_repo:
            for e in files:
                st = os.lstat(os.path.join(target, e.path))
                if not os.path.islink(os.path.join(target, e.path)):
                    cache.record(_as_item(e, st), e.oid or "")
            with catalog.transaction():
                cache.save(catalog)
                if not paths:
                    catalog.set_workspace_version(version.asset, version.id, updated_at=utc_now())
        return CheckoutResult(
            version=version,
            target=target,
            link=link,
            written=len(files) + len(links) + len(dirs),
            removed=removed,
            unchanged=len(wanted) - len(writes),
            bytes_written=writer.bytes,
            link_fallbacks=writer.fallbacks,
            **plan,
        )


def _as_item(e: Entry, st: os.stat_result):  # type: ignore[no-untyped-def]
    from dvlin.workspace.scan import Item

    return Item(e.path, "file", e.mode, st.st_size, st.st_mtime_ns, st.st_ino)
