"""Contracts on a 1,000,000-row, 10-column Parquet file: vectorised vs plain jsonschema.

Writes the file (seeded, numpy), runs ``dvlin check`` on it in-process — a record schema using
every vectorised keyword plus the quality rules of docs/policy.md — and prints wall time and
peak memory (ru_maxrss of a fresh child process per measurement). Then validates a sample of
the same records with plain per-record jsonschema and scales it up, for comparison.

    python benchmarks/bench_contracts.py [--rows 1000000] [--sample 50000] [--dir /tmp/bench-contracts]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["event_id", "ts", "user_id"],
    "additionalProperties": False,
    "properties": {
        "event_id": {"type": "integer", "minimum": 0},
        "ts": {"type": "string", "format": "date-time"},
        "user_id": {"type": "integer", "minimum": 1, "maximum": 10_000_000},
        "country": {"type": "string", "minLength": 2, "maxLength": 2, "pattern": "^[A-Z]{2}$"},
        "channel": {"enum": ["web", "app", "store"]},
        "amount": {"type": "number", "minimum": 0, "exclusiveMaximum": 100_000},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
        "sku": {"type": "string", "pattern": "^SKU-[0-9]{6}$"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "version": {"const": 2},
    },
}
POLICY = """
[assets.events]
path = "data/events"
schema = "events.schema.json"
[assets.events.quality]
min_rows = 1000
not_null = ["event_id", "ts"]
unique = ["event_id"]
max_null_fraction = { country = 0.05 }
range = { amount = [0, 100000] }
allowed = { channel = ["web", "app", "store"] }
pattern = { sku = "^SKU-[0-9]{6}$" }
fresh_within = { ts = "3650d" }
"""


def make(folder: Path, rows: int) -> Path:
    """The repo with dvlin.toml, the schema and the Parquet file (reused if present)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = folder / "data/events/part-0.parquet"
    if target.exists() and pq.ParquetFile(target).metadata.num_rows == rows:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / ".dvlin").exists():
        subprocess.run([sys.executable, "-m", "dvlin", "init", str(folder)], check=True)
    rng = np.random.default_rng(42)
    start = np.datetime64("2026-01-01T00:00:00", "s")
    ts = (start + rng.integers(0, 86400 * 300, rows).astype("timedelta64[s]")).astype(str)
    countries = np.array(["DE", "FR", "US", "GB", "JP"])
    table = pa.table(
        {
            "event_id": np.arange(rows, dtype=np.int64),
            "ts": pa.array([t + "Z" for t in ts]),
            "user_id": rng.integers(1, 1_000_000, rows),
            "country": countries[rng.integers(0, 5, rows)],
            "channel": np.array(["web", "app", "store"])[rng.integers(0, 3, rows)],
            "amount": rng.uniform(0, 99_999, rows),
            "quantity": rng.integers(1, 100, rows),
            "sku": pa.array([f"SKU-{n:06d}" for n in rng.integers(0, 999_999, rows)]),
            "score": rng.uniform(0, 1, rows),
            "version": np.full(rows, 2, dtype=np.int64),
        }
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target, row_group_size=128 * 1024)
    (folder / "events.schema.json").write_text(json.dumps(SCHEMA))
    (folder / "dvlin.toml").write_text(POLICY)
    return folder


CHILD_VECTOR = """
import resource, sys, time
from dvlin import Repo
from dvlin.ops.check import check
repo = Repo.open(sys.argv[1])
t = time.perf_counter(); report = check(repo); took = time.perf_counter() - t
assert report.passed, report.to_dict()
rows = sum(r.measured or 0 for r in report.assets[0].results if r.rule == 'min_rows')
print(took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, rows)
"""
CHILD_RECORDS = """
import resource, sys, time, json
import pyarrow.parquet as pq
from dvlin.policy.records import to_records, validator_for
folder, sample = sys.argv[1], int(sys.argv[2])
schema = json.load(open(folder + '/events.schema.json'))
table = pq.read_table(folder + '/data/events/part-0.parquet').slice(0, sample)
v = validator_for(schema)
t = time.perf_counter()
bad = 0
for batch in table.to_batches(65536):
    bad += sum(1 for r in to_records(batch) if not v.is_valid(r))
took = time.perf_counter() - t
assert bad == 0
print(took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, sample)
"""


def child(code: str, *args: str) -> tuple[float, int, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, env=env
    ).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def main() -> None:
    """Build the data, measure both paths, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=50_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench-contracts"))
    args = parser.parse_args()
    t = time.perf_counter()
    folder = make(args.dir, args.rows)
    print(f"data ready in {time.perf_counter() - t:.1f} s: {args.rows:,} rows × 10 columns")
    took, rss, rows = child(CHILD_VECTOR, str(folder))
    per, rss2, n = child(CHILD_RECORDS, str(folder), str(args.sample))
    scaled = per * args.rows / n
    print(f"{'path':<44} {'time':>10} {'peak RSS':>10}")
    print(f"{'dvlin check (schema + 8 quality rules)':<44} {took:>8.2f} s {rss / 2**20:>7.0f} MiB")
    print(
        f"{f'plain jsonschema, {n:,} records × {args.rows // n}':<44} {scaled:>8.1f} s "
        f"{rss2 / 2**20:>7.0f} MiB"
    )
    print(f"rows checked: {rows:,}; speed-up {scaled / took:.0f}×")


if __name__ == "__main__":
    main()
