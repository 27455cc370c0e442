"""Load a version's manifest from the store, verified and validated.

Validating a 1M-row manifest costs ~0.15 s of CPU (the path regex is a third of it), and a
diff or a commit reads two. A manifest's bytes are pinned by its oid, so once they have passed
validation the catalog remembers it (``manifest_checks``: the validator's version and the
identity of the store file that held them), and a later read that finds the same file, and
whose bytes still hash to the oid, skips validating again. ``fsck`` never uses the record.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from dvlin.catalog import Version
from dvlin.objects.manifest import SMALL, VALIDATOR, Entry, Manifest, arrow_owned
from dvlin.objects.store import ObjectError

if TYPE_CHECKING:
    import pyarrow as pa

    from dvlin.repo import Repo


def load_manifest(
    repo: Repo, version: Version, *, columns: Sequence[str] | None = None
) -> Manifest:
    """The version's manifest; every path and oid is checked before it is returned.

    A manifest missing from the store but present on a remote (a version pulled and never
    checked out) is fetched first. ``columns`` (e.g. ``DIFF_COLUMNS``) reads and checks only
    those on a big manifest: a partial manifest, for readers that compare or list.
    """
    oid = version.manifest
    try:
        buffer, file = _get(repo, oid)
    except ObjectError as exc:
        if not repo.config.remotes or repo.store.has(oid):
            raise with_versions(repo, exc) from None
        # A version pulled but never checked out: its manifest is on a remote.
        from dvlin.ops.fetch import fetch_missing

        fetch_missing(repo, [oid])
        try:
            buffer, file = _get(repo, oid)
        except ObjectError as again:
            raise with_versions(repo, again) from None
    trusted = file is not None and repo.catalog.manifest_check(oid) == (VALIDATOR, file)
    if trusted or file is None:
        manifest = Manifest.from_parquet(buffer, columns=columns)
        del buffer
        if not trusted:
            manifest.validate(repo.config.hash)
    else:
        # Checked whole (a partial read would leave the storage columns unchecked), once.
        manifest = Manifest.from_parquet(buffer)
        del buffer
        manifest.validate(repo.config.hash)
        _remember(repo, oid, file)
        manifest = manifest.select(columns)
    if len(manifest) >= SMALL:
        import pyarrow as pa

        # Validation's scratch columns go back to the system, not to Arrow's allocator cache.
        pa.default_memory_pool().release_unused()
    return manifest


T = TypeVar("T")


def in_thread(work: Callable[[], T], name: str) -> Callable[[], T]:
    """Start ``work()`` in a thread now; the function returned waits for the thread to end
    and gives what ``work`` returned (or raises what it raised). No thread is left running
    once it has answered: a fork after it (a big file's cut helper) is not refused."""
    import threading

    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name=name)
    thread.start()

    def result() -> T:
        thread.join()
        done, value = outcome[0]
        if not done:
            raise value
        answer: T = value
        return answer

    return result


READ_BESIDE_FROM = 50_000
"""From this many files, :func:`load_manifest_soon` reads and decodes in a thread."""


def load_manifest_soon(repo: Repo, version: Version) -> Callable[[], Manifest]:
    """:func:`load_manifest` of the whole manifest, to be asked for later.

    A big local one is read, verified and decoded now, in a thread (Arrow's decoder runs
    without the GIL), while the caller does other work (a commit compares its scan with the
    stat cache); the catalog is asked, and the rows validated when it does not vouch for
    them, in the calling thread when the result is asked for. Anything unusual (not local,
    unreadable, missing) is left to :func:`load_manifest`, whose errors say what happened.
    """
    path = repo.store.local_path(version.manifest)
    if version.files < READ_BESIDE_FROM or path is None:
        return lambda: load_manifest(repo, version)
    oid, algorithm = version.manifest, repo.config.hash

    def read() -> tuple[Manifest, str | None]:
        buffer, file = _read_local(repo, oid, path)
        return Manifest.from_parquet(buffer), file

    read_now = in_thread(read, "dvlin-manifest-read")

    def result() -> Manifest:
        try:
            manifest, file = read_now()
        except Exception:  # noqa: BLE001 - read again the usual way, errors worded as usual
            return load_manifest(repo, version)
        if file is None or repo.catalog.manifest_check(oid) != (VALIDATOR, file):
            manifest.validate(algorithm)
            if file is not None:
                _remember(repo, oid, file)
        if len(manifest) >= SMALL:
            import pyarrow as pa

            pa.default_memory_pool().release_unused()
        return manifest

    return result


def remember_written(repo: Repo, oid: str, data: bytes) -> None:
    """Record manifest ``oid``, just stored from ``data`` and already validated, as checked.

    The store file is read back and compared with ``data``: an object already stored under
    that oid is not vouched for unless it holds exactly the bytes that were validated.
    """
    path = repo.store.local_path(oid)
    if path is None:
        return
    import pyarrow as pa

    try:
        buffer, file = _read_local(repo, oid, path)
    except (OSError, ObjectError):
        return  # nothing recorded: the next read validates
    if file is not None and buffer.equals(pa.py_buffer(data)):
        _remember(repo, oid, file)


def _remember(repo: Repo, oid: str, file: str) -> None:
    from dvlin.identity import utc_now

    repo.catalog.record_manifest_check(oid, validator=VALIDATOR, file=file, checked_at=utc_now())


def _get(repo: Repo, oid: str) -> tuple[pa.Buffer, str | None]:
    """The object's bytes (verified against ``oid``) in memory Arrow owns, and the identity
    of the local file they were read from (None when the store is not local)."""
    path = repo.store.local_path(oid)
    if path is not None:
        try:
            return _read_local(repo, oid, path)
        except FileNotFoundError:
            pass  # packed, or missing: the store says which
    data = repo.store.get(oid)
    # Arrow's own copy, and the bytes dropped: 18 MiB less held while a 1M-row table is built.
    return arrow_owned(data), None


def _read_local(repo: Repo, oid: str, path: str) -> tuple[pa.Buffer, str | None]:
    """Read a loose object straight into an Arrow buffer and verify it against ``oid``.

    The identity (device, inode, size, mtime, ctime) is taken from the open file before and
    after reading; a file replaced or written to meanwhile gets no identity (None).
    """
    import pyarrow as pa

    with open(path, "rb", buffering=0) as f:
        before = os.fstat(f.fileno())
        buffer = pa.allocate_buffer(before.st_size)
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view):
            got = f.readinto(view[done:])
            if not got:
                break
            done += got
        grown = f.read(1)
        after = os.fstat(f.fileno())
    if done < len(view) or grown:
        # The file changed size while it was read: read it the store's way, vouching for none.
        return arrow_owned(repo.store.get(oid)), None
    repo.store.verify(oid, view)
    file = _identity(before)
    return buffer, file if file == _identity(after) else None


def _identity(st: os.stat_result) -> str:
    """A store file's identity: replacing it (even by the same bytes) or writing to it
    changes the inode or the ctime, which no one can set back."""
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


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
