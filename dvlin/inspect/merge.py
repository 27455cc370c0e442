"""Merge the profiles of several table files into one, column by column.

An asset is often a folder of part files whose names change between versions (``part-0000-
<uuid>.parquet``); comparing file by file would then see only added and removed files. The
merged profile describes the asset's table as a whole: counts add up, means and variances
combine exactly, quantiles come from the merged KLL sketches, top values add up. Distinct
counts cannot be merged from counts alone: the merged one is the largest part's, marked
inexact, unless every part listed all its values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

ALL_TABLES = "(all tables)"
"""The path a merged profile is reported under."""


def merge_profiles(profiles: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One table profile for all readable table profiles in ``profiles`` (files in order)."""
    from dvlin.inspect.profile import PROFILER

    tables = [p for p in profiles if "columns" in p]
    rows = sum(int(p.get("rows") or 0) for p in tables)
    order: list[str] = []
    parts: dict[str, list[tuple[dict[str, Any], int]]] = {}
    for p in tables:
        for c in p["columns"]:
            if c["name"] not in parts:
                order.append(c["name"])
                parts[c["name"]] = []
            parts[c["name"]].append((c, int(p.get("rows") or 0)))
    columns = []
    for name in order:
        found = [c for c, _ in parts[name] if c.get("kind") == parts[name][0][0].get("kind")]
        present = sum(r for c, r in parts[name] if c in found)
        columns.append(_merge_column(found, missing_rows=rows - present))
    return {"profiler": PROFILER, "format": "merged", "rows": rows, "columns": columns}


def _merge_column(cols: list[dict[str, Any]], *, missing_rows: int) -> dict[str, Any]:
    first = cols[0]
    out: dict[str, Any] = {
        "name": first["name"],
        "type": first.get("type"),
        "kind": first.get("kind"),
        "count": sum(c.get("count", 0) for c in cols),
        # Rows of files without the column read as nulls.
        "nulls": sum(c.get("nulls", 0) for c in cols) + missing_rows,
    }
    if "distinct" in first:
        out["distinct"] = max(c.get("distinct") or 0 for c in cols)
        out["distinct_exact"] = len(cols) == 1 and bool(first.get("distinct_exact"))
    kind = first.get("kind")
    if kind == "number":
        out.update(_merge_numbers(cols))
    elif kind == "temporal":
        lows = [c["min"] for c in cols if c.get("min") is not None]
        highs = [c["max"] for c in cols if c.get("max") is not None]
        out["min"], out["max"] = (min(lows) if lows else None), (max(highs) if highs else None)
    elif kind in ("string", "boolean"):
        out.update(_merge_top(cols))
        if out["top_complete"]:
            out["distinct"], out["distinct_exact"] = len(out["top"]), True
    elif kind == "vector" and all("embedding" in c for c in cols):
        out["embedding"] = cols[0]["embedding"] if len(cols) == 1 else _merge_embedding(cols)
    return out


def _merge_numbers(cols: list[dict[str, Any]]) -> dict[str, Any]:
    import datasketches as ds

    from dvlin.inspect.profile import QUANTILES, b64, unb64

    out: dict[str, Any] = {"nan": sum(c.get("nan", 0) for c in cols)}
    sketched = [c for c in cols if "kll" in c]
    if not sketched:
        return out
    merged = ds.kll_doubles_sketch.deserialize(unb64(sketched[0]["kll"]))
    for c in sketched[1:]:
        merged.merge(ds.kll_doubles_sketch.deserialize(unb64(c["kll"])))
    n = mean = m2 = 0.0
    for c in sketched:
        k = c["count"] - c.get("nan", 0)
        if k <= 0:
            continue
        # Chan et al.: combine means and sums of squared deviations exactly.
        c_m2 = (c.get("std", 0.0) ** 2) * (k - 1)
        delta = c["mean"] - mean
        total = n + k
        mean += delta * k / total
        m2 += c_m2 + delta * delta * n * k / total
        n = total
    lo, hi = min(c["min"] for c in sketched), max(c["max"] for c in sketched)
    ranks = [i / (QUANTILES - 1) for i in range(QUANTILES)]
    quantiles = [float(q) for q in merged.get_quantiles(ranks)]
    quantiles[0], quantiles[-1] = float(lo), float(hi)
    out.update(
        {
            "min": lo,
            "max": hi,
            "mean": mean,
            "std": math.sqrt(m2 / (n - 1)) if n > 1 else 0.0,
            "quantiles": quantiles,
            "kll": b64(merged.serialize()),
        }
    )
    return out


def _merge_top(cols: list[dict[str, Any]]) -> dict[str, Any]:
    from dvlin.inspect.profile import TOP_K

    counts: dict[Any, int] = {}
    for c in cols:
        for value, count in c.get("top", []):
            counts[value] = counts.get(value, 0) + int(count)
    top = sorted(counts.items(), key=lambda vc: (-vc[1], str(vc[0])))
    complete = all(c.get("top_complete") for c in cols) and len(top) <= TOP_K
    return {"top": [[v, c] for v, c in top[:TOP_K]], "top_complete": complete}


def _merge_embedding(cols: list[dict[str, Any]]) -> dict[str, Any]:
    """Embeddings of several files: counts add, norms and centroids are weighted means."""
    import numpy as np

    from dvlin.inspect.profile import b64, unb64

    parts = [c["embedding"] for c in cols]
    dims = {p.get("dim") for p in parts}
    out: dict[str, Any] = {
        "count": sum(p.get("count", 0) for p in parts),
        "dim": parts[0].get("dim"),
        "dtype": parts[0].get("dtype"),
        "nonfinite": sum(p.get("nonfinite", 0) for p in parts),
    }
    usable = [p for p in parts if "norm" in p and "centroid" in p]
    if len(dims) != 1 or not usable:
        out["note"] = "files of different dims" if len(dims) != 1 else "no finite vectors"
        return out
    weights = np.array([p["count"] - p.get("nonfinite", 0) for p in usable], dtype=np.float64)
    share = weights / weights.sum()
    centroids = np.stack([np.frombuffer(unb64(p["centroid"]), dtype="<f4") for p in usable])
    means = np.array([p["norm"]["mean"] for p in usable])
    squares = np.array([p["norm"]["std"] ** 2 + p["norm"]["mean"] ** 2 for p in usable])
    mean = float(share @ means)
    out["norm"] = {
        "mean": mean,
        "std": math.sqrt(max(0.0, float(share @ squares) - mean * mean)),
        "min": min(p["norm"]["min"] for p in usable),
        "max": max(p["norm"]["max"] for p in usable),
    }
    out["centroid"] = b64((share @ centroids).astype("<f4").tobytes())
    # Samples are per file: rows are renumbered as if the files were one table, in order.
    rows, vectors, offset = [], [], 0
    for p in parts:
        if "sample" in p:
            rows += [offset + r for r in p["sample"]["rows"]]
            vectors.append(np.frombuffer(unb64(p["sample"]["vectors"]), dtype="<f4"))
        offset += p.get("count", 0)
    if rows:
        from dvlin.inspect.vectors import MAX_SAMPLE, _row_keys

        matrix = np.concatenate(vectors).reshape(len(rows), -1)
        keep = np.sort(np.argsort(_row_keys(np.asarray(rows)), kind="stable")[:MAX_SAMPLE])
        out["sample"] = {
            "rows": [rows[i] for i in keep],
            "vectors": b64(matrix[keep].astype("<f4").tobytes()),
        }
    return out
