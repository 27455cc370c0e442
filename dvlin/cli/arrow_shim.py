"""Keep pyarrow from importing pandas in the ``dvlin`` process (0.15-0.25 s per command).

pyarrow asks "is this a pandas object?" on ``pa.array`` / ``pa.table`` calls and imports pandas
to answer whenever it is installed, which in ML environments it nearly always is. The command
line never hands pandas objects to pyarrow, and it runs user code (``dvlin run``) only in child
processes, so in this process pandas is made unimportable: pyarrow then takes the path it takes
on a machine without pandas, a configuration it supports. Only :func:`dvlin.cli.main` calls
:func:`install`; the Python API (``import dvlin``) never does, so a program that uses dvlin and
pandas together is not touched.

For the same process and reasons, :func:`install` also

- serves ``import pyarrow.compute`` from :mod:`dvlin.arrow_kernels`' stand-in, which builds
  each kernel's wrapper on first use instead of the real module's ~290 documented wrappers at
  import (40-75 ms of every command);
- makes cloudpickle unimportable: pyarrow uses it, when installed, in place of :mod:`pickle`
  to pickle its objects, which this process never does (6-9 ms per command).
"""

from __future__ import annotations

import sys

from dvlin import arrow_kernels
from dvlin.lean import Unimportable, blocked

_UNUSED = {
    "pandas": "the dvlin command does not use pandas",
    "cloudpickle": "the dvlin command does not pickle arrow objects",
}


def install() -> None:
    """Make pandas and cloudpickle unimportable, unless imported already; lighten pyarrow.compute."""
    for package, reason in _UNUSED.items():
        if package not in sys.modules and not blocked(package):
            sys.meta_path.insert(0, Unimportable(package, reason))
    arrow_kernels.install()
