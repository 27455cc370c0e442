"""``dvlin audit report`` over a big catalog: 10,000 versions and 1,000 runs.

Builds the catalog straight through SQL — 200 assets of 50 versions each (ids that really hash
from their contents, parents chained, contract results stored, one in fifty committed over a
failed contract, a hold every 500), 1,000 runs of 2–4 inputs, a tenth of them training a
model version that is then staged — and records every row in the audit chain the way dvlin's
own fetch does, so the report verifies a whole chain and replays it. Then runs the command
as a user would (``python -m dvlin audit report``) in each format and prints wall time and
the peak memory of the child process.

    python benchmarks/bench_report.py [--versions 10000] [--runs 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dvlin import Repo  # noqa: E402
from dvlin.audit.log import append_changes  # noqa: E402
from dvlin.audit.records import snapshot, version_id, version_identity  # noqa: E402
from dvlin.catalog.runs import Edge, LineageStore  # noqa: E402

PER_ASSET = 50


def build(repo: Repo, n_versions: int, n_runs: int, seed: int = 11) -> None:
    """Fill the catalog and its audit chain (one transaction)."""
    rng = random.Random(seed)
    conn = repo.catalog.conn
    algorithm = repo.config.hash
    author = "Bench <bench@example.org>"
    check_ok = [
        {
            "rule": "not_null",
            "passed": True,
            "column": "id",
            "file": None,
            "expected": "0 nulls",
            "found": "0 nulls",
            "measured": 0,
            "examples": [],
        },
    ]
    check_bad = [{**check_ok[0], "passed": False, "found": "3 nulls", "measured": 3}]
    n_models = max(1, n_runs // 10)
    n_assets = max(1, (n_versions - n_models) // PER_ASSET)
    assets: dict[str, str] = {}
    versions: list[tuple[object, ...]] = []
    by_asset: dict[str, list[str]] = {}

    def add(asset: str, kind: str, i: int, info: dict[str, object]) -> str:
        assets.setdefault(asset, kind)
        chain = by_asset.setdefault(asset, [])
        parent = chain[-1] if chain else None
        created = f"2026-{1 + i // 40000 % 12:02d}-{1 + i // 1500 % 28:02d}T08:{i // 60 % 60:02d}:{i % 60:02d}.000000Z"
        tree = f"{i:032x}"
        message = f"load {i}"
        vid = version_id(
            algorithm,
            version_identity(
                asset=asset,
                parent=parent,
                tree=tree,
                manifest=tree,
                author=author,
                created_at=created,
                message=message,
                meta={},
            ),
        )
        versions.append(
            (
                vid,
                asset,
                len(chain) + 1,
                parent,
                tree,
                tree,
                author,
                created,
                message,
                "{}",
                10,
                4096 * (1 + i % 7),
                asset,
                '["."]',
                json.dumps(info),
            )
        )
        chain.append(vid)
        return vid

    i = 0
    for a in range(n_assets):
        for _ in range(PER_ASSET):
            info: dict[str, object] = {"checks": check_ok}
            if i % 50 == 7:
                info = {
                    "checks": check_bad,
                    "override": {
                        "reason": f"ticket DATA-{i}",
                        "author": author,
                        "at": "2026-01-01T00:00:00Z",
                        "failed": 1,
                    },
                }
            add(f"team{a % 10}/table{a}", "dataset" if a % 3 else "features", i, info)
            i += 1
    data = [v[0] for v in versions]
    runs: list[tuple[object, ...]] = []
    edges: list[Edge] = []
    stages: list[tuple[object, ...]] = []
    for r in range(n_runs):
        rid = f"r-{r:032x}"
        inputs = rng.sample(data, rng.randint(2, 4))
        if r % 10 == 0:
            out = add(f"models/m{r // 10 % 20}", "model", i, {})
            stages.append(
                (out, rng.choice(["staging", "production"]), author, "2026-06-01T00:00:00Z")
            )
        else:
            out = rng.choice(data)
        i += 1
        runs.append(
            (
                rid,
                "run",
                f"t{r % 40}",
                "succeeded",
                0,
                "[]",
                0,
                ".",
                "2026-06-01T00:00:00Z",
                "2026-06-01T00:01:00Z",
                author,
            )
        )
        edges.extend(Edge(v, rid, "input") for v in inputs if v != out)
        edges.append(Edge(rid, out, "output"))
    now = "2026-06-01T00:00:00Z"
    with repo.catalog.transaction():
        before = snapshot(conn)
        conn.executemany(
            "INSERT INTO assets (name, kind, base, roots, created_at) VALUES (?, ?, ?, ?, ?)",
            ((a, k, a, '["."]', now) for a, k in assets.items()),
        )
        conn.executemany(
            "INSERT INTO versions (id, asset, number, parent, tree, manifest, author, created_at,"
            " message, meta, files, bytes, base, roots, info)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            versions,
        )
        conn.executemany(
            "INSERT INTO runs (id, kind, transform, status, exit_code, command, shell, cwd,"
            " started_at, ended_at, author) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            runs,
        )
        LineageStore(repo.catalog).insert_edges(edges)
        conn.executemany(
            "INSERT INTO model_stages (version, stage, author, created_at) VALUES (?, ?, ?, ?)",
            stages,
        )
        conn.executemany(
            "INSERT INTO holds (version, reason, author, created_at) VALUES (?, ?, ?, ?)",
            ((v, "legal hold", author, now) for v in data[::500]),
        )
        entries = append_changes(repo.catalog, before, action="fetch", target="bench")
    conn.execute("ANALYZE")
    print(
        f"catalog: {len(versions):,} versions ({len(stages):,} model versions), {len(runs):,} "
        f"runs, {len(edges):,} edges, {len(assets):,} assets, {entries:,} audit entries"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=1_000)
    ap.add_argument("--keep", help="build the repo in this folder and keep it")
    args = ap.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dvlin-bench-report-"))
    repo = Repo.init(folder / "repo")
    t = time.perf_counter()
    build(repo, args.versions, args.runs)
    repo.close()
    print(f"built in {time.perf_counter() - t:.1f} s at {folder / 'repo'}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    print("| format | wall | peak RSS | size | exit |")
    print("|---|---|---|---|---|")
    for fmt in ("html", "md", "json"):
        out = folder / f"audit.{fmt}"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "dvlin", "audit", "report", "--format", fmt, "-o", str(out)],
            cwd=folder / "repo",
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        rss = f"{peak / 1024:.0f} MiB" if peak > before else "≤ previous"
        size = out.stat().st_size / 2**20 if out.exists() else 0
        print(f"| {fmt} | {wall:.2f} s | {rss} | {size:.1f} MiB | {done.returncode} |")
        if done.returncode:
            print(done.stderr[-500:])


if __name__ == "__main__":
    main()
