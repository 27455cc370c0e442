"""Content-defined cut points of a big file, found by a forked helper process.

A repo records which **chunker** cuts its big files (``core.chunker``, :data:`CHUNKERS`):
``fastcdc-2016``, the ``fastcdc`` package's loop (every repo made before the choice was
recorded), or ``fastcdc-2020`` (``pyfastcdc``: FastCDC 2020, about twice as fast; new repos).
Both cut the same way from wherever a chunk starts, whatever follows the buffer's end (a cut at
the end of a buffer that is not the file's end is never taken), so everything below holds for
either. A repo keeps its chunker: a new version of a big file shares its unchanged chunks with
the old one only if both were cut alike.

FastCDC's compiled loop holds the GIL for about 0.75 s per GiB. On a commit of one big file
the committing process also reads the file, hashes it three ways (the whole, each chunk, each
pack) and copies new chunks into packs on its threads, and each of those needs the GIL now
and then: behind the cutting loop they waited, and a 1 GiB file took 1.6 s to cut on two
CPUs (docs/benchmarks.md, "Issue 12, sixth pass"). So a process forked from the committing
one (no start-up: it shares the loaded code) maps the file and cuts it, writing each cut's
offset to a pipe as soon as it finds it; the committing process takes the cuts as its reader
comes to them, and its GIL stays free for the rest.

The helper may start at any offset ``start``; the cuts are still exactly those of one pass
from the start of the file. FastCDC's next cut depends only on the bytes from the current
cut on, so once the committing process, cutting from the start itself, makes a cut that the
helper also made, every later cut of the helper is its own too (offset 0 is a cut of every
pass: a helper from the start is followed from the first byte). The committing process reads
and hashes every byte itself; the helper only says where to cut, so a helper that saw other
bytes (a file written meanwhile), failed or never synchronised costs time, never
correctness: the committing process then cuts the rest itself.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import os
import signal
import sys
import warnings
from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import Any

# The helper drops the pages it has cut, every this many bytes: its resident memory stays small.
_RELEASE = 16 * 1024 * 1024

LEGACY_CHUNKER = "fastcdc-2016"
"""The chunker of a repo whose config names none (made before the choice was recorded)."""
DEFAULT_CHUNKER = "fastcdc-2020"
"""The chunker ``dvlin init`` records for a new repo."""
CHUNKERS = (LEGACY_CHUNKER, DEFAULT_CHUNKER)

Cut = Callable[[memoryview], Iterable[Any]]
"""A chunker bound to its sizes: the chunks of a buffer, each with ``offset`` and ``length``."""


def load_chunker(name: str, *, min_size: int, avg_size: int, max_size: int) -> Cut:
    """The compiled loop of chunker ``name`` (one of :data:`CHUNKERS`) for these sizes.

    Raises:
        ValueError: an unknown name (the config's loader refuses one before it gets here).
    """
    if name == LEGACY_CHUNKER:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints a banner when it falls back
            from fastcdc import fastcdc

        sizes = {"min_size": min_size, "avg_size": avg_size, "max_size": max_size}
        return lambda view: fastcdc(view, **sizes)
    if name == DEFAULT_CHUNKER:
        from pyfastcdc import FastCDC

        # Normalised chunking level 1 and gear seed 0 (pyfastcdc's defaults) are part of the
        # cuts: a repo's chunks stay shareable only while they do not change.
        return FastCDC(
            avg_size, min_size=min_size, max_size=max_size, normalized_chunking=1, seed=0
        ).cut_buf
    raise ValueError(f"unknown chunker {name!r}")


class CutHelper:
    """A forked process cutting the file from ``start``, its cuts read as they come.

    :attr:`cuts` holds the absolute offsets received so far (each the end of a chunk, in
    order); :meth:`receive` reads more.
    """

    def __init__(self, pid: int, fd: int, chunker: str) -> None:
        import threading

        self.chunker = chunker
        """The name of the chunker it cuts with."""
        self._pid = pid
        self._fd = fd
        # The committing thread reads the pipe (waiting for cuts); the reader thread polls it
        # (never waiting: it skips a poll while the other reads).
        self._lock = threading.Lock()
        self._partial = b""  # the first bytes of a cut not wholly read yet
        self.cuts: array[int] = array("q")
        self.finished = False
        """No more cuts will come (the helper ended, or failed)."""

    @classmethod
    def start(
        cls, fd: int, start: int, *, chunker: str, min_size: int, avg_size: int, max_size: int
    ) -> CutHelper | None:
        """Fork a helper cutting the file behind ``fd`` from ``start`` with ``chunker``; None
        where it cannot.

        Only on Linux: elsewhere a fork of a process with threads is not safe enough (macOS)
        or does not exist.
        """
        if not sys.platform.startswith("linux"):
            return None
        # Loaded before the fork: the child imports nothing.
        cut = load_chunker(chunker, min_size=min_size, avg_size=avg_size, max_size=max_size)
        read_end, write_end = os.pipe()
        try:
            with warnings.catch_warnings():
                # Python 3.12 warns of any fork with threads running; the helper runs only
                # FastCDC's compiled loop and system calls, and takes no lock another thread
                # may hold.
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return None
        if pid == 0:  # the helper: cut, write, and leave without running any of the parent's
            code = 1  # clean-up (atexit, finally blocks, buffered files)
            try:
                os.close(read_end)
                _keep_only(fd, write_end)
                _send_cuts(fd, start, write_end, cut)
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        return cls(pid, read_end, chunker)

    def receive(self, *, wait: bool) -> None:
        """Read the cuts the helper has sent; ``wait``: at least one more, or its end."""
        with self._lock:
            self._receive(wait=wait)

    def poll(self) -> None:
        """Read the cuts sent so far, unless another thread is reading them now."""
        if self._lock.acquire(blocking=False):
            try:
                self._receive(wait=False)
            finally:
                self._lock.release()

    def _receive(self, *, wait: bool) -> None:
        if self.finished:
            return
        os.set_blocking(self._fd, wait)
        try:
            got = os.read(self._fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            got = b""
        if not got:
            self._end()
            return
        data = self._partial + got
        whole = len(data) - len(data) % self.cuts.itemsize
        self.cuts.frombytes(data[:whole])
        self._partial = data[whole:]

    def _end(self) -> None:
        # Whether it ended well or not, its cuts so far were found on the bytes it saw: the
        # caller checks each one it takes and cuts on by itself when they stop short.
        self.finished = True
        with contextlib.suppress(ChildProcessError):  # reaped already (SIGCHLD ignored)
            os.waitpid(self._pid, 0)
        self._pid = 0

    def close(self) -> None:
        """Stop the helper if it still runs, and reap it."""
        with self._lock:
            self.finished = True
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
        if self._pid:
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = 0


# Helpers forked before the commit needed them (:func:`keep_early`), by the file they cut:
# (st_dev, st_ino) -> ((size, mtime_ns, ctime_ns) when forked, helper).
_early: dict[tuple[int, int], tuple[tuple[int, int, int], CutHelper]] = {}


def _seen(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def keep_early(st: os.stat_result, helper: CutHelper) -> None:
    """Keep ``helper`` (cutting, from offset 0, the file that stats as ``st``) for
    :func:`take_early`; stopped by :func:`drop_early` or when this process exits."""
    import atexit

    if not _early:
        atexit.register(drop_early)
    old = _early.pop((st.st_dev, st.st_ino), None)
    if old is not None:
        old[1].close()
    _early[(st.st_dev, st.st_ino)] = (_seen(st), helper)


def take_early(st: os.stat_result, chunker: str) -> CutHelper | None:
    """The helper kept for the file that stats as ``st``, if it stated the same when the
    helper was forked and cuts with ``chunker`` (else it is stopped: it cuts other bytes, or
    other chunks); None if there is none."""
    got = _early.pop((st.st_dev, st.st_ino), None)
    if got is None:
        return None
    seen, helper = got
    if seen != _seen(st) or helper.chunker != chunker:
        helper.close()
        return None
    return helper


def drop_early() -> None:
    """Stop every kept helper nobody took (their files needed no cutting after all)."""
    while _early:
        _, (_, helper) = _early.popitem()
        helper.close()


def _keep_only(*fds: int) -> None:
    """Close every descriptor of this (forked) process but the standard ones and ``fds``.

    A helper must not hold the committing process's files (a pipe another helper's reader
    waits on to end, the catalog, the repo's lock) any longer than that process does.
    """
    low = 3
    for fd in sorted(fds):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _send_cuts(fd: int, start: int, out: int, cut: Cut) -> None:
    """Cut the file behind ``fd`` from ``start``, writing each cut's offset to ``out``.

    The file is mapped, not read: no copy. A mapping is writable (copy on write, never
    written) because ``fastcdc`` (2016) takes only writable buffers. A file cut short meanwhile ends
    this process with SIGBUS; the committing process then cuts on by itself (and refuses the
    file: its size changed).
    """
    import mmap

    size = os.fstat(fd).st_size
    if size <= start:
        return
    mapped = mmap.mmap(fd, size, access=mmap.ACCESS_COPY)
    with contextlib.suppress(AttributeError, OSError):
        mapped.madvise(mmap.MADV_SEQUENTIAL)
    released = 0
    for c in cut(memoryview(mapped)[start:]):
        end = start + c.offset + c.length
        word = end.to_bytes(8, sys.byteorder, signed=True)
        while word:
            word = word[os.write(out, word) :]
        behind = end - end % mmap.PAGESIZE
        if behind - released >= _RELEASE:
            with contextlib.suppress(AttributeError, OSError):
                mapped.madvise(mmap.MADV_DONTNEED, released, behind - released)
            released = behind


class Cutter:
    """Cut windows of one file in order, taking the helper's cuts once both agree on one.

    :meth:`cut` yields the ends (within the window) of the chunks that end in it; a piece
    left at the end of a window that is not the last is carried into the next by the caller.
    """

    def __init__(
        self,
        *,
        chunker: str,
        min_size: int,
        avg_size: int,
        max_size: int,
        helper: CutHelper | None = None,
        split: int = 0,
    ) -> None:
        self._cut = load_chunker(chunker, min_size=min_size, avg_size=avg_size, max_size=max_size)
        self._max_size = max_size
        self._helper = helper
        self._split = split  # where the helper started
        self._next = -1  # index of the helper's next cut once following it, else -1
        self._last = 0  # the last cut made (file offset)
        self._checked = 0  # the helper's cuts found plausible so far
        if helper is not None and split == 0:
            self._next = 0  # the start of the file is a cut of both

    @property
    def helper(self) -> CutHelper | None:
        """The helper whose cuts this cutter takes (None once it was dropped)."""
        return self._helper

    @property
    def following(self) -> bool:
        """Whether the cuts now come from the helper."""
        return self._next >= 0

    def cut(self, view: memoryview, base: int, *, eof: bool) -> Iterator[int]:
        """Chunk ends in ``view`` (whose first byte is at file offset ``base``)."""
        consumed = 0
        while True:
            if self._next >= 0:
                for at in self._theirs(base + len(view)):
                    consumed = at - base
                    yield consumed
                if consumed == len(view):
                    return
                helper = self._helper
                if helper is not None and self._next < len(helper.cuts) and not eof:
                    return  # its next cut is in a later window
                # It ended short of the file's end, or saw another file: cut the rest here.
                self._drop()
            start = consumed
            for c in self._cut(view[start:]):
                end = start + c.offset + c.length
                if end == len(view) and not eof:
                    return
                consumed = end
                self._last = base + end
                yield end
                if self._synced(base + end):
                    break
            else:
                return

    def _theirs(self, limit: int) -> Iterator[int]:
        """The helper's next cuts up to ``limit`` (waiting for them), each checked."""
        helper = self._helper
        assert helper is not None
        cuts, most = helper.cuts, self._max_size
        while True:
            while self._next < len(cuts) and cuts[self._next] <= limit:
                at = cuts[self._next]
                if not 0 < at - self._last <= most:
                    self._drop()  # not a pass of these sizes: nonsense
                    return
                self._next += 1
                self._last = at
                yield at
            if self._next < len(cuts) or helper.finished:
                return
            helper.receive(wait=True)

    def _synced(self, at: int) -> bool:
        """Whether the helper cut at ``at`` too: then its later cuts are ours."""
        helper = self._helper
        if helper is None or at < self._split:
            return False
        cuts = helper.cuts
        helper.receive(wait=False)
        while not helper.finished and (not cuts or cuts[-1] < at):
            helper.receive(wait=True)  # it is behind: its cuts come faster than ours
        if not self._plausible():
            self._drop()  # not a pass of these sizes: nonsense
            return False
        k = bisect.bisect_left(cuts, at)
        if k < len(cuts) and cuts[k] == at:
            self._next = k + 1
            return True
        if k == len(cuts):
            self._drop()  # past its last cut: it will not catch up
        return False

    def _plausible(self) -> bool:
        """Whether the helper's cuts so far go up from where it started by at most
        ``max_size`` each (checked once each)."""
        assert self._helper is not None
        cuts, most, first = self._helper.cuts, self._max_size, self._checked
        previous = cuts[first - 1] if first else self._split
        for k in range(first, len(cuts)):
            if not 0 < cuts[k] - previous <= most:
                return False
            previous = cuts[k]
            self._checked = k + 1
        return True

    def _drop(self) -> None:
        if self._helper is not None:
            self._helper.close()
        self._helper = None
        self._next = -1

    def close(self) -> None:
        """Stop the helper (if any)."""
        self._drop()
