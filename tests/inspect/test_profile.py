"""Profiles against an independent computation with numpy and pyarrow on the raw data."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dvlin.inspect.profile import EXACT_DISTINCT, TOP_K, profile_file
from tests.policy.conftest import write_table


def _col(profile: dict, name: str) -> dict:
    return next(c for c in profile["columns"] if c["name"] == name)


def test_numbers_match_numpy(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(3.0, 2.0, 300_000)
    mask = rng.random(len(x)) < 0.05
    arr = pa.array(x, mask=mask)
    path = tmp_path / "t.parquet"
    # Small row groups: the profile is built from many record batches and must still add up.
    pq.write_table(pa.table({"x": arr}), path, row_group_size=20_000)
    p = profile_file(str(path), "t.parquet")
    assert p is not None
    c = _col(p, "x")
    valid = x[~mask]
    assert p["rows"] == len(x)
    assert c["nulls"] == int(mask.sum()) and c["count"] == len(valid)
    assert c["min"] == pytest.approx(valid.min()) and c["max"] == pytest.approx(valid.max())
    assert c["mean"] == pytest.approx(valid.mean(), rel=1e-9)
    assert c["std"] == pytest.approx(valid.std(ddof=1), rel=1e-9)
    expected = np.quantile(valid, np.linspace(0, 1, 101))
    # KLL with k=200: normalized rank error ~1.3%; compare ranks, not values.
    ranks = np.searchsorted(np.sort(valid), c["quantiles"]) / len(valid)
    assert np.abs(ranks - np.linspace(0, 1, 101)).max() < 0.03
    assert c["quantiles"][0] == pytest.approx(expected[0])
    assert c["quantiles"][-1] == pytest.approx(expected[-1])
    assert not c["distinct_exact"]
    assert c["distinct"] == pytest.approx(len(np.unique(valid)), rel=0.05)


def test_exact_distinct_below_the_bound_and_top_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(30)]
    values = rng.choice(words, 100_000, p=np.arange(1, 31) / np.arange(1, 31).sum()).tolist()
    values[::97] = [None] * len(values[::97])
    ints = rng.integers(0, 5_000, 100_000)
    path = write_table(tmp_path / "t", {"s": values, "i": ints})
    p = profile_file(str(path), path.name)
    assert p is not None
    s, i = _col(p, "s"), _col(p, "i")
    counts = collections.Counter(v for v in values if v is not None)
    assert s["distinct"] == len(counts) and s["distinct_exact"]
    assert s["nulls"] == values.count(None)
    assert s["top_complete"]
    assert [tuple(t) for t in s["top"]] == sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    assert i["distinct"] == len(np.unique(ints)) and i["distinct_exact"]
    assert len(json.dumps(p)) < 30_000  # a few KB per column


def test_many_distinct_strings_estimate_and_keep_top_k(tmp_path: Path) -> None:
    n = EXACT_DISTINCT * 2
    values = [f"id-{i}" for i in range(n)] + ["hot"] * 5000
    path = write_table(tmp_path / "t", {"s": values})
    p = profile_file(str(path), path.name)
    assert p is not None
    s = _col(p, "s")
    assert not s["distinct_exact"]
    assert s["distinct"] == pytest.approx(n + 1, rel=0.05)
    value, estimate = s["top"][0]
    assert value == "hot" and abs(estimate - 5000) <= 0.001 * len(values)  # the sketch's bound
    assert len(s["top"]) <= TOP_K and not s["top_complete"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "arrow"])
def test_every_table_format_gives_the_same_statistics(tmp_path: Path, fmt: str) -> None:
    cols = {"a": [1, 2, 3, None, 5], "b": ["x", "y", "x", "x", None]}
    ref = profile_file(str(write_table(tmp_path / "ref", cols)), "ref.parquet")
    got = profile_file(str(write_table(tmp_path / "t", cols, fmt)), f"t.{fmt}")
    assert ref is not None and got is not None
    for name in ("a", "b"):
        r, g = _col(ref, name), _col(got, name)
        for k in ("count", "nulls", "distinct", "min", "max", "mean", "top"):
            assert r.get(k) == g.get(k), (name, k)


def test_booleans_and_timestamps(tmp_path: Path) -> None:
    stamps = pa.array(np.array(["2026-01-02", "2026-03-04", "2025-12-31"], dtype="datetime64[s]"))
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"b": [True, False, True], "t": stamps}), path)
    p = profile_file(str(path), "t.parquet")
    assert p is not None
    assert _col(p, "b")["top"] == [["true", 2], ["false", 1]]
    t = _col(p, "t")
    assert t["kind"] == "temporal"
    assert t["min"] == "2025-12-31T00:00:00" and t["max"] == "2026-03-04T00:00:00"
    assert t["distinct"] == 3


def test_npy_embedding_profile_matches_numpy(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0.5, 1.0, (5000, 12)).astype(np.float32)
    x[10, 3] = np.nan
    np.save(tmp_path / "e.npy", x)
    p = profile_file(str(tmp_path / "e.npy"), "e.npy")
    assert p is not None
    e = p["embedding"]
    finite = np.delete(x, 10, axis=0).astype(np.float64)
    assert (e["count"], e["dim"], e["dtype"], e["nonfinite"]) == (5000, 12, "float32", 1)
    norms = np.linalg.norm(finite, axis=1)
    assert e["norm"]["mean"] == pytest.approx(norms.mean(), rel=1e-6)
    assert e["norm"]["std"] == pytest.approx(norms.std(), rel=1e-4)
    from dvlin.inspect.vectors import _centroid, _sample

    assert np.allclose(_centroid(e), finite.mean(axis=0), atol=1e-5)
    rows, vectors = _sample(e)
    assert len(rows) == 256 and np.array_equal(vectors, x[rows].astype(np.float64))


def test_vector_column_profile_samples_the_same_rows_as_npy(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (3000, 4)).astype(np.float32)
    np.save(tmp_path / "e.npy", x)
    col = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), 4)
    pq.write_table(pa.table({"v": col}), tmp_path / "t.parquet", row_group_size=700)
    a = profile_file(str(tmp_path / "e.npy"), "e.npy")
    b = profile_file(str(tmp_path / "t.parquet"), "t.parquet")
    assert a is not None and b is not None
    ea, eb = a["embedding"], _col(b, "v")["embedding"]
    assert ea["sample"] == eb["sample"] and ea["centroid"] == eb["centroid"]
    assert ea["dtype"] == eb["dtype"] == "float32"


def test_unreadable_table_is_an_error_in_the_profile(tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    p = profile_file(str(tmp_path / "bad.parquet"), "bad.parquet")
    assert p is not None and "error" in p


def test_every_arrow_type_profiles_without_failing(tmp_path: Path) -> None:
    import datetime
    import decimal

    table = pa.table(
        {
            "dec": pa.array([decimal.Decimal("1.50"), None], pa.decimal128(10, 2)),
            "dict": pa.array(["a", "b"]).dictionary_encode(),
            "date": pa.array([datetime.date(2020, 1, 1), None]),
            "time": pa.array([datetime.time(1, 2), None]),
            "struct": pa.array([{"a": 1}, None]),
            "ragged": pa.array([[1.0, 2.0], [3.0]]),
            "bin": pa.array([b"a", b"b"]),
            "dur": pa.array([1, 2], pa.duration("s")),
            "inf": pa.array([1.0, float("inf")]),
            "u64": pa.array([2**64 - 1, 0], pa.uint64()),
            "nothing": pa.array([None, None], pa.float64()),
        }
    )
    pq.write_table(table, tmp_path / "odd.parquet")
    p = profile_file(str(tmp_path / "odd.parquet"), "odd.parquet")
    assert p is not None
    json.dumps(p, allow_nan=False)  # stored profiles are strict JSON
    kinds = {c["name"]: c["kind"] for c in p["columns"]}
    assert kinds["dur"] == "number" and kinds["struct"] == "other" and kinds["dict"] == "string"
    assert _col(p, "dec")["mean"] == 1.5 and _col(p, "nothing")["nulls"] == 2
    assert "lengths" in _col(p, "ragged")["embedding"]["note"]


def test_a_type_no_kernel_handles_is_counted_and_noted(tmp_path: Path) -> None:
    import pyarrow.feather as feather

    interval = pa.array([pa.MonthDayNano([1, 2, 3]), None], pa.month_day_nano_interval())
    feather.write_feather(pa.table({"iv": interval}), tmp_path / "iv.arrow")
    p = profile_file(str(tmp_path / "iv.arrow"), "iv.arrow")
    assert p is not None
    (c,) = p["columns"]
    assert (c["kind"], c["count"], c["nulls"]) == ("other", 1, 1)
    assert c["note"].startswith("not profiled: ")


@pytest.mark.parametrize("content", [b"", b"not an array", b"\x93NUMPY"])
def test_an_empty_or_broken_npy_is_an_error_in_the_profile(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "x.npy").write_bytes(content)
    p = profile_file(str(tmp_path / "x.npy"), "x.npy")
    assert p is not None and p["format"] == "npy" and "error" in p
