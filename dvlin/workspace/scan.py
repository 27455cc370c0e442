"""Walk the folders of an asset without following links, and stat what is there."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from typing import NamedTuple, overload

from dvlin.errors import FileSystemError, IntegrityError, UsageError
from dvlin.objects.hashing import Oid
from dvlin.objects.manifest import (
    EXEC_MODE,
    FILE_MODE,
    EntryType,
    check_link,
    leaves_tree,
    normal_mode,
)

# Never versioned: dvlin's own folder, git's, and the lock dvlin rewrites after each commit
# (an asset at the repo root would otherwise never be clean).
SKIP_NAMES = frozenset({".dvlin", ".git", "dvlin.lock"})


class Item(NamedTuple):
    """One thing found on disk. ``path`` is POSIX, relative to the asset's base folder.

    A NamedTuple, like manifest entries, because scans build one per file.
    """

    path: str
    type: EntryType
    mode: int
    size: int
    mtime_ns: int
    inode: int
    target: str | None = None
    oid: Oid | None = None
    """Set for a link into the local object store (``checkout --link symlink``)."""


def _item(
    path: str,
    st: os.stat_result,
    base_abs: str,
    store_root: str | None = None,
    strict: bool = True,
    follow: bool = False,
) -> Item:
    if stat.S_ISREG(st.st_mode):
        return Item(
            path, "file", normal_mode("file", st.st_mode), st.st_size, st.st_mtime_ns, st.st_ino
        )
    if stat.S_ISDIR(st.st_mode):
        return Item(path, "dir", normal_mode("dir", st.st_mode), 0, 0, st.st_ino)
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(os.path.join(base_abs, path))
        if store_root and target.startswith(store_root + "/"):
            # A file checked out with --link symlink: it stands for the object it points at.
            fan, _, rest = target[len(store_root) + 1 :].partition("/")
            try:
                real = os.stat(target)
            except OSError:
                real = None
            if real is not None and len(fan) == 2 and rest and "/" not in rest:
                return Item(
                    path,
                    "file",
                    normal_mode("file", 0o644),
                    real.st_size,
                    real.st_mtime_ns,
                    real.st_ino,
                    None,
                    Oid(fan + rest),
                )
        if follow and leaves_tree(path, target):
            from dvlin.workspace.links import followed

            return followed(path, base_abs, target, store_root)
        if strict:
            try:
                check_link(path, target)
            except IntegrityError as exc:
                raise UsageError(exc.message) from None
        # A link out of the tree is kept as one (its target string), as git keeps it.
        return Item(path, "link", normal_mode("link", st.st_mode), 0, 0, st.st_ino, target)
    raise UsageError(
        f"{path} is not a regular file, folder or symlink",
        hint="remove sockets, pipes and devices from the tree",
    )


def _check_name(path: str) -> None:
    if path.isascii() and "\\" not in path:
        return
    if "\\" in path:
        raise UsageError(
            f"file name {path!r} contains a backslash",
            hint="rename it: dvlin manifests use POSIX paths",
        )
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"file name {path.encode('utf-8', 'surrogateescape')!r} is not valid UTF-8",
            hint="rename it to UTF-8",
        ) from None


class Columns(Sequence[Item]):
    """A scan as parallel lists, one per field of :class:`Item`: no object per file.

    ``dvlin status`` on a million files compares these lists with the stat cache's columns
    (Arrow, vectorised) and builds no per-file Python object when nothing changed.
    """

    __slots__ = ("inode", "mode", "mtime_ns", "oid", "path", "size", "target", "type")

    def __init__(self) -> None:
        self.path: list[str] = []
        self.type: list[EntryType] = []
        self.mode: list[int] = []
        self.size: list[int] = []
        self.mtime_ns: list[int] = []
        self.inode: list[int] = []
        self.target: list[str | None] = []
        self.oid: list[Oid | None] = []

    def __len__(self) -> int:
        return len(self.path)

    @overload
    def __getitem__(self, i: int) -> Item: ...

    @overload
    def __getitem__(self, i: slice) -> list[Item]: ...

    def __getitem__(self, i: int | slice) -> Item | list[Item]:
        if isinstance(i, slice):
            return [self.item(j) for j in range(*i.indices(len(self)))]
        return self.item(i if i >= 0 else i + len(self))

    def __iter__(self) -> Iterator[Item]:
        return self.items()

    def add(self, item: Item) -> None:
        """Append one item."""
        self.path.append(item.path)
        self.type.append(item.type)
        self.mode.append(item.mode)
        self.size.append(item.size)
        self.mtime_ns.append(item.mtime_ns)
        self.inode.append(item.inode)
        self.target.append(item.target)
        self.oid.append(item.oid)

    def item(self, i: int) -> Item:
        """Row ``i`` as an :class:`Item`."""
        return Item(
            self.path[i],
            self.type[i],
            self.mode[i],
            self.size[i],
            self.mtime_ns[i],
            self.inode[i],
            self.target[i],
            self.oid[i],
        )

    def items(self) -> Iterator[Item]:
        """Every row as an :class:`Item`, in scan order."""
        return map(
            Item,
            self.path,
            self.type,
            self.mode,
            self.size,
            self.mtime_ns,
            self.inode,
            self.target,
            self.oid,
        )


def scan(
    base_abs: str,
    roots: Sequence[str],
    *,
    store_root: str | None = None,
    strict: bool = True,
    follow_links: bool = False,
) -> Iterator[Item]:
    """Every file, folder and link under ``roots`` (relative to ``base_abs``), parents first.

    The items of :func:`scan_columns`, one by one (the walk happens before the first item).
    """
    return scan_columns(
        base_abs, roots, store_root=store_root, strict=strict, follow_links=follow_links
    ).items()


def scan_columns(
    base_abs: str,
    roots: Sequence[str],
    *,
    store_root: str | None = None,
    strict: bool = True,
    follow_links: bool = False,
) -> Columns:
    """Every file, folder and link under ``roots`` (relative to ``base_abs``), parents first.

    The order is not sorted, but it is stable while no folder changes (each folder is read in
    the file system's order), which lets the stat cache be compared row by row.

    Roots themselves are not reported when they are ``.``; missing roots yield nothing.
    ``store_root`` is the local object store's folder, whose links stand for files. With
    ``strict`` (commit), a link with an empty target is an error. Links out of the tree are
    reported as links, unless ``follow_links``: then what they point at is scanned in their
    place (a dangling link or a loop is an error).
    """
    cols = Columns()
    for root in roots:
        if root == ".":
            _walk(cols, base_abs, "", store_root, strict, follow_links)
            continue
        full = os.path.join(base_abs, root)
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            continue
        item = _item(root, st, base_abs, store_root, strict, follow_links)
        cols.add(item)
        if item.type == "dir":
            _walk(cols, base_abs, root, store_root, strict, follow_links)
    return cols


def _walk(
    cols: Columns,
    base_abs: str,
    rel: str,
    store_root: str | None,
    strict: bool,
    follow: bool = False,
) -> None:
    # The floor of every command: one lstat per entry, appended to eight lists. A thread pool
    # and a process pool across folders measured no faster on two cores (the loop holds the
    # GIL for most of its time); see benchmarks/bench_scan.py.
    paths, types, modes, sizes = cols.path, cols.type, cols.mode, cols.size
    mtimes, inodes, targets, oids = cols.mtime_ns, cols.inode, cols.target, cols.oid
    is_reg = stat.S_ISREG
    stack = [rel]
    while stack:
        folder = stack.pop()
        where = os.path.join(base_abs, folder) if folder else base_abs
        try:
            it = os.scandir(where)
        except FileNotFoundError:
            continue
        except OSError as exc:  # a folder the user may not read
            raise FileSystemError.from_os(exc, action="read", path=where) from None
        prefix = f"{folder}/" if folder else ""
        with it:
            for d in it:
                name = d.name
                if name in SKIP_NAMES:
                    continue
                path = prefix + name
                if not name.isascii() or "\\" in name:
                    _check_name(path)
                try:
                    st = d.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # removed since the folder was listed: not part of this snapshot
                mode = st.st_mode
                if is_reg(mode):
                    # The common case, kept inline.
                    paths.append(path)
                    types.append("file")
                    modes.append(EXEC_MODE if mode & 0o111 else FILE_MODE)
                    sizes.append(st.st_size)
                    mtimes.append(st.st_mtime_ns)
                    inodes.append(st.st_ino)
                    targets.append(None)
                    oids.append(None)
                    continue
                item = _item(path, st, base_abs, store_root, strict, follow)
                cols.add(item)
                if item.type == "dir":
                    stack.append(path)
