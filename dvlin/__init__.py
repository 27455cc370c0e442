"""dvlin: data versioning and lineage for ML and data teams.

The Python API mirrors the CLI: ``Repo.init(path)``, ``Repo.open(path)``, then
``repo.commit(...)``, ``repo.status()``, ``repo.checkout(...)``, ``repo.log()``,
``repo.resolve(ref)``; each returns plain frozen dataclasses (``Repo`` is
:class:`dvlin.api.Repo`). ``with dvlin.track(...)``
records a run from inside a script (see :mod:`dvlin.tracking`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from dvlin.errors import DvlinError, ExitCode
from dvlin.version import __version__

if TYPE_CHECKING:
    from dvlin.api import Repo
    from dvlin.tracking import track

__all__ = ["DvlinError", "ExitCode", "Repo", "__version__", "track"]


def _register_fsspec() -> None:
    # ``dvlin://`` is registered through the ``fsspec.specs`` entry point when dvlin is
    # installed; this covers a source checkout. Only when fsspec is already loaded: importing
    # it here would add 0.1 s to every command's start-up.
    fsspec = sys.modules.get("fsspec")
    if fsspec is not None:
        fsspec.register_implementation("dvlin", "dvlin.fs.DvlinFileSystem", clobber=True)


_register_fsspec()


def __getattr__(name: str) -> Any:
    # Repo pulls in the catalog and config; `dvlin --help` should not pay for them.
    if name == "Repo":
        from dvlin.api import Repo

        return Repo
    if name == "track":
        from dvlin.tracking import track

        return track
    raise AttributeError(f"module 'dvlin' has no attribute {name!r}")
