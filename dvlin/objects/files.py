"""Writing a file so that readers see all of it or none of it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable


def write_and_publish(
    fd: int,
    tmp: str,
    final: str,
    pieces: Iterable[bytes | memoryview],
    *,
    check: Callable[[], None] | None = None,
) -> None:
    """Write ``pieces`` to ``fd`` (open on ``tmp``), close it, then rename ``tmp`` to ``final``.

    ``check`` runs after the last byte and before the rename, and may refuse by raising. On any
    failure the temporary file is removed and nothing appears at ``final``. When ``tmp`` is
    ``final`` (a path that did not exist), a failure removes the partial file.
    """
    try:
        try:
            for piece in pieces:
                view = memoryview(piece)
                while view:
                    view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        if check is not None:
            check()
        if tmp != final:
            os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
