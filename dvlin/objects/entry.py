"""One path of a version (``Entry``), and the straightforward reference functions over entries.

The tree digest, path and link checks and validation here are the definitions; the columnar
``Manifest`` (``dvlin.objects.manifest``) computes the same results on Arrow columns, and the
property tests hold the two together.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from dvlin.errors import IntegrityError
from dvlin.objects.hashing import Oid, hasher_factory
from dvlin.values import sealed

EntryType = Literal["file", "dir", "link"]

FILE_MODE = 0o644
EXEC_MODE = 0o755
DIR_MODE = 0o755
LINK_MODE = 0o777

MANIFEST_FORMAT = 1


def normal_mode(kind: EntryType, st_mode: int) -> int:
    """Reduce a stat mode to what dvlin versions: only the executable bit of files."""
    if kind == "file":
        return EXEC_MODE if st_mode & 0o111 else FILE_MODE
    return DIR_MODE if kind == "dir" else LINK_MODE


@sealed
@dataclass(frozen=True, slots=True)
class Chunk:
    """One content-defined chunk of a large file, stored as a loose object."""

    oid: Oid
    size: int


class Entry(NamedTuple):
    """One path of a version. Paths are POSIX, relative to the asset's base folder.

    A NamedTuple rather than a frozen dataclass: a million of these are built per status or
    commit of a big tree, and a frozen dataclass takes five times longer to construct.
    """

    path: str
    type: EntryType
    mode: int
    size: int = 0
    oid: Oid | None = None
    target: str | None = None
    pack: Oid | None = None
    offset: int | None = None
    chunks: tuple[Chunk, ...] | None = None

    def same_content(self, other: Entry | None) -> bool:
        """True when ``other`` has the same type, mode and content (storage may differ)."""
        return (
            other is not None
            and self.type == other.type
            and self.mode == other.mode
            and self.oid == other.oid
            and self.target == other.target
        )

    def storage_oids(self) -> Iterable[str]:
        """The objects this entry's bytes live in."""
        if self.chunks is not None:
            return (c.oid for c in self.chunks)
        if self.pack is not None:
            return (self.pack,)
        if self.oid is not None:
            return (self.oid,)
        return ()


def tree_digest(algorithm: str, entries: Iterable[Entry]) -> str:
    """The content digest of a tree: independent of entry order and of where bytes are stored."""
    lines = sorted(
        f"{e.path}\0{e.type}\0{e.mode:o}\0{e.oid or e.target or ''}\n".encode() for e in entries
    )
    h = hasher_factory(algorithm)()
    h.update(b"".join(lines))
    return h.hexdigest()[:32]


# Empty, absolute, "." or ".." components, doubled or trailing slashes, backslashes, NULs.
_UNSAFE_PATH = re.compile(r"\A\Z|\A/|//|/\Z|(?:\A|/)\.{1,2}(?:/|\Z)|[\\\0]")


def check_path(path: str) -> None:
    """Refuse a manifest path that could escape the folder it is materialised into."""
    if _UNSAFE_PATH.search(path):
        raise IntegrityError(
            f"manifest path {path!r} is not a safe relative path",
            hint="the version or remote is corrupt or hostile; nothing was written",
        )


def leaves_tree(path: str, target: str) -> bool:
    """True when the link at ``path`` points outside the asset (absolute, or climbing out)."""
    if target.startswith("/"):
        return True
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return resolved == ".." or resolved.startswith("../")


def check_link(path: str, target: str) -> None:
    """Refuse a link with no target or a NUL in it.

    A link out of the tree is kept as a link — its target string, as git keeps it — and is
    never followed or written through: checkout checks every parent folder with ``lstat``,
    and :func:`validate` refuses a manifest with paths under a link.
    """
    if not target or "\0" in target:
        raise IntegrityError(
            f"link {path!r} has a malformed target {target!r}",
            hint="the version or remote is corrupt or hostile; nothing was written",
        )


def validate(entries: Sequence[Entry], algorithm: str) -> None:
    """Check every path, link and oid of a manifest before anything is written from it."""
    from dvlin.objects.hashing import digest_length

    oid_ok = re.compile(f"[0-9a-f]{{{digest_length(algorithm)}}}\\Z").match
    unsafe = _UNSAFE_PATH.search
    for e in entries:
        if unsafe(e.path):
            check_path(e.path)
        if e.type == "file":
            if e.oid is None or not oid_ok(e.oid):
                raise IntegrityError(f"manifest entry {e.path!r} has a malformed oid {e.oid!r}")
            for oid in (e.pack, *(c.oid for c in e.chunks or ())):
                if oid is not None and not oid_ok(oid):
                    raise IntegrityError(f"manifest entry {e.path!r} has a malformed oid {oid!r}")
        elif e.type == "link":
            check_link(e.path, e.target or "")
        elif e.type != "dir":
            raise IntegrityError(f"manifest entry {e.path!r} has unknown type {e.type!r}")
    validate_structure(entries)


def validate_structure(entries: Sequence[Entry]) -> None:
    """The checks of :func:`validate` that no entry shows alone: a path listed twice, a path
    under a link."""
    if len({e.path for e in entries}) != len(entries):
        raise IntegrityError("manifest lists a path twice")
    links = {e.path for e in entries if e.type == "link"}
    if links:
        for e in entries:
            parent = e.path.rpartition("/")[0]
            while parent:
                if parent in links:
                    raise IntegrityError(
                        f"manifest entry {e.path!r} lies under the link {parent!r}",
                        hint="the version or remote is corrupt or hostile; nothing was written",
                    )
                parent = parent.rpartition("/")[0]
