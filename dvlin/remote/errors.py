"""Errors a remote can cause; each knows its exit code and names the remote."""

from __future__ import annotations

from collections.abc import Sequence

from dvlin.errors import ConflictError, IntegrityError, NotFoundError, UsageError


class UnknownRemoteError(NotFoundError):
    """No remote of that name in ``.dvlin/config.toml`` (exit 3)."""


class RemoteMissingError(NotFoundError):
    """The bucket, folder or remote itself does not exist (exit 3)."""


class RemoteUnreachableError(UsageError):
    """The endpoint did not answer, after retries (exit 2: check the URL and options)."""


class RemoteAccessError(UsageError):
    """The store refused access to a prefix (exit 2: check credentials and policies)."""


class RemoteCorruptError(IntegrityError):
    """A file on the remote whose bytes do not match its name or checksum (exit 4)."""


class RemoteFormatError(UsageError):
    """The remote was made by another hash algorithm or a newer dvlin (exit 2)."""


class HeadMovedError(ConflictError):
    """An asset's head on the remote is not an ancestor of what is being pushed (exit 5)."""

    def __init__(
        self, message: str, *, hint: str | None = None, assets: Sequence[str] = ()
    ) -> None:
        super().__init__(message, hint=hint, paths=assets)
        self.assets = tuple(assets)
