"""Keep pyarrow from importing pandas in the ``dvlin`` process (0.15-0.25 s per command).

pyarrow asks "is this a pandas object?" on ``pa.array`` / ``pa.table`` calls and imports pandas
to answer whenever it is installed, which in ML environments it nearly always is. The command
line never hands pandas objects to pyarrow, and it runs user code (``dvlin run``) only in child
processes, so in this process pandas is made unimportable: pyarrow then takes the path it takes
on a machine without pandas, a configuration it supports. Only :func:`dvlin.cli.main` calls
:func:`install`; the Python API (``import dvlin``) never does, so a program that uses dvlin and
pandas together is not touched.
"""

from __future__ import annotations

import sys

from dvlin.lean import Unimportable, blocked


def install() -> None:
    """Make ``import pandas`` fail in this process, unless pandas is already imported."""
    if "pandas" in sys.modules or blocked("pandas"):
        return
    sys.meta_path.insert(0, Unimportable("pandas", "the dvlin command does not use pandas"))
