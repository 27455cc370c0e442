"""The commit steps issue 12's fifth pass changed, on N synthetic scan rows (in-process CPU,
min of 5): the parent row of each path (hash join vs the stat cache's checked rows), the oids
handed to the stat cache's snapshot, converting the scan again, the fingerprint.

    python benchmarks/bench_commit_steps.py 1000000
"""

import random
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dvlin.workspace import statfile
from dvlin.workspace.scan import Columns

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
cols = Columns()
paths = [f"d{i % 100:03d}/s{(i // 100) % 10:02d}/f{i:07d}.bin" for i in range(n)]
cols.path.extend(paths)
cols.type.extend(["file"] * n)
cols.target.extend([None] * n)
cols.oid.extend([None] * n)
for name in ("mode", "size", "mtime_ns", "inode", "ctime_ns"):
    getattr(cols, name).extend(range(n))
oids = [f"{random.getrandbits(128):032x}" for _ in range(n)]
known = pa.array(oids, pa.string())
parent_paths = pa.array(sorted(paths), pa.string())


def T(name, f, k=5):
    best = 9
    for _ in range(k):
        c = time.process_time()
        f()
        best = min(best, time.process_time() - c)
    print(f"{name:58s} {best * 1000:7.1f} ms")


print(f"{n} rows")
# 1. the oids handed to the snapshot
T("oids: known.to_pylist() (before)", lambda: known.to_pylist())
T("oids: pa.array(list) in the snapshot (before)", lambda: pa.array(oids, pa.string()))


def with_oids():
    m = np.zeros(n, dtype=bool)
    rows = list(range(0, n, 1000))
    m[rows] = True
    return pc.replace_with_mask(known, pa.array(m), pa.array([oids[r] for r in rows], pa.string()))


T("oids: replace_with_mask of 1,000 rows (after)", with_oids)
# 2. the snapshot table
T(
    "snapshot: paths + types converted again (before)",
    lambda: (pa.array(cols.path, pa.string()), pa.array(cols.type, pa.string())),
)
# 3. fingerprint
T("fingerprint (taken twice before, once after)", lambda: statfile.fingerprint(cols))
# 4. the parent rows
scan_paths = pa.array(paths, pa.string())
T(
    "parent rows: index_in of the scan's paths (before)",
    lambda: pc.index_in(scan_paths, value_set=parent_paths),
)
rows = pc.index_in(scan_paths, value_set=parent_paths).cast(pa.int64())
T(
    "parent rows: take + equals check of the cached rows (after)",
    lambda: parent_paths.take(rows).equals(scan_paths),
)
