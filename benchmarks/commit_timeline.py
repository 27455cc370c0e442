"""Run ``dvlin ARGS`` with wall and CPU timers around a commit's steps; a timeline on stderr.

    python benchmarks/commit_timeline.py commit data -q

Each wrapped function prints when it started (seconds since this script started), its wall
and CPU time (of this process: the walk's helper process is not counted), nested by calls.
Issue 12's sixth pass used it for the 1M commit's breakdown (docs/benchmarks.md).
"""

import atexit
import functools
import importlib
import sys
import time

T0 = time.perf_counter()
C0 = time.process_time()
rows = []
depth = [0]


def wrap(mod, name, label=None):
    m = importlib.import_module(mod)
    obj = m
    parts = name.split(".")
    for p in parts[:-1]:
        obj = getattr(obj, p)
    f = getattr(obj, parts[-1])

    @functools.wraps(f)
    def w(*a, **k):
        t = time.perf_counter()
        c = time.process_time()
        depth[0] += 1
        try:
            return f(*a, **k)
        finally:
            depth[0] -= 1
            rows.append(
                (t - T0, time.perf_counter() - t, time.process_time() - c, depth[0], label or name)
            )

    setattr(obj, parts[-1], w)


import dvlin.cli  # noqa

for mod, name in [
    ("dvlin.ops.commit", "prepare"),
    ("dvlin.objects.ingest", "cut_file"),
    ("dvlin.objects.packs", "PackWriter.finish"),
    ("dvlin.ops.commit", "scan_columns"),
    ("dvlin.ops.commit", "load_manifest_soon"),
    ("dvlin.ops.manifests", "_read_local"),
    ("dvlin.ops.commit", "record"),
    ("dvlin.ops.commit", "_describe"),
    ("dvlin.ops.commit", "remember_written"),
    ("dvlin.ops.commit", "code_info"),
    ("dvlin.ops.commit", "lock.sync"),
    ("dvlin.ops.check", "enforce"),
    ("dvlin.ops.status", "stat_cache"),
    ("dvlin.ops.commit_tree", "build"),
    ("dvlin.ops.commit_tree", "_remembered_rows"),
    ("dvlin.ops.commit_tree", "_reused"),
    ("dvlin.ops.commit_tree", "_merge"),
    ("dvlin.ops.commit_tree", "_diff"),
    ("dvlin.ops.commit_tree", "_with_oids"),
    ("dvlin.ops.commit_tree", "_described"),
    ("dvlin.workspace.statcache", "StatCache.lookup_array"),
    ("dvlin.workspace.statcache", "StatCache.snapshot"),
    ("dvlin.workspace.statcache", "StatCache.save"),
    ("dvlin.workspace.statcache", "StatCache.fingerprint"),
    ("dvlin.workspace.statfile", "write_rows"),
    ("dvlin.workspace.statfile", "write_head"),
    ("dvlin.workspace.statfile", "read_rows"),
    ("dvlin.objects.manifest", "Manifest.digest"),
    ("dvlin.objects.manifest", "Manifest.validate"),
    ("dvlin.objects.manifest", "Manifest.validate_structure"),
    ("dvlin.objects.manifest", "Manifest.to_parquet"),
    ("dvlin.objects.manifest", "Manifest.from_parquet"),
    ("dvlin.objects.manifest", "Manifest.storage_oids"),
    ("dvlin.objects.manifest", "Manifest.file_count"),
    ("dvlin.objects.store", "ObjectStore.put"),
    ("dvlin.objects.store", "ObjectStore.sync"),
    ("dvlin.objects.ingest", "Ingester.finish_table"),
    ("dvlin.objects.ingest", "Ingester.new_object_table"),
    ("dvlin.catalog.catalog", "Catalog.add_object_table"),
    ("dvlin.catalog.catalog", "Catalog.link_version_objects"),
    ("dvlin.catalog.catalog", "Catalog.insert_version"),
]:
    try:
        wrap(mod, name)
    except Exception as e:
        print("cannot wrap", mod, name, e, file=sys.stderr)


def report():
    print(f"{'start':>7} {'wall':>7} {'cpu':>7}  step", file=sys.stderr)
    for s, w, c, d, n in sorted(rows):
        print(f"{s:7.3f} {w:7.3f} {c:7.3f}  {'  ' * d}{n}", file=sys.stderr)
    print(
        f"total wall {time.perf_counter() - T0:.3f} cpu {time.process_time() - C0:.3f} (since timeline import)",
        file=sys.stderr,
    )


atexit.register(report)
sys.argv = ["dvlin", *sys.argv[1:]]
from dvlin.cli import main  # noqa: E402 - after the wrappers are in place

main()
