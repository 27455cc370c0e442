"""Profiles, drift and the keyed row diff at the sizes issue 11 names.

1. profile a 10,000,000-row × 10-column Parquet file (target: < 15 s, < 1 GiB);
2. drift between two profiled versions of a 1,000-column table (target: < 0.2 s), from the
   stored profile bytes (JSON parsing included);
3. ``diff --key`` of two 5,000,000-row versions with 1% of rows changed (target: < 30 s,
   < 2 GiB).

Each measurement runs in a fresh child process; memory is that process's peak RSS. The data is
seeded numpy and reused from ``--dir`` when present.

    python benchmarks/bench_inspect.py [--rows 10000000] [--key-rows 5000000] [--dir /tmp/bench-inspect]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_profile_table(path: Path, rows: int) -> None:
    """10 columns: ids, counts, amounts, scores, timestamps, low- and high-cardinality text."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.exists():
        return
    rng = np.random.default_rng(0)
    countries = np.array([f"C{i:02d}" for i in range(30)])
    skus = np.array([f"SKU-{i:06d}" for i in range(10_000)])
    writer = None
    step = 1_000_000
    for start in range(0, rows, step):
        n = min(step, rows - start)
        t = pa.table(
            {
                "event_id": np.arange(start, start + n, dtype=np.int64),
                "user_id": rng.integers(1, 1_000_000, n),
                "amount": rng.lognormal(3, 1, n),
                "quantity": rng.integers(1, 10, n).astype(np.int32),
                "score": rng.random(n),
                "ts": (np.int64(1_700_000_000) + np.arange(start, start + n)).astype(
                    "datetime64[s]"
                ),
                "country": pa.array(countries[rng.integers(0, 30, n)]),
                "channel": pa.array(np.array(["web", "app", "store"])[rng.integers(0, 3, n)]),
                "sku": pa.array(skus[rng.integers(0, 10_000, n)]),
                "flag": rng.random(n) < 0.1,
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(path, t.schema)
        writer.write_table(t)
    assert writer is not None
    writer.close()


def make_wide_tables(folder: Path, rows: int = 20_000, columns: int = 1000) -> None:
    """Two versions of a 1,000-column table (800 numbers, 200 strings), the second shifted."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if (folder / "wide_b.parquet").exists():
        return
    for name, shift in (("wide_a", 0.0), ("wide_b", 0.2)):
        rng = np.random.default_rng(1 if shift else 0)
        cols = {}
        for i in range(columns):
            if i % 5 == 4:
                cols[f"s{i}"] = pa.array(np.array(["a", "b", "c", "d"])[rng.integers(0, 4, rows)])
            else:
                cols[f"x{i}"] = rng.normal(shift * (i % 3), 1, rows)
        pq.write_table(pa.table(cols), folder / f"{name}.parquet")


def make_keyed_tables(folder: Path, rows: int) -> None:
    """Two versions with 1% of rows changed (0.5% values edited, 0.25% removed, 0.25% added)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if (folder / "keyed_b.parquet").exists():
        return
    rng = np.random.default_rng(2)
    ids = rng.permutation(rows).astype(np.int64)
    amount = rng.normal(100, 10, rows)
    country = np.array([f"C{i:02d}" for i in range(30)])[rng.integers(0, 30, rows)]
    qty = rng.integers(1, 10, rows)
    pq.write_table(
        pa.table({"id": ids, "amount": amount, "country": country, "qty": qty}),
        folder / "keyed_a.parquet",
    )
    edited = rng.choice(rows, rows // 200, replace=False)
    amount2 = amount.copy()
    amount2[edited] += 1
    keep = np.ones(rows, dtype=bool)
    keep[rng.choice(rows, rows // 400, replace=False)] = False
    extra = rows // 400
    ids2 = np.concatenate([ids[keep], np.arange(rows, rows + extra, dtype=np.int64)])
    pq.write_table(
        pa.table(
            {
                "id": ids2,
                "amount": np.concatenate([amount2[keep], rng.normal(100, 10, extra)]),
                "country": np.concatenate([country[keep], country[:extra]]),
                "qty": np.concatenate([qty[keep], qty[:extra]]),
            }
        ),
        folder / "keyed_b.parquet",
    )


CHILD_PROFILE = """
import resource, sys, time
from dvlin.inspect.profile import profile_file
t, cpu = time.perf_counter(), time.process_time()
p = profile_file(sys.argv[1], "t.parquet")
took, cpu = time.perf_counter() - t, time.process_time() - cpu
assert "error" not in p, p
print(took, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, p["rows"])
"""
CHILD_PREPARE = """
import sys
from dvlin.inspect.profile import profile_file
from dvlin.ops.profiles import encode
for src in sys.argv[1:]:
    open(src + ".profile.json", "wb").write(encode(profile_file(src, "t.parquet")))
"""
CHILD_DRIFT = """
import json, resource, sys, time
import numpy  # imported by any dvlin command that reads tables; not part of the comparison
from dvlin.inspect.drift import file_drift
a = open(sys.argv[1] + ".profile.json", "rb").read()
b = open(sys.argv[2] + ".profile.json", "rb").read()
t, cpu = time.perf_counter(), time.process_time()
pa, pb = json.loads(a), json.loads(b)
parsed = time.perf_counter() - t
d = file_drift(pa, pb)
took, cpu = time.perf_counter() - t, time.process_time() - cpu
labels = [c.get("drift") for c in d["columns"]]
print(took, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, len(d["columns"]))
print(len(a) // 1000, labels.count("medium"), labels.count("high"), f"{parsed:.3f}", file=sys.stderr)
"""
CHILD_KEYED = """
import resource, sys, time
from dvlin.inspect.rowfiles import diff_files
t, cpu = time.perf_counter(), time.process_time()
d = diff_files((sys.argv[1], "parquet"), (sys.argv[2], "parquet"), ["id"])
took, cpu = time.perf_counter() - t, time.process_time() - cpu
n = d.added + d.removed + d.changed
print(took, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, n)
print(d.added, d.removed, d.changed, d.partitions, file=sys.stderr)
"""


def child(code: str, *args: str) -> tuple[float, float, int, int, str]:
    """Run ``code`` in a fresh interpreter: wall and CPU seconds, peak RSS, a count, notes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, env=env
    )
    if not out.stdout.strip():
        return 0.0, 0.0, 0, 0, out.stderr.strip()
    took, cpu, rss, n = out.stdout.split()
    return float(took), float(cpu), int(rss), int(n), out.stderr.strip()


def main() -> None:
    """Build the data, run the three measurements, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--key-rows", type=int, default=5_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench-inspect"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    table = args.dir / f"profile-{args.rows}.parquet"
    make_profile_table(table, args.rows)
    make_wide_tables(args.dir)
    keyed = args.dir / f"keyed-{args.key_rows}"
    keyed.mkdir(exist_ok=True)
    make_keyed_tables(keyed, args.key_rows)
    print(f"data ready in {time.perf_counter() - t:.1f} s")
    mib = 1 << 20
    rows = []
    took, cpu, rss, n, _ = child(CHILD_PROFILE, str(table))
    rows.append((f"profile {n:,} rows × 10 columns", took, cpu, rss, "< 15 s, < 1 GiB"))
    wide = [str(args.dir / "wide_a.parquet"), str(args.dir / "wide_b.parquet")]
    child(CHILD_PREPARE, *wide)
    took, cpu, rss, n, note = child(CHILD_DRIFT, *wide)
    kb, medium, high, parsed = note.split()
    rows.append(
        (
            f"drift of {n:,} columns from stored profiles ({kb} KB each, parsed in {parsed} s; "
            f"{medium} medium, {high} high)",
            took,
            cpu,
            rss,
            "< 0.2 s",
        )
    )
    took, cpu, rss, n, note = child(
        CHILD_KEYED, str(keyed / "keyed_a.parquet"), str(keyed / "keyed_b.parquet")
    )
    added, removed, changed, parts = note.split()
    rows.append(
        (
            f"diff --key of {args.key_rows:,} rows: +{int(added):,} −{int(removed):,} "
            f"~{int(changed):,} ({parts} partitions)",
            took,
            cpu,
            rss,
            "< 30 s, < 2 GiB",
        )
    )
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| step | wall time | CPU time | peak memory | target |")
    print("|---|---|---|---|---|")
    for name, took, cpu, rss, target in rows:
        print(f"| {name} | {took:.3f} s | {cpu:.3f} s | {rss / mib:.0f} MiB | {target} |")


if __name__ == "__main__":
    main()
