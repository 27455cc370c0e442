"""Folders a checkout writes into: real parents only, removals, and the staging folder.

A checkout into a folder that does not exist yet (a restore of a deleted tree, a new ``--to``
folder) writes the whole tree into a hidden staging folder beside it,
``.NAME.dvlin-XXXXXXXX``, and publishes it with one rename at the end: until then the
target does not exist, so a process killed at any point (SIGKILL, power loss) leaves no file
under the target at all, never a torn one, and inside the staging folder nothing can be
overwritten, so files are created under their own names (``O_EXCL``), no rename per file.
Each checkout holds an advisory lock (``flock``) on its staging folder while it writes; the
kernel drops it when the process ends, however it ends. The next checkout into the same target
removes every staging folder of that target no live checkout holds, so a killed checkout's
leftovers go even where no marker was written (a read-only repo, where a checkout takes no
lock), and two checkouts at once never remove each other's.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import stat
from collections.abc import Iterable

from dvlin.errors import ConflictError, IntegrityError
from dvlin.objects.manifest import Entry

__all__ = [
    "make_folders",
    "make_staging",
    "publish",
    "remove",
    "remove_empty",
    "remove_staging",
    "safe_parent",
]


def safe_parent(root: str, path: str, verified: set[str] | None = None) -> str:
    """Make sure every folder above ``path`` under ``root`` is a real folder; return its OS path.

    ``verified`` remembers folders already checked during this checkout; missing ones are made.

    Raises:
        IntegrityError: an ancestor is a symlink or a file (writing would escape or clobber).
    """
    found = _real_parent(root, path, verified, create=True)
    assert found is not None
    return found


def _real_parent(
    root: str,
    path: str,
    verified: set[str] | None,
    *,
    create: bool,
) -> str | None:
    parent, _, _ = path.rpartition("/")
    if parent and (verified is None or parent not in verified):
        current = root
        for part in parent.split("/"):
            current = os.path.join(current, part)
            try:
                st = os.lstat(current)
            except FileNotFoundError:
                if not create:
                    return None  # nothing can be there to remove
                os.mkdir(current)
                continue
            if not stat.S_ISDIR(st.st_mode):
                raise IntegrityError(
                    f"refusing to write {path}: {os.path.relpath(current, root)} is not a real "
                    "folder",
                    hint="a link or file stands where the version has a folder",
                )
        if verified is not None:
            verified.add(parent)
    return f"{root}/{path}"


def remove(root: str, entries: Iterable[Entry]) -> int:
    """Remove paths under ``root``: deepest first, folders only once they are empty."""
    count = 0
    for e in sorted(entries, key=lambda e: e.path.count("/"), reverse=True):
        full = _real_parent(root, e.path, None, create=False)
        if full is None:
            continue
        try:
            if e.type == "dir" and not os.path.islink(full):
                os.rmdir(full)
            else:
                os.unlink(full)
            count += 1
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise ConflictError(
                    f"{e.path} is not empty", hint="files appeared there during the checkout"
                ) from None
            raise
    return count


def make_folders(target: str) -> list[str]:
    """Create ``target`` and any missing parents; return the ones created, outermost first."""
    missing = []
    folder = target
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    missing.reverse()
    for at, folder in enumerate(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue
        except OSError:
            remove_empty(missing[:at])  # none of it is left behind
            raise
    return missing


def remove_empty(created: list[str]) -> bool:
    """Remove the folders a failed checkout created, innermost first, while they are empty."""
    for folder in reversed(created):
        try:
            os.rmdir(folder)
        except OSError:
            return False
    return True


def _staging_prefix(target: str) -> tuple[str, str]:
    folder, name = os.path.split(target.rstrip(os.sep))
    return folder, f".{name[:60]}.dvlin-"


# Staging folders this process is writing, with the descriptor that holds each one's lock.
_HELD: dict[str, int] = {}


def make_staging(target: str) -> str:
    """Create an empty, hidden staging folder beside ``target`` (its parent must exist) and
    hold its lock until :func:`publish` or :func:`remove_staging` lets it go.

    A clean-up by another checkout may take the lock of a folder made here before this
    process does (between the ``mkdir`` and the ``flock``) and remove it; then the folder at
    the path is not the one locked, and another is made. Where the file system has no such
    locks (some network and FUSE file systems), the folder is made without one.
    """
    folder, prefix = _staging_prefix(target)
    while True:
        staging = os.path.join(folder, prefix + os.urandom(4).hex())
        try:
            os.mkdir(staging)
        except FileExistsError:
            continue
        try:
            fd = _lock(staging)
        except OSError as exc:
            if exc.errno not in _NO_LOCKS:
                with contextlib.suppress(OSError):
                    os.rmdir(staging)
                raise
            return staging  # no lock to hold: only a rerun under a marker removes it
        if fd is None:
            continue  # being removed by another checkout's clean-up
        if _still_at(fd, staging):
            _HELD[staging] = fd
            return staging
        os.close(fd)


def _still_at(fd: int, path: str) -> bool:
    """Whether the folder open as ``fd`` is still the one at ``path`` (not removed, not
    replaced since it was opened)."""
    try:
        held, st = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)


# flock() refused by the file system, not held by another process.
_NO_LOCKS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS})


def _lock(folder: str) -> int | None:
    """A descriptor holding ``folder``'s lock, or None when another process holds it.

    Raises:
        OSError: ``folder`` could not be opened as a real folder (a link, a file), or the
            file system has no locks (errno in ``_NO_LOCKS``).
    """
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None  # removed meanwhile
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _release(staging: str) -> None:
    fd = _HELD.pop(staging, None)
    if fd is not None:
        os.close(fd)


def publish(staging: str, target: str) -> None:
    """Move a complete staging folder to ``target`` in one rename.

    Raises:
        ConflictError: something other than an empty folder appeared at ``target`` meanwhile.
    """
    try:
        os.rename(staging, target)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise
        raise ConflictError(
            f"{target} appeared during the checkout", hint="move it away and rerun the checkout"
        ) from None
    _release(staging)


def remove_staging(target: str, staging: str | None = None, *, interrupted: bool = False) -> None:
    """Remove ``staging`` (made by this process), or every staging folder of ``target`` that
    no running checkout holds: what killed checkouts left.

    Where the file system has no locks, which folders are still being written cannot be
    told: they are removed only when ``interrupted`` (the caller holds the repo's lock and a
    marker says a checkout into ``target`` was killed), as before locks were used.

    Only real folders named exactly as :func:`make_staging` names them are removed; links
    are never followed.
    """
    folder, prefix = _staging_prefix(target)
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
        _release(staging)
        return
    pattern = re.compile(re.escape(prefix) + "[0-9a-f]{8}")
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not pattern.fullmatch(name):
            continue
        full = os.path.join(folder, name)
        try:
            fd = _lock(full)
        except OSError as exc:  # a link or a file; or no locks on this file system
            if exc.errno in _NO_LOCKS and interrupted:
                with contextlib.suppress(OSError):
                    if stat.S_ISDIR(os.lstat(full).st_mode):
                        shutil.rmtree(full, ignore_errors=True)
            continue
        if fd is None:
            continue  # a running checkout's
        try:
            if _still_at(fd, full):  # else gone or replaced meanwhile
                shutil.rmtree(full, ignore_errors=True)
        finally:
            os.close(fd)
