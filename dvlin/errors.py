"""The error hierarchy and the exit codes every command shares."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any


class ExitCode(enum.IntEnum):
    """Process exit codes, documented in the README; hooks and CI branch on them."""

    OK = 0
    CHECK_FAILED = 1
    USAGE = 2
    NOT_FOUND = 3
    INTEGRITY = 4
    CONFLICT = 5
    INTERRUPTED = 130


class DvlinError(Exception):
    """Base of every error a user can cause; the CLI shows it as one line plus a hint."""

    exit_code: int = ExitCode.USAGE
    """An :class:`ExitCode`; only :class:`CommandFailedError` passes on another number."""
    report: Any = None
    """A result the command has already shown (on ``--json`` it is the output): the CLI then
    adds only the error line, never a second JSON document."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict[str, object]:
        """The shape written by ``--json`` when a command fails."""
        return {
            "error": self.message,
            "hint": self.hint,
            "exit_code": int(self.exit_code),
            "kind": type(self).__name__,
        }


class UsageError(DvlinError):
    """A bad flag, value, path or malformed configuration file."""

    exit_code = ExitCode.USAGE


class ReadOnlyRepoError(UsageError):
    """A writing command on a repo whose files cannot be written (read-only mount, CI cache)."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"the repo is read-only: cannot write {what}",
            hint="run writing commands where the repo is writable; reading commands (log, "
            "show, ls, status, lineage, fsck, audit verify, …) work on a read-only repo",
        )


class FileSystemError(DvlinError):
    """The operating system refused a read or write: disk full, permission denied, and so on."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None, path: str = "") -> None:
        super().__init__(message, hint=hint)
        self.path = path

    @classmethod
    def from_os(cls, exc: OSError, *, action: str, path: object = None) -> FileSystemError:
        """The error to show for ``exc``, raised while trying to ``action`` (a verb) ``path``."""
        import errno as _errno

        where = str(path if path is not None else (exc.filename or "?"))
        reason = exc.strerror or type(exc).__name__
        hints = {
            _errno.EROFS: f"{where} is on a read-only file system; choose a writable place",
            _errno.ENOSPC: "free some space, then run the command again",
            _errno.EDQUOT: "free some space or raise the quota, then run the command again",
            _errno.EACCES: f"check the permissions of {where}",
            _errno.EPERM: f"check the permissions of {where}",
        }
        return cls(
            f"cannot {action} {where}: {reason.lower()}",
            hint=hints.get(exc.errno or 0, f"check {where}, then run the command again"),
            path=where,
        )


class NotFoundError(DvlinError):
    """Not a repo, or an unknown asset, ref, tag or path."""

    exit_code = ExitCode.NOT_FOUND

    def __init__(
        self, message: str, *, hint: str | None = None, candidates: Sequence[str] = ()
    ) -> None:
        super().__init__(message, hint=hint)
        self.candidates = tuple(candidates)


class AmbiguousRefError(NotFoundError):
    """A ref or id prefix that matches more than one version."""


class IntegrityError(DvlinError):
    """Corrupt or missing object, hash mismatch, or a hostile path in a manifest."""

    exit_code = ExitCode.INTEGRITY

    def __init__(self, message: str, *, hint: str | None = None, report: Any = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report


class ConflictError(DvlinError):
    """Uncommitted changes in the way, an existing tag, or a busy lock."""

    exit_code = ExitCode.CONFLICT

    def __init__(self, message: str, *, hint: str | None = None, paths: Sequence[str] = ()) -> None:
        super().__init__(message, hint=hint)
        self.paths = tuple(paths)


class CheckFailedError(DvlinError):
    """A check failed: a contract, ``audit verify``, ``status --exit-code``, ``lock --check``.

    ``report`` is the result that failed, when the command has already shown it.
    """

    exit_code = ExitCode.CHECK_FAILED

    def __init__(self, message: str, *, hint: str | None = None, report: Any = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report


class CommandFailedError(DvlinError):
    """A command dvlin ran for the user (``dvlin run``, ``repro``) failed.

    dvlin exits with that command's own exit code, as a shell would (1 when it had none, as
    when it could not start); ``report`` is the run.
    """

    exit_code: int = ExitCode.CHECK_FAILED

    def __init__(
        self, message: str, *, code: int | None, hint: str | None = None, report: Any = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.report = report
        self.exit_code = code or ExitCode.CHECK_FAILED
