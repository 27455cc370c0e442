"""The progress interface the core reports through; the CLI supplies a rich implementation."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives progress of long work; implementations must be cheap to call."""

    def start(self, label: str, *, files: int | None = None, bytes: int | None = None) -> None:
        """A phase begins, with its totals when known."""

    def advance(self, *, files: int = 0, bytes: int = 0) -> None:
        """Some files and bytes of the current phase are done."""

    def finish(self) -> None:
        """The current phase is over."""


class NullProgress:
    """Progress that goes nowhere (scripts, tests, pipes)."""

    def start(self, label: str, *, files: int | None = None, bytes: int | None = None) -> None:
        """Ignore."""

    def advance(self, *, files: int = 0, bytes: int = 0) -> None:
        """Ignore."""

    def finish(self) -> None:
        """Ignore."""
