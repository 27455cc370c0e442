"""``dvlin init``: make a repo for the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from dvlin.errors import UsageError
from dvlin.objects.hashing import DEFAULT_ALGORITHM
from dvlin.repo import Repo
from dvlin.values import sealed


@sealed
@dataclass(frozen=True, slots=True)
class InitResult:
    """The repo ``dvlin init`` made."""

    root: str
    storage: str
    """The object store's URL, or ``.dvlin/objects`` for the local default."""
    hash: str
    repo_id: str
    chunker: str
    """How its big files are cut into chunks (``core.chunker``)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "root": self.root,
            "storage": self.storage,
            "hash": self.hash,
            "repo_id": self.repo_id,
            "chunker": self.chunker,
        }


def init(
    path: str | os.PathLike[str] = ".", *, storage: str = "", hash: str = DEFAULT_ALGORITHM
) -> InitResult:
    """Create a repo at ``path`` (see :meth:`Repo.init`), refusing stores that die with the process.

    Raises:
        UsageError: a ``memory://`` store, which ends with the command that made it (the
            Python API allows it, for tests).
    """
    if storage.split("://", 1)[0].split("::")[0].lower() == "memory" or storage.startswith(
        "memory:"
    ):
        raise UsageError(
            f"storage {storage!r} lives in memory and ends with this command",
            hint="use a folder or a cloud URL (file:///mnt/objects, s3://bucket/prefix); "
            "memory:// stores are for the Python API in tests",
        )
    with Repo.init(path, storage=storage, hash=hash) as repo:
        return InitResult(
            str(repo.root),
            repo.config.storage or ".dvlin/objects",
            repo.config.hash,
            repo.config.repo_id,
            repo.config.chunker,
        )
