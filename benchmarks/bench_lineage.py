"""Lineage queries on a big synthetic catalog: 100,000 versions, 50,000 runs.

Builds the catalog straight through SQL (a realistic mix: 100 long pipelines of 250 stages,
and 50 projects of random runs with fan-in up to 50 inputs and hub datasets read by
hundreds of runs), then times upstream and downstream walks at unlimited depth — the SQL
walk alone, and the whole ``dvlin lineage`` query that also loads every node — and prints
the figures with the process's peak memory.

    python benchmarks/bench_lineage.py [--versions 100000] [--runs 50000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dvlin import Repo  # noqa: E402
from dvlin.catalog.runs import Edge, LineageStore  # noqa: E402
from dvlin.ops.lineage import lineage  # noqa: E402

CHAIN_LEN, PROJECTS = 250, 50


def build(repo: Repo, n_versions: int, n_runs: int, seed: int = 7) -> dict[str, str]:
    """Fill the catalog; returns named start points for the queries."""
    rng = random.Random(seed)
    conn = repo.catalog.conn
    versions: list[tuple[object, ...]] = []
    runs: list[tuple[object, ...]] = []
    edges: list[Edge] = []
    assets: dict[str, str] = {}
    numbers: dict[str, int] = {}
    now = "2026-11-26T08:00:00.000000Z"

    def version(asset: str, kind: str = "dataset") -> str:
        assets.setdefault(asset, kind)
        numbers[asset] = numbers.get(asset, 0) + 1
        vid = f"{len(versions):032x}"
        versions.append(
            (
                vid,
                asset,
                numbers[asset],
                None,
                vid,
                vid,
                "bench",
                now,
                "",
                "{}",
                1,
                1,
                ".",
                '["."]',
                "{}",
            )
        )
        return vid

    def run(transform: str, inputs: list[str], outputs: list[str]) -> None:
        rid = f"r-{len(runs):032x}"
        runs.append((rid, "run", transform, "succeeded", 0, "[]", 0, ".", now, now, "bench"))
        edges.extend(Edge(v, rid, "input") for v in inputs)
        edges.extend(Edge(rid, v, "output") for v in outputs)

    starts: dict[str, str] = {}
    chains = max(1, n_runs // (2 * CHAIN_LEN))  # half the runs are in long pipelines
    # Long pipelines: raw → stage1 → stage2 → … (each stage its own asset).
    for c in range(chains):
        prev = version(f"chain{c}/raw")
        if c == 0:
            starts["chain start (downstream)"] = prev
        for s in range(CHAIN_LEN):
            out = version(f"chain{c}/stage{s}", "features")
            run(f"chain{c}-stage{s}", [prev], [out])
            prev = out
        if c == 0:
            starts["chain end (upstream)"] = prev
    # Projects: a few hub datasets each, then random runs reading earlier versions of the
    # project (rarely another project's) with fan-in up to 50, writing 1–3 outputs.
    left_runs = n_runs - len(runs)
    per_project = left_runs // PROJECTS
    pool: list[list[str]] = []
    for p in range(PROJECTS):
        hubs = [version(f"p{p}/raw{h}") for h in range(3)]
        pool.append(list(hubs))
        if p == 0:
            starts["hub dataset (downstream)"] = hubs[0]
    for p in range(PROJECTS):
        for i in range(per_project):
            mine = pool[p]
            k = 50 if rng.random() < 0.02 else rng.randint(1, 4)
            inputs = {rng.choice(mine[:3])} if rng.random() < 0.3 else set()
            recent = mine[-400:]
            while len(inputs) < min(k, len(mine)):
                inputs.add(rng.choice(recent))
            if rng.random() < 0.01:
                inputs.add(rng.choice(pool[rng.randrange(PROJECTS)]))
            kind = "model" if rng.random() < 0.1 else "features"
            outs = [version(f"p{p}/a{i % 40}", kind) for _ in range(rng.randint(1, 3))]
            run(f"p{p}-t{i % 60}", sorted(inputs), outs)
            mine.extend(outs)
        if p == 0:
            starts["newest of a project (upstream)"] = pool[p][-1]
    while len(versions) < n_versions:  # versions committed by hand, never used
        version(f"loose/a{len(versions) % 500}")
    with repo.catalog.transaction():
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
    conn.execute("ANALYZE")
    print(
        f"catalog: {len(versions):,} versions, {len(runs):,} runs, {len(edges):,} edges, "
        f"{len(assets):,} assets"
    )
    return starts


def timed(fn, repeat: int = 5) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=50_000)
    ap.add_argument("--keep", help="build the repo in this folder and keep it")
    args = ap.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dvlin-bench-lineage-"))
    repo = Repo.init(folder / "repo")
    t = time.perf_counter()
    starts = build(repo, args.versions, args.runs)
    print(f"built in {time.perf_counter() - t:.1f} s at {folder / 'repo'}\n")
    s = LineageStore(repo.catalog)
    rows = []
    for label, start in starts.items():
        up = "upstream" in label
        walk_t, edges = timed(lambda start=start, up=up: s.walk(start, upstream=up))
        full_t, lin = timed(
            lambda start=start, up=up: lineage(
                repo, start, direction="upstream" if up else "downstream"
            )
        )
        rows.append((label, len(lin.nodes), len(edges), walk_t, full_t))  # type: ignore[arg-type,union-attr]
    print(
        f"{'query (unlimited depth)':34} {'nodes':>7} {'edges':>7} {'SQL walk':>10} {'lineage()':>10}"
    )
    for label, nodes, n_edges, walk_t, full_t in rows:
        print(
            f"{label:34} {nodes:>7,} {n_edges:>7,} {walk_t * 1000:>8.1f} ms {full_t * 1000:>8.1f} ms"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory of this process (building included): {peak:.0f} MiB")
    print(json.dumps({"rows": rows, "peak_mib": round(peak)}))
    repo.close()
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
