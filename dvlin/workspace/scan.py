"""Walk the folders of an asset without following links, and stat what is there."""

from __future__ import annotations

import contextlib

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
import marshal
import mmap
import os
import signal
import stat
import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from itertools import accumulate, groupby, repeat
from operator import and_, attrgetter
from typing import Any, TypeVar

from dvlin.errors import FileSystemError
from dvlin.objects.arrays import Int64s
from dvlin.objects.buffers import aligned_buffer
from dvlin.objects.manifest import EXEC_MODE, FILE_MODE
from dvlin.workspace.scanned import Columns, Item, check_name, item_at

__all__ = ["LOCK_NAME", "SKIP_NAMES", "Columns", "Item", "scan", "scan_columns"]

# Never versioned: dvlin's own folder, git's, and the lock dvlin rewrites after each commit
# (an asset at the repo root would otherwise never be clean).
SKIP_NAMES = frozenset({".dvlin", ".git"})
# The repo's own pins file, skipped only beside ``.dvlin`` (the repo root): a file or folder of
# that name deeper in the data is data like any other.
LOCK_NAME = "dvlin.lock"


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
        item = item_at(root, st, base_abs, store_root, strict, follow_links)
        cols.add(item, st.st_ctime_ns if stat.S_ISREG(st.st_mode) else 0)
        if item.type == "dir":
            _walk(cols, base_abs, root, store_root, strict, follow_links)
    return cols


class LaterScan:
    """A :func:`scan_columns` running in a forked process while the caller does other work."""

    __slots__ = ("_again", "_child")

    def __init__(self, child: _Child | None, again: Callable[[], Columns]) -> None:
        self._child = child
        self._again = again

    def result(self) -> Columns:
        """The columns, exactly as :func:`scan_columns` gives them (and raises its errors)."""
        child, self._child = self._child, None
        if child is not None:
            cols = Columns()
            try:
                answered = child.collect(cols)
            finally:
                child.stop()
            if answered:
                return cols
        return self._again()  # no fork, or no answer: walk here (errors worded as usual)

    def stop(self) -> None:
        """Kill the walker if its result is not wanted any more (an error, Ctrl-C)."""
        child, self._child = self._child, None
        if child is not None:
            child.stop()


def scan_columns_later(
    base_abs: str,
    roots: Sequence[str],
    *,
    store_root: str | None = None,
    strict: bool = True,
    follow_links: bool = False,
) -> LaterScan:
    """Start :func:`scan_columns` now in a forked process; take its columns with ``result()``.

    A checkout walks the folder while it imports pyarrow and reads manifests (~0.1 s of a
    20,000-file switch). The child walks as :func:`scan_columns` does (forking its own
    helper), so the rows and their order are the same; without a fork (threads running, one
    worker) ``result()`` walks in this process.
    """

    def walk() -> Columns:
        return scan_columns(
            base_abs, roots, store_root=store_root, strict=strict, follow_links=follow_links
        )

    # A folder that is not there (a restore) is not worth a fork.
    return LaterScan(_Child.fork(walk) if os.path.lexists(base_abs) else None, walk)


def _walk(
    cols: Columns,
    base_abs: str,
    rel: str,
    store_root: str | None,
    strict: bool,
    follow: bool = False,
) -> None:
    # The walk is the floor of every command, and most of it is one lstat per entry. Two
    # processes halve it on two cores (threads do not: the loop holds the GIL). The order of
    # the rows is a function of the tree alone, forked or not: the folder itself (and any chain
    # of lone subfolders) first, then every other subfolder from the first one, then the rest
    # (walked in a child process when there is one). The stat cache's fingerprint relies on it.
    folders = [rel]
    while len(folders) == 1:
        folders = _read_folder(cols, base_abs, folders[0], store_root, strict, follow)
    mine, theirs = folders[::2], folders[1::2]
    child = _Child.start(base_abs, theirs, store_root, strict, follow) if theirs else None
    try:
        _walk_folders(cols, base_abs, mine, store_root, strict, follow)
        if child is None or not child.collect(cols):
            _walk_folders(cols, base_abs, theirs, store_root, strict, follow)
    finally:
        if child is not None:
            child.stop()


def _walk_folders(
    cols: Columns,
    base_abs: str,
    folders: list[str],
    store_root: str | None,
    strict: bool,
    follow: bool,
) -> None:
    stack = folders[::-1]
    while stack:
        stack.extend(_read_folder(cols, base_abs, stack.pop(), store_root, strict, follow))


