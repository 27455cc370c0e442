"""A rich progress bar (files, bytes, rate, ETA) behind dvlin's Progress interface."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

# Short operations should not flash a bar: it appears only after this many seconds.
_SHOW_AFTER = 0.5


class RichProgress:
    """Shows one bar per phase, on stderr, only once a phase has run for half a second."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._label = ""
        self._totals: tuple[int | None, int | None] = (None, None)
        self._done = [0, 0]
        self._started = 0.0

    def start(self, label: str, *, files: int | None = None, bytes: int | None = None) -> None:
        """Begin a phase."""
        self.finish()
        self._label, self._totals, self._done = label, (files, bytes), [0, 0]
        self._started = time.monotonic()

    def advance(self, *, files: int = 0, bytes: int = 0) -> None:
        """Count progress; draw the bar once the phase is slow enough to deserve one."""
        self._done[0] += files
        self._done[1] += bytes
        if self._bar is None:
            if time.monotonic() - self._started < _SHOW_AFTER:
                return
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self._label, total=self._totals[1] or None)
        assert self._task is not None
        self._bar.update(
            self._task,
            completed=self._done[1],
            description=f"{self._label} {self._done[0]:,}/{self._totals[0] or 0:,} files",
        )

    def finish(self) -> None:
        """End the phase and remove the bar."""
        if self._bar is not None:
            self._bar.stop()
        self._bar = None
        self._task = None
