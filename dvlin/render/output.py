"""The output environment of one command: terminal or pipe, JSON or text, quiet or not."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

from dvlin.wording import human_bytes as human_bytes

if TYPE_CHECKING:
    from rich.console import Console

    from dvlin.progress import Progress


def short_time(stamp: str) -> str:
    """``2026-11-26T08:34:12.466405Z`` → ``2026-11-26 08:34``."""
    return stamp[:16].replace("T", " ")


@dataclass(eq=False)
class Output:
    """Where a command writes: tests build one around in-memory streams."""

    json: bool = False
    quiet: bool = False
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)

    def __post_init__(self) -> None:
        self.is_terminal = self.stdout.isatty() and not os.environ.get("DVLIN_NO_TTY")

    @cached_property
    def console(self) -> Console:
        """Rich console on stdout (imported only when something is printed through it)."""
        from rich.console import Console

        # Piped output is for grep and logs: never cut cells to an assumed 80 columns.
        return Console(
            file=self.stdout,
            force_terminal=self.is_terminal,
            highlight=False,
            # Cells hold user text (messages, authors, data values): "[x]" is never markup.
            markup=False,
            soft_wrap=not self.is_terminal,
            width=None if self.is_terminal else 1000,
        )

    @cached_property
    def err_console(self) -> Console:
        """Rich console on stderr, for progress bars and conflict lists."""
        from rich.console import Console

        return Console(file=self.stderr, highlight=False, soft_wrap=True)

    def emit_json(self, data: Any) -> None:
        """Write one JSON document to stdout."""
        self.stdout.write(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n")

    @contextmanager
    def pipe_closed_quietly(self) -> Iterator[None]:
        """Stop writing, without a traceback, when the reader goes away (``| head``).

        Long listings stream to stdout; when the pipe closes early, the rest is not wanted.
        stdout is pointed at the null device so the flush at exit does not fail again.
        """
        try:
            yield
            self.stdout.flush()
        except BrokenPipeError:
            try:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, self.stdout.fileno())
                os.close(null)
            except (OSError, ValueError):
                pass

    def print(self, *items: Any) -> None:
        """Print for people, unless quiet or JSON."""
        if not (self.quiet or self.json):
            self.console.print(*items)

    def line(self, text: str) -> None:
        """Print one plain line (no markup), unless quiet or JSON.

        Callers quote user text with :func:`dvlin.render.text.quote`; as a last guard, no
        control character but the newline reaches the terminal from here.
        """
        if not (self.quiet or self.json):
            from dvlin.render.text import quote

            safe = "\n".join(quote(part, marks=False) for part in text.split("\n"))
            self.stdout.write(safe + "\n")

    def lines(self, texts: Iterable[str], *, batch: int = 4096) -> None:
        """:meth:`line` for each text, written a batch at a time (a diff of 500k paths).

        A batch whose texts are all printable (no control character, no newline) is written as
        it is, exactly what :meth:`line` would write; any other batch goes line by line.
        """
        if self.quiet or self.json:
            return
        pending: list[str] = []
        for text in texts:
            pending.append(text)
            if len(pending) >= batch:
                self._write_lines(pending)
                pending = []
        if pending:
            self._write_lines(pending)

    def _write_lines(self, texts: list[str]) -> None:
        if "".join(texts).isprintable():
            self.stdout.write("\n".join(texts) + "\n")
        else:
            for text in texts:
                self.line(text)

    def progress(self) -> Progress:
        """A progress reporter: a rich bar on a terminal, nothing otherwise."""
        from dvlin.progress import NullProgress

        if self.is_terminal and not self.quiet and not self.json:
            from dvlin.render.progress import RichProgress

            return RichProgress(self.err_console)
        return NullProgress()