def _read_folder(
    cols: Columns,
    base_abs: str,
    folder: str,
    store_root: str | None,
    strict: bool,
    follow: bool,
) -> list[str]:
    """Add one folder's entries to ``cols``; its subfolders, in listing order."""
    if _FD_WALK:
        return _read_folder_at(cols, base_abs, folder, store_root, strict, follow)
    return _read_folder_entries(cols, base_abs, folder, store_root, strict, follow)


# The folder's names, then one ``fstatat`` per name relative to the folder's descriptor (the
# kernel looks up one name, not the whole path), each loop run in C (``map``) rather than
# Python bytecode per file: a folder of regular files costs a handful of Python lines.
_FD_WALK = os.listdir in os.supports_fd and os.stat in os.supports_dir_fd
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_Buffer = TypeVar("_Buffer", bytearray, mmap.mmap)
_MODE = attrgetter("st_mode")
_SIZE = attrgetter("st_size")
_MTIME = attrgetter("st_mtime_ns")
_INODE = attrgetter("st_ino")
_CTIME = attrgetter("st_ctime_ns")


def _read_folder_at(
    cols: Columns,
    base_abs: str,
    folder: str,
    store_root: str | None,
    strict: bool,
    follow: bool,
) -> list[str]:
    """:func:`_read_folder_entries`, the same rows in the same order, by columns."""
    where = os.path.join(base_abs, folder) if folder else base_abs
    try:
        fd = os.open(where, _DIR_FLAGS)
    except FileNotFoundError:
        return []
    except OSError as exc:  # a folder the user may not read
        raise FileSystemError.from_os(exc, action="read", path=where) from None
    try:
        try:
            names = os.listdir(fd)
        except OSError as exc:
            raise FileSystemError.from_os(exc, action="read", path=where) from None
        if not SKIP_NAMES.isdisjoint(names) or LOCK_NAME in names:
            lock = LOCK_NAME in names and os.path.isdir(os.path.join(where, ".dvlin"))
            names = [n for n in names if n not in SKIP_NAMES and not (lock and n == LOCK_NAME)]
        if not names:
            return []
        prefix = f"{folder}/" if folder else ""
        text = prefix + f"\0{prefix}".join(names) + "\0"
        if not text.isascii() or "\\" in text:
            for name in names:  # in listing order, as the entries' walk refuses them
                if not name.isascii() or "\\" in name:
                    check_name(prefix + name)
        try:
            stats: list[os.stat_result | None] = list(
                map(partial(os.stat, dir_fd=fd, follow_symlinks=False), names)
            )
        except FileNotFoundError:  # one went since the folder was listed: stat one by one
            stats = [_lstat_at(fd, where, name) for name in names]
        except OSError as exc:  # a folder the user may list but not search (no x bit)
            raise _unstattable(exc, where) from None
    finally:
        os.close(fd)
    modes = list(map(_MODE, stats)) if None not in stats else None
    if modes is None or not all(map(stat.S_ISREG, modes)):
        return _add_mixed(cols, base_abs, prefix, names, stats, store_root, strict, follow)
    # Every entry is a regular file (the common folder): whole columns at once.
    n = len(names)
    data = text.encode()
    if len(data) == len(text):  # ASCII: a path's bytes are its characters
        ends = accumulate(map((len(prefix) + 1).__add__, map(len, names)))
    else:
        extra = len(prefix.encode()) + 1
        ends = accumulate(map(extra.__add__, map(len, map(str.encode, names))))
    cols.path.extend_raw(data, ends)
    cols.type.extend(repeat("file", n))
    if any(map(and_, modes, repeat(0o111))):
        cols.mode.fromlist([EXEC_MODE if m & 0o111 else FILE_MODE for m in modes])
    else:
        cols.mode.fromlist([FILE_MODE] * n)
    # ``fromlist`` sizes the array once (``extend`` from an iterator grows it item by item).
    cols.size.fromlist(list(map(_SIZE, stats)))
    cols.mtime_ns.fromlist(list(map(_MTIME, stats)))
    cols.inode.fromlist(list(map(_INODE, stats)))
    cols.target.extend(repeat(None, n))
    cols.oid.extend(repeat(None, n))
    cols.ctime_ns.fromlist(list(map(_CTIME, stats)))
    return []


def _lstat_at(fd: int, where: str, name: str) -> os.stat_result | None:
    """``lstat`` of ``name`` in the folder ``where``, open as ``fd``; None when it is not
    there."""
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _unstattable(exc, where) from None


def _unstattable(exc: OSError, where: str) -> FileSystemError:
    """The error for an entry of the folder ``where`` whose ``lstat`` failed."""
    name = exc.filename if isinstance(exc.filename, str) else ""
    return FileSystemError.from_os(exc, action="read", path=os.path.join(where, name))


