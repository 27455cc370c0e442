"""Run a ``dvlin`` command without NumPy when nothing it does on a small tree needs it.

pyarrow imports NumPy whenever it is installed (~0.1 s of every start, more than pyarrow's own
import), although pyarrow 18+ works without it (older ones fail to import: hence the floor in
pyproject.toml). A command that needs no NumPy — a checkout or a plain commit of up to
:data:`MAX_ROWS` files — can make NumPy unimportable before pyarrow is first imported; pyarrow
then runs as on a machine without NumPy, a configuration it supports.
The decision must be taken before pyarrow is imported (it cannot take NumPy in later), so:

- only the ``dvlin`` process opts in (:func:`allow`, called by :func:`dvlin.cli.main`); the
  Python API never does, so a program that uses dvlin beside NumPy is not touched;
- an op calls :func:`without_numpy` once it knows it will not need NumPy (no policy, no table
  or array to profile, a small tree) and before it reads a manifest;
- the kernels in :mod:`dvlin.objects.columns` ask :func:`numpy_blocked` and take their
  pure-Arrow path then (``tests/objects/test_columns_lean.py`` checks both paths agree).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

MAX_ROWS = 50_000
"""Largest tree (rows) worked on without NumPy: above it, NumPy's sorted merge of path columns
pays for its import (measured at 200,000 rows: the merge is about twice as fast as a hash
join), below it the import is most of the cost."""

_allowed = False


def allow() -> None:
    """Let this process run without NumPy when an op finds it does not need it (CLI only)."""
    global _allowed
    _allowed = True


def without_numpy() -> bool:
    """Make NumPy unimportable, if allowed and neither NumPy nor pyarrow is imported yet.

    True when NumPy is blocked in this process (now or before).
    """
    if numpy_blocked():
        return True
    if not _allowed or "numpy" in sys.modules or "pyarrow" in sys.modules:
        return False
    sys.meta_path.insert(0, Unimportable("numpy", "this dvlin command runs without numpy"))
    return True


def numpy_blocked() -> bool:
    """True when :func:`without_numpy` made NumPy unimportable in this process."""
    return blocked("numpy")


def blocked(package: str) -> bool:
    """True when an :class:`Unimportable` finder for ``package`` is installed in this process."""
    return any(isinstance(f, Unimportable) and f.package == package for f in sys.meta_path)


class Unimportable(importlib.abc.MetaPathFinder):
    """A finder that answers "not installed" for ``package`` and its submodules.

    Used for NumPy here and for pandas by :mod:`dvlin.cli.arrow_shim`: pyarrow imports both
    whenever they are installed, and runs without them, a configuration it supports.
    """

    def __init__(self, package: str, reason: str) -> None:
        self.package, self.reason = package, reason

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == self.package or fullname.startswith(self.package + "."):
            raise ModuleNotFoundError(self.reason, name=fullname)
        return None
