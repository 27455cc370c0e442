"""Merged profiles of part files against the profile of the same rows in one file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin.inspect.merge import merge_profiles
from dvlin.inspect.profile import profile_file


def _profile(path: Path, table: pa.Table) -> dict:
    pq.write_table(table, path)
    p = profile_file(str(path), path.name)
    assert p is not None
    return p


def _col(p: dict, name: str) -> dict:
    return next(c for c in p["columns"] if c["name"] == name)


def test_parts_merge_like_one_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(5, 2, 30_000)
    s = rng.choice(["a", "b", "c"], 30_000)
    whole = pa.table({"x": x, "s": s})
    parts = [whole.slice(0, 10_000), whole.slice(10_000, 5_000), whole.slice(15_000)]
    merged = merge_profiles([_profile(tmp_path / f"p{i}.parquet", t) for i, t in enumerate(parts)])
    one = _profile(tmp_path / "one.parquet", whole)
    assert merged["rows"] == one["rows"] == 30_000
    mx, ox = _col(merged, "x"), _col(one, "x")
    assert (mx["count"], mx["nulls"], mx["min"], mx["max"]) == (30_000, 0, x.min(), x.max())
    assert mx["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert mx["std"] == pytest.approx(x.std(ddof=1), rel=1e-9)
    ranks = np.searchsorted(np.sort(x), mx["quantiles"]) / len(x)
    assert np.abs(ranks - np.linspace(0, 1, 101)).max() < 0.03
    assert ox["quantiles"][50] == pytest.approx(mx["quantiles"][50], abs=0.1)
    ms = _col(merged, "s")
    assert ms["top"] == _col(one, "s")["top"] and ms["top_complete"]
    assert (ms["distinct"], ms["distinct_exact"]) == (3, True)


def test_a_column_missing_from_a_part_counts_as_nulls(tmp_path: Path) -> None:
    a = _profile(tmp_path / "a.parquet", pa.table({"x": [1.0, 2.0], "y": ["k", "k"]}))
    b = _profile(tmp_path / "b.parquet", pa.table({"x": [3.0]}))
    merged = merge_profiles([a, b])
    y = _col(merged, "y")
    assert (y["count"], y["nulls"]) == (2, 1)
    assert _col(merged, "x")["mean"] == pytest.approx(2.0)


def test_embedding_columns_merge(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(1, 1, (3000, 4)).astype(np.float32)

    def vectors(v: np.ndarray) -> pa.Table:
        return pa.table({"v": pa.FixedSizeListArray.from_arrays(pa.array(v.ravel()), 4)})

    merged = merge_profiles(
        [
            _profile(tmp_path / "a.parquet", vectors(x[:1000])),
            _profile(tmp_path / "b.parquet", vectors(x[1000:])),
        ]
    )
    e = _col(merged, "v")["embedding"]
    from dvlin.inspect.vectors import _centroid, _sample

    norms = np.linalg.norm(x.astype(np.float64), axis=1)
    assert e["count"] == 3000
    assert np.allclose(_centroid(e), x.mean(axis=0), atol=1e-5)
    assert e["norm"]["mean"] == pytest.approx(norms.mean(), rel=1e-6)
    assert e["norm"]["std"] == pytest.approx(norms.std(), rel=1e-4)
    rows, sample = _sample(e)
    assert len(rows) <= 256 and np.array_equal(sample, x[rows].astype(np.float64))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.integers(-50, 50)), st.sampled_from(["p", "q", "<r>"])),
        min_size=1,
        max_size=60,
    ),
    st.lists(st.integers(0, 60), max_size=3),
)
def test_any_split_merges_to_the_whole(
    tmp_path_factory: pytest.TempPathFactory, rows: list, cuts: list
) -> None:
    import collections

    folder = tmp_path_factory.mktemp("split")
    table = pa.table({"n": [r[0] for r in rows], "s": [r[1] for r in rows]})
    bounds = sorted({0, len(rows), *(c for c in cuts if c < len(rows))})
    parts = [table.slice(lo, hi - lo) for lo, hi in zip(bounds, bounds[1:], strict=False)]
    merged = merge_profiles([_profile(folder / f"p{i}.parquet", t) for i, t in enumerate(parts)])
    values = np.array([r[0] for r in rows if r[0] is not None], dtype=np.float64)
    n = _col(merged, "n")
    assert (n["count"], n["nulls"]) == (len(values), len(rows) - len(values))
    if len(values):
        assert (n["min"], n["max"]) == (values.min(), values.max())
        assert n["mean"] == pytest.approx(values.mean(), abs=1e-9)
        if len(values) > 1:
            assert n["std"] == pytest.approx(values.std(ddof=1), abs=1e-9)
    counts = collections.Counter(r[1] for r in rows)
    s = _col(merged, "s")
    assert s["top"] == [[v, c] for v, c in sorted(counts.items(), key=lambda vc: (-vc[1], vc[0]))]
    assert (s["distinct"], s["distinct_exact"]) == (len(counts), True)
