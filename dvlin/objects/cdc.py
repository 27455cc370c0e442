"""Content-defined cut points of a file's second half, found by a helper process.

FastCDC's compiled loop holds the GIL for about 0.75 s per GiB, and on a commit of one big
file it is the longest of the threads (docs/benchmarks.md, "Issue 12, third pass"). Threads
cannot share it, so a helper process (``python -m dvlin.objects.cdc``, which imports nothing
heavy) cuts the file from its middle while the committing process cuts from the start.

The result is exactly the cuts of one pass from the start: FastCDC's next cut depends only on
the bytes from the current cut on, so once the first pass makes a cut that the helper also
made, every later cut of the helper is the first pass's too. The committing process reads
and hashes every byte itself; the helper only says where to cut, so a helper that saw other
bytes (a file being written meanwhile), failed or never synchronised costs time, never
correctness: the committing process then cuts the rest itself.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import os
import subprocess
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def load_fastcdc() -> Callable[..., Iterable[Any]]:
    """The compiled ``fastcdc`` function (quietly: it prints a banner when it falls back)."""
    with contextlib.redirect_stdout(io.StringIO()):
        from fastcdc import fastcdc
    return fastcdc  # type: ignore[no-any-return]


def cut_points(
    fd: int, start: int, *, window: int, min_size: int, avg_size: int, max_size: int
) -> array[int]:
    """The end of every chunk of the file behind ``fd`` cut from ``start`` (absolute offsets).

    Reads a window at a time with ``os.pread`` and carries the last piece of each window
    into the next, as the committing process does, so the cuts equal a whole-file pass.
    """
    chunker = load_fastcdc()
    cuts: array[int] = array("q")
    # Room before each window for the piece carried over from the previous one.
    buf = bytearray(max_size + window)
    view = memoryview(buf)
    tail = b""
    base = start  # file offset of the first byte of tail
    pos = start
    while True:
        first = max_size - len(tail)
        buf[first:max_size] = tail
        filled = max_size
        while filled < len(buf) and (n := os.preadv(fd, [view[filled:]], pos)):
            filled += n
            pos += n
        eof = filled < len(buf)
        piece = view[first:filled]
        if not piece:
            break
        consumed = 0
        for c in chunker(piece, min_size=min_size, avg_size=avg_size, max_size=max_size):
            end = c.offset + c.length
            if end == len(piece) and not eof:
                break
            cuts.append(base + end)
            consumed = end
        tail = bytes(piece[consumed:])
        base += consumed
        if eof:
            break
    return cuts


class CutHelper:
    """A helper process cutting from ``start``; :meth:`poll` hands over its cuts when done."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self._out = bytearray()
        self._cuts: array[int] | None = None
        self._failed = False
        assert proc.stdout is not None
        self._fd = proc.stdout.fileno()
        os.set_blocking(self._fd, False)

    @classmethod
    def start(
        cls, fd: int, start: int, *, window: int, min_size: int, avg_size: int, max_size: int
    ) -> CutHelper | None:
        """Start the helper on ``fd`` (inherited); None where it cannot run."""
        if sys.platform == "win32":
            return None
        args = [str(fd), str(start), str(window), str(min_size), str(avg_size), str(max_size)]
        # The helper imports dvlin from where this process did.
        here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        paths = [here, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dvlin.objects.cdc", *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                pass_fds=(fd,),
                env=env,
            )
        except OSError:
            return None
        return cls(proc)

    def poll(self) -> array[int] | None:
        """The helper's cuts once it has finished, without waiting; None until then.

        A helper that failed yields an empty list: the caller cuts the rest itself.
        """
        if self._cuts is not None:
            return self._cuts
        while True:
            try:
                got = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                return None
            except OSError:
                got = b""
                self._failed = True
            if not got:
                break
            self._out += got
        code = self._proc.wait()
        assert self._proc.stdout is not None
        self._proc.stdout.close()
        cuts: array[int] = array("q")
        if code == 0 and not self._failed and len(self._out) % cuts.itemsize == 0:
            cuts.frombytes(bytes(self._out))
        self._cuts = cuts
        return cuts

    def close(self) -> None:
        """Stop the helper if it still runs, and reap it."""
        if self._proc.returncode is None:
            with contextlib.suppress(OSError):
                self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


class Cutter:
    """Cut windows of one file in order, taking the helper's cuts once both agree on one.

    :meth:`cut` yields the ends (within the window) of the chunks that end in it; a piece
    left at the end of a window that is not the last is carried into the next by the caller.
    """

    def __init__(
        self,
        *,
        min_size: int,
        avg_size: int,
        max_size: int,
        helper: CutHelper | None = None,
        split: int = 0,
    ) -> None:
        self._chunker = load_fastcdc()
        self._sizes = {"min_size": min_size, "avg_size": avg_size, "max_size": max_size}
        self._helper = helper
        self._split = split
        self._theirs: array[int] | None = None
        self._next = 0  # index of the helper's next cut

    def cut(self, view: memoryview, base: int, *, eof: bool) -> Iterator[int]:
        """Chunk ends in ``view`` (whose first byte is at file offset ``base``)."""
        consumed = 0
        while True:
            theirs = self._theirs
            if theirs is not None:
                limit = base + len(view)
                while self._next < len(theirs) and theirs[self._next] <= limit:
                    consumed = theirs[self._next] - base
                    self._next += 1
                    yield consumed
                if (self._next < len(theirs) and not eof) or consumed == len(view):
                    return
                # The helper saw another file (it grew or shrank): cut the rest here.
                self._theirs = self._helper = None
            start = consumed
            for c in self._chunker(view[start:], **self._sizes):
                end = start + c.offset + c.length
                if end == len(view) and not eof:
                    return
                consumed = end
                yield end
                if self._synced(base + end):
                    break
            else:
                return

    def _synced(self, at: int) -> bool:
        """Whether the helper cut at ``at`` too: then its later cuts are ours."""
        if self._helper is None or at < self._split:
            return False
        cuts = self._helper.poll()
        if cuts is None:
            return False  # still cutting: look again at our next cut
        if not cuts or not self._plausible(cuts):
            self._helper = None  # it failed
            return False
        k = bisect.bisect_left(cuts, at)
        if k < len(cuts) and cuts[k] == at:
            self._theirs, self._next = cuts, k + 1
            return True
        if k == len(cuts):
            self._helper = None  # past its last cut: it will not catch up
        return False

    def _plausible(self, cuts: array[int]) -> bool:
        """Cuts that go up by at most ``max_size`` (so a carried piece fits a window's room)."""
        previous, most = self._split, self._sizes["max_size"]
        for at in cuts:
            if not 0 < at - previous <= most:
                return False
            previous = at
        return True

    def close(self) -> None:
        """Stop the helper (if any)."""
        if self._helper is not None:
            self._helper.close()
            self._helper = None


def main(argv: list[str]) -> int:
    """``python -m dvlin.objects.cdc FD START WINDOW MIN AVG MAX``: cut points on stdout."""
    fd, start, window, lo, avg, hi = (int(a) for a in argv)
    cuts = cut_points(fd, start, window=window, min_size=lo, avg_size=avg, max_size=hi)
    out = memoryview(cuts.tobytes())
    while out:
        out = out[os.write(1, out) :]
    return 0


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    except BaseException:  # interrupted or failed: the committing process cuts by itself
        code = 1
    os._exit(code)
