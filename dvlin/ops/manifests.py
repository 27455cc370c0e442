"""Load a version's manifest from the store, verified and validated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dvlin.catalog import Version
from dvlin.objects.manifest import SMALL, Entry, Manifest, arrow_owned
from dvlin.objects.store import ObjectError

if TYPE_CHECKING:
    from dvlin.repo import Repo


def load_manifest(
    repo: Repo, version: Version, *, columns: Sequence[str] | None = None
) -> Manifest:
    """The version's manifest; every path and oid is checked before it is returned.

    A manifest missing from the store but present on a remote (a version pulled and never
    checked out) is fetched first. ``columns`` (e.g. ``DIFF_COLUMNS``) reads and checks only
    those on a big manifest: a partial manifest, for readers that compare or list.
    """
    try:
        data = repo.store.get(version.manifest)
    except ObjectError as exc:
        if not repo.config.remotes or repo.store.has(version.manifest):
            raise with_versions(repo, exc) from None
        # A version pulled but never checked out: its manifest is on a remote.
        from dvlin.ops.fetch import fetch_missing

        fetch_missing(repo, [version.manifest])
        try:
            data = repo.store.get(version.manifest)
        except ObjectError as again:
            raise with_versions(repo, again) from None
    # Arrow's own copy, and the bytes dropped: 18 MiB less held while a 1M-row table is built.
    buffer = arrow_owned(data)
    del data
    manifest = Manifest.from_parquet(buffer, columns=columns)
    del buffer
    manifest.validate(repo.config.hash)
    if len(manifest) >= SMALL:
        import pyarrow as pa

        # Validation's scratch columns go back to the system, not to Arrow's allocator cache.
        pa.default_memory_pool().release_unused()
    return manifest


def load_entries(repo: Repo, version: Version) -> dict[str, Entry]:
    """The version's entries by path (for callers not yet ported to :class:`Manifest`)."""
    return load_manifest(repo, version).entry_map()


def with_versions(repo: Repo, exc: ObjectError) -> ObjectError:
    """The same error, naming the versions that use the broken object."""
    users = repo.catalog.versions_using(exc.oid)
    if not users:
        manifest_users = [v.label for v in repo.catalog.versions() if v.manifest == exc.oid]
        users = manifest_users
    message = exc.message
    if users:
        message += f"; used by {', '.join(users)}"
    return ObjectError(message, oid=exc.oid, hint=exc.hint)
