"""The block of ``.gitignore`` that dvlin manages: the paths of committed assets.

Data lives in dvlin, so git should not see it. dvlin writes one block, between marker lines,
in the ``.gitignore`` at the repo root, and rewrites only that block: every other line of the
file stays byte for byte as the user wrote it.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable
from pathlib import Path

BEGIN = "# >>> dvlin: data paths, managed by dvlin (edit outside this block)"
END = "# <<< dvlin"
_SPECIAL = re.compile(r"([\\*?\[\]!#])")


def pattern(path: str) -> str:
    """A gitignore pattern matching exactly ``path`` (repo-relative, POSIX) at the root."""
    escaped = _SPECIAL.sub(r"\\\1", path)
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return "/" + escaped


def render_block(paths: Iterable[str]) -> list[str]:
    """The block's lines for these paths (sorted, without the repo root itself)."""
    body = sorted({pattern(p) for p in paths if p not in ("", ".")})
    return [BEGIN, *body, END] if body else []


def update(root: Path, paths: Iterable[str]) -> bool:
    """Make the managed block of ``root/.gitignore`` list ``paths``; True when the file changed.

    Idempotent; lines outside the block are never touched; without paths and without a
    block, no file is created.
    """
    path = root / ".gitignore"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    block = render_block(paths)
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == BEGIN]
    if starts:
        begin = starts[0]
        end = next(
            (i for i in range(begin, len(lines)) if lines[i].rstrip("\r\n") == END), len(lines) - 1
        )
        new_lines = lines[:begin] + [line + "\n" for line in block] + lines[end + 1 :]
    elif block:
        prefix = lines
        if prefix and not prefix[-1].endswith("\n"):
            prefix = [*prefix[:-1], prefix[-1] + "\n"]
        new_lines = [*prefix, *(line + "\n" for line in block)]
    else:
        return False
    new_text = "".join(new_lines)
    if new_text == text:
        return False
    tmp = path.with_name(f".gitignore.dvlin-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(new_text, encoding="utf-8")
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return True