def _add_mixed(
    cols: Columns,
    base_abs: str,
    prefix: str,
    names: list[str],
    stats: list[os.stat_result | None],
    store_root: str | None,
    strict: bool,
    follow: bool,
) -> list[str]:
    """Add a folder's entries one by one (folders, links, vanished names among them)."""
    subfolders: list[str] = []
    for name, st in zip(names, stats, strict=True):
        if st is None:
            continue  # removed since the folder was listed: not part of this snapshot
        path = prefix + name
        if stat.S_ISREG(st.st_mode):
            cols.add(_file_item(path, st), st.st_ctime_ns)
            continue
        item = item_at(path, st, base_abs, store_root, strict, follow)
        cols.add(item)
        if item.type == "dir":
            subfolders.append(path)
    return subfolders


def _file_item(path: str, st: os.stat_result) -> Item:
    mode = EXEC_MODE if st.st_mode & 0o111 else FILE_MODE
    return Item(path, "file", mode, st.st_size, st.st_mtime_ns, st.st_ino)


def _read_folder_entries(
    cols: Columns,
    base_abs: str,
    folder: str,
    store_root: str | None,
    strict: bool,
    follow: bool,
) -> list[str]:
    """Add one folder's entries to ``cols`` entry by entry (``os.scandir``); its subfolders.

    The reference the column-wise reader is checked against, and the walk where folders
    cannot be opened as descriptors.
    """
    subfolders: list[str] = []
    where = os.path.join(base_abs, folder) if folder else base_abs
    try:
        it = os.scandir(where)
    except FileNotFoundError:
        return subfolders
    except OSError as exc:  # a folder the user may not read
        raise FileSystemError.from_os(exc, action="read", path=where) from None
    prefix = f"{folder}/" if folder else ""
    with it:
        for d in it:
            name = d.name
            if name in SKIP_NAMES or (
                name == LOCK_NAME and os.path.isdir(os.path.join(where, ".dvlin"))
            ):
                continue
            path = prefix + name
            if not name.isascii() or "\\" in name:
                check_name(path)
            try:
                st = d.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed since the folder was listed: not part of this snapshot
            except OSError as exc:  # a folder the user may list but not search (no x bit)
                raise FileSystemError.from_os(exc, action="read", path=d.path) from None
            if stat.S_ISREG(st.st_mode):
                cols.add(_file_item(path, st), st.st_ctime_ns)
                continue
            item = item_at(path, st, base_abs, store_root, strict, follow)
            cols.add(item)
            if item.type == "dir":
                subfolders.append(path)
    return subfolders


def _workers() -> int:
    """How many processes may walk a tree: ``DVLIN_SCAN_WORKERS`` (1 or 2, default 2)."""
    return 1 if os.environ.get("DVLIN_SCAN_WORKERS", "2").strip() == "1" else 2


class _Child:
    """A forked process walking some folders and sending their columns back (raw buffers).

    Anything that goes wrong in the child (an unreadable folder, a bad name, Ctrl-C) makes it
    exit without an answer; the parent then walks those folders itself, so errors are raised
    (and worded) exactly as in a single walk.
    """

    __slots__ = ("pid", "read_fd")

    def __init__(self, pid: int, read_fd: int) -> None:
        self.pid = pid
        self.read_fd = read_fd

    @classmethod
    def start(
        cls,
        base_abs: str,
        folders: list[str],
        store_root: str | None,
        strict: bool,
        follow: bool,
    ) -> _Child | None:
        """Fork a walker, or None where forking is not safe or not possible."""

        def walk() -> Columns:
            cols = Columns()
            _walk_folders(cols, base_abs, folders, store_root, strict, follow)
            return cols

        return cls.fork(walk)

    @classmethod
    def fork(cls, walk: Callable[[], Columns]) -> _Child | None:
        """Fork a process that sends back what ``walk`` returns, or None where not safe."""
        if _workers() < 2 or not hasattr(os, "fork") or _threads_running():
            return None  # a fork with other threads running could inherit a held lock
        read_fd, write_fd = os.pipe()
        _widen(write_fd)
        try:
            pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            return None
        if pid == 0:  # pragma: no cover - the child (measured through the parent's answer)
            code = 1
            try:
                os.close(read_fd)
                _die_with_parent()
                _send(write_fd, walk())
                code = 0
            except BaseException:  # noqa: BLE001 - the parent walks these folders again
                pass
            finally:
                os._exit(code)
        os.close(write_fd)
        return cls(pid, read_fd)

    def collect(self, cols: Columns) -> bool:
        """Append the child's rows to ``cols``; False when it had no answer."""
        got = _receive(self.read_fd)
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if status != 0 or got is None:
            return False
        n, body, sizes, lists = got
        view = memoryview(body)
        ends = list(accumulate(sizes))
        starts = Int64s()
        starts.frombytes(view[ends[0] : ends[1]])
        if n and starts[-1] != sizes[0]:
            return False  # a garbled answer: walk those folders here
        cols.path.extend_raw(bytes(view[: ends[0]]), starts)
        for own, at, end in zip(_arrays(cols), ends[1:-1], ends[2:], strict=True):
            own.frombytes(view[at:end])
        for own_list, runs in zip(_lists(cols), lists, strict=True):
            for value, count in runs:
                own_list.extend(repeat(value, count))
        return True

    def stop(self) -> None:
        """Close the pipe; kill and reap the child if it is still there (Ctrl-C, an error)."""
        os.close(self.read_fd)
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0


