"""Links out of the tree under ``commit --follow-links``: scan what they point at instead."""

from __future__ import annotations

import errno
import os
import stat

from dvlin.errors import UsageError
from dvlin.objects.manifest import normal_mode
from dvlin.workspace.scan import Item


def followed(path: str, base_abs: str, target: str) -> Item:
    """What the link at ``path`` points at, scanned in its place (``commit --follow-links``)."""
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
