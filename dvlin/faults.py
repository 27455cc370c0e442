"""Fault injection for the crash tests: stop at a named point until the test kills us.

Production code calls :func:`pause_point` where a crash matters (objects written, catalog not
yet; versions expired, objects not yet deleted; a checkout's first file written). Unless the
test sets the environment variable, it does nothing.
"""

from __future__ import annotations

import os
import time

BEFORE_CATALOG = "DVLIN_TEST_PAUSE_BEFORE_CATALOG"
IN_GC = "DVLIN_TEST_PAUSE_IN_GC"
IN_CHECKOUT = "DVLIN_TEST_PAUSE_IN_CHECKOUT"
BEFORE_REFS = "DVLIN_TEST_PAUSE_BEFORE_REFS"  # push: objects and segment up, refs not moved
IN_PACK = "DVLIN_TEST_PAUSE_IN_PACK"  # commit: a pack (chunks or small files) half written, not yet renamed
IN_CHUNKED = "DVLIN_TEST_PAUSE_IN_CHUNKED"  # checkout: a big file written under its temporary name
IN_STATCACHE = "DVLIN_TEST_PAUSE_IN_STATCACHE"  # the stat cache's rows replaced, its head not yet


def pause_point(variable: str) -> None:
    """With ``variable=FILE`` in the environment, write our pid to FILE and wait to be killed."""
    marker = os.environ.get(variable)
    if marker:
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)