def _widen(fd: int) -> None:
    """Linux: a pipe of up to 1 MiB, so the child's columns (tens of MB at a million files)
    cross in a few dozen writes rather than a thousand 64 KiB ones, each a wake-up."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setsize is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, setsize, 1 << 20)


def _arrays(cols: Columns) -> tuple[array[int], ...]:
    """The number columns, in the order the child sends them."""
    return (cols.mode, cols.size, cols.mtime_ns, cols.inode, cols.ctime_ns)


def _lists(cols: Columns) -> tuple[list[Any], ...]:
    """The object columns, in the order the child sends them."""
    return (cols.type, cols.target, cols.oid)


def _send(fd: int, cols: Columns) -> None:  # pragma: no cover - runs in the child
    """Write a walk's columns to ``fd``: a small marshalled head, then the columns' raw bytes.

    The head holds the row count, each buffer's size, and the three object columns (type,
    target, oid) as runs of equal values (``("file", 1000)``: a folder of files is one run,
    a million ``None`` one). The buffers are the path bytes, the path ends, then the
    number arrays, written from their own memory (no marshalled copy of them).
    """
    data, ends = cols.path.raw()
    buffers: list[bytes | memoryview] = [data, ends]
    buffers += (memoryview(a).cast("B") for a in _arrays(cols))
    n = len(cols)
    lists = [[(v, len(list(run))) for v, run in groupby(values)] for values in _lists(cols)]
    head = marshal.dumps((n, [len(b) for b in buffers], lists))
    chunks: list[bytes | memoryview] = [len(head).to_bytes(8, "little"), head, *buffers]
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]


def _receive(fd: int) -> tuple[int, mmap.mmap | bytearray, list[int], list[Any]] | None:
    """What :func:`_send` wrote: the row count, the buffers in one bytearray, their sizes and
    the object columns; None when the writer stopped short or the answer does not add up."""
    size = _read_into(fd, bytearray(8))
    head = _read_into(fd, bytearray(int.from_bytes(size, "little"))) if size else None
    if head is None:
        return None
    try:
        n, sizes, lists = marshal.loads(head)
    except (EOFError, ValueError, TypeError):
        return None
    if (
        not isinstance(n, int)
        or not isinstance(sizes, list)
        or len(sizes) != 7
        or not all(isinstance(s, int) and s >= 0 for s in sizes)
        or any(s != 8 * n for s in sizes[1:])
        or not isinstance(lists, list)
        or len(lists) != 3
        or not all(
            isinstance(runs, list)
            and all(isinstance(r, tuple) and len(r) == 2 and isinstance(r[1], int) for r in runs)
            and sum(r[1] for r in runs) == n
            for runs in lists
        )
    ):
        return None
    # Page-aligned: the kernel's copy into a bytearray's buffer is 3-4x slower here (buffers.py).
    total = sum(sizes)
    body = _read_into(fd, aligned_buffer(total)) if total else bytearray()
    return None if body is None else (n, body, sizes, lists)


def _threads_running() -> bool:
    """True when this process runs more threads than the main one."""
    import threading

    return threading.active_count() > 1


def _read_into(fd: int, buffer: _Buffer) -> _Buffer | None:
    """Fill ``buffer`` from ``fd``; None if the writer stopped short."""
    view = memoryview(buffer)
    done = 0
    while done < len(buffer):
        got = os.readv(fd, [view[done:]])
        if not got:
            return None
        done += got
    view.release()
    return buffer


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: have the kernel kill this child if the parent dies (kill -9) mid-walk."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
