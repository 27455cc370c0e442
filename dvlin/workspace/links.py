"""Links out of the tree under ``commit --follow-links``: scan what they point at instead."""

from __future__ import annotations

import errno
import os
import stat

from dvlin.errors import UsageError
from dvlin.objects.manifest import normal_mode
from dvlin.workspace.scan import Item

_INTERNAL = frozenset({".dvlin", ".git"})


def followed(path: str, base_abs: str, target: str, store_root: str | None = None) -> Item:
    """What the link at ``path`` points at, scanned in its place (``commit --follow-links``).

    Raises:
        UsageError: the link dangles, loops, or points into ``.dvlin``, ``.git`` or the
            object store (snapshotting a catalog while writing it is never what was meant).
    """
    full = os.path.join(base_abs, path)
    try:
        st = os.stat(full)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UsageError(
                f"symlink {path} -> {target} is a link loop", hint="fix or remove the link"
            ) from None
        raise UsageError(
            f"symlink {path} points to {target}, which does not exist",
            hint="fix or remove the link, or commit without --follow-links to keep it as a link",
        ) from None
    real = os.path.realpath(full)
    inside_store = store_root is not None and (
        real == store_root or real.startswith(store_root.rstrip(os.sep) + os.sep)
    )
    if inside_store or _INTERNAL.intersection(real.split(os.sep)):
        raise UsageError(
            f"symlink {path} -> {target} points into dvlin's or git's own files",
            hint="remove the link, or commit without --follow-links to keep it as a link",
        )
    if stat.S_ISDIR(st.st_mode):
        real, here = os.path.realpath(full), os.path.realpath(os.path.dirname(full))
        if here == real or here.startswith(real.rstrip(os.sep) + os.sep):
            raise UsageError(
                f"symlink {path} -> {target} loops back to a folder that holds it",
                hint="following it would never end; remove the link or keep links as links",
            )
        return Item(path, "dir", normal_mode("dir", st.st_mode), 0, 0, st.st_ino)
    if stat.S_ISREG(st.st_mode):
        return Item(
            path, "file", normal_mode("file", st.st_mode), st.st_size, st.st_mtime_ns, st.st_ino
        )
    raise UsageError(
        f"symlink {path} points to {target}, which is not a regular file or folder",
        hint="remove sockets, pipes and devices from the tree",
    )
