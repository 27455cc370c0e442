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

from dvlin.errors import FileSystemError

BEGIN = "# >>> dvlin: data paths, managed by dvlin (edit outside this block)"
END = "# <<< dvlin"
_SPECIAL = re.compile(r"([\\*?\[\]!#])")
# A pattern is one line: a control character in a name (a newline could inject a line of
# its own) becomes ``?``, which matches it and any other single character.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def pattern(path: str) -> str:
    """A gitignore pattern matching exactly ``path`` (repo-relative, POSIX) at the root."""
    escaped = _CONTROL.sub("?", _SPECIAL.sub(r"\\\1", path))
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return "/" + escaped


def render_block(paths: Iterable[str]) -> list[str]:
    """The block's lines for these paths (sorted, without the repo root itself)."""
    body = sorted({pattern(p) for p in paths if p not in ("", ".")})
    return [BEGIN, *body, END] if body else []


def _is(line: str, marker: str) -> bool:
    return line.strip() == marker


def update(root: Path, paths: Iterable[str]) -> bool:
    """Make the managed block of ``root/.gitignore`` list ``paths``; True when the file changed.

    Idempotent; lines outside the block are never touched, byte for byte (CRLF line endings
    and text that is not UTF-8 included); without paths and without a block, no file is
    created. A block whose end marker was deleted by hand ends at its start marker (what
    followed is the user's now); a second block (two branches merged) is dropped.
    """
    path = root / ".gitignore"
    if path.is_symlink():
        # The user's link stays a link: write its target, and only when that is in the repo.
        real, top = Path(os.path.realpath(path)), Path(os.path.realpath(root))
        if not real.is_relative_to(top) or real == top:
            return False
        path = real
    try:
        # surrogateescape: bytes that are not UTF-8 come back out exactly as they went in.
        text = path.read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise FileSystemError.from_os(exc, action="read", path=path) from None
    lines = re.findall(r"[^\n]*\n|[^\n]+", text)  # git splits on \n only, not on \x0c
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    block = [line + newline for line in render_block(paths)]
    kept: list[str] = []
    at: int | None = None
    i = 0
    while i < len(lines):
        if _is(lines[i], BEGIN):
            end = next((j for j in range(i + 1, len(lines)) if _is(lines[j], END)), None)
            if end is not None and any(_is(lines[j], BEGIN) for j in range(i + 1, end)):
                end = None  # a start marker without its end: the next start begins a block
            at = len(kept) if at is None else at
            i = (end if end is not None else i) + 1
            continue
        kept.append(lines[i])
        i += 1
    if at is None:
        if not block:
            return False
        if kept and not kept[-1].endswith("\n"):
            kept[-1] += newline
        at = len(kept)
    new_text = "".join(kept[:at] + block + kept[at:])
    if new_text == text:
        return False
    tmp = path.with_name(f".gitignore.dvlin-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_bytes(new_text.encode("utf-8", "surrogateescape"))
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except OSError as exc:
        raise FileSystemError.from_os(exc, action="write", path=path) from None
    finally:
        tmp.unlink(missing_ok=True)
    return True
