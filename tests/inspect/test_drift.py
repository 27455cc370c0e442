"""Drift from two profiles, checked against numpy on the raw data and on constructed shifts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dvlin.inspect.drift import PSI_BINS, Thresholds, file_drift
from dvlin.inspect.profile import profile_file
from dvlin.inspect.vectors import VectorProfiler, embedding_drift


def _profile(tmp_path: Path, name: str, columns: dict) -> dict:
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.table(columns), path, row_group_size=50_000)
    p = profile_file(str(path), path.name)
    assert p is not None
    return p


def _psi_numpy(a: np.ndarray, b: np.ndarray) -> float:
    """PSI over the deciles of ``a``, computed from the raw values."""
    edges = np.unique(np.quantile(a, np.arange(1, PSI_BINS) / PSI_BINS))
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    pa_ = np.histogram(a, bins)[0] / len(a)
    pb_ = np.histogram(b, bins)[0] / len(b)
    pa_, pb_ = np.maximum(pa_, 1e-4), np.maximum(pb_, 1e-4)
    return float(((pb_ - pa_) * np.log(pb_ / pa_)).sum())


def _ks_numpy(a: np.ndarray, b: np.ndarray) -> float:
    points = np.sort(np.concatenate([a, b]))
    ca = np.searchsorted(np.sort(a), points, side="right") / len(a)
    cb = np.searchsorted(np.sort(b), points, side="right") / len(b)
    return float(np.abs(ca - cb).max())


def _column(drift: dict, name: str) -> dict:
    return next(c for c in drift["columns"] if c["name"] == name)


@pytest.mark.parametrize(("shift", "label"), [(0.0, "low"), (0.45, "medium"), (1.5, "high")])
def test_numeric_drift_matches_numpy_and_is_labelled(
    tmp_path: Path, shift: float, label: str
) -> None:
    rng = np.random.default_rng(11)
    a = rng.normal(0, 1, 200_000)
    b = rng.normal(shift, 1, 200_000)
    d = file_drift(_profile(tmp_path, "a", {"x": a}), _profile(tmp_path, "b", {"x": b}))
    c = _column(d, "x")
    # The bins come from KLL quantiles (randomised, ~1.3% rank error): over repeated runs the
    # estimate strays up to ~0.02 from the exact PSI, so 0.02 failed about one run in twenty.
    assert c["psi"] == pytest.approx(_psi_numpy(a, b), abs=0.035, rel=0.1)
    assert c["ks"] == pytest.approx(_ks_numpy(a, b), abs=0.03)
    assert c["mean_shift_std"] == pytest.approx(shift, abs=0.02)
    assert c["drift"] == label


@pytest.mark.parametrize(
    ("after", "label"),
    [
        ([0.5, 0.3, 0.2, 0.0], "low"),
        ([0.3, 0.4, 0.3, 0.0], "medium"),
        ([0.3, 0.2, 0.2, 0.3], "high"),
    ],
)
def test_categorical_drift_and_new_categories(tmp_path: Path, after: list, label: str) -> None:
    rng = np.random.default_rng(5)
    cats = ["a", "b", "c", "d"]
    a = rng.choice(cats, 100_000, p=[0.5, 0.3, 0.2, 0.0])
    b = rng.choice(cats, 100_000, p=after)
    d = file_drift(
        _profile(tmp_path, "a", {"s": a.tolist()}), _profile(tmp_path, "b", {"s": b.tolist()})
    )
    c = _column(d, "s")
    pa_ = np.array([(a == k).mean() for k in cats if (a == k).any() or (b == k).any()])
    pb_ = np.array([(b == k).mean() for k in cats if (a == k).any() or (b == k).any()])
    pa_, pb_ = np.maximum(pa_, 1e-4), np.maximum(pb_, 1e-4)
    assert c["psi"] == pytest.approx(float(((pb_ - pa_) * np.log(pb_ / pa_)).sum()), rel=1e-6)
    assert c["drift"] == label
    assert c["new"] == (["d"] if after[3] else [])
    assert c["vanished"] == []


def test_null_fractions_rows_and_columns(tmp_path: Path) -> None:
    a = {"x": pa.array([1.0] * 1000), "gone": pa.array([1] * 1000)}
    b = {"x": pa.array([1.0] * 1050 + [None] * 50), "new": pa.array(["k"] * 1100)}
    d = file_drift(_profile(tmp_path, "a", a), _profile(tmp_path, "b", b))
    assert d["rows"] == [1000, 1100]
    assert d["added_columns"] == ["new"] and d["removed_columns"] == ["gone"]
    assert _column(d, "x")["null_fraction"] == [0.0, pytest.approx(50 / 1100)]


def test_thresholds_are_configurable() -> None:
    t = Thresholds(psi_medium=0.01, psi_high=0.02)
    assert (t.label(0.005), t.label(0.015), t.label(0.5)) == ("low", "medium", "high")


def _vectors(x: np.ndarray) -> dict:
    p = VectorProfiler()
    p.feed(x, np.arange(len(x)))
    return p.result()


def _base(seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(0, 1, (5000, 16))
    x[:, 0] += 3  # a centroid away from the origin, as real embeddings have
    return x


def test_embedding_drift_none_rotation_and_shifted_centroid() -> None:
    base = _base(0)
    same = embedding_drift(_vectors(base), _vectors(_base(1)))
    assert same["drift"] == "low" and same["centroid_shift"] < 0.005

    theta = math.pi / 2
    rot = np.eye(16)
    rot[0, 0] = rot[1, 1] = math.cos(theta)
    rot[0, 1], rot[1, 0] = -math.sin(theta), math.sin(theta)
    rotated = embedding_drift(_vectors(base), _vectors(base @ rot.T))
    # A rotation keeps every distance: no neighbour moves, but the centroid turns 90°.
    assert rotated["nn_moved"] == 0.0
    assert rotated["centroid_shift"] == pytest.approx(
        1
        - np.dot(base.mean(0), (base @ rot.T).mean(0))
        / (np.linalg.norm(base.mean(0)) * np.linalg.norm((base @ rot.T).mean(0))),
        abs=1e-4,
    )
    assert rotated["drift"] == "high"

    small, big = base.copy(), base.copy()
    small[:, 1] += 0.5
    big[:, 1] += 2.0
    assert embedding_drift(_vectors(base), _vectors(small))["drift"] == "medium"
    moved = embedding_drift(_vectors(base), _vectors(big))
    assert moved["drift"] == "high"
    assert moved["mean_norm_change"] == pytest.approx(
        np.linalg.norm(big, axis=1).mean() - np.linalg.norm(base, axis=1).mean(), rel=1e-6
    )


def test_embeddings_of_another_dim_are_not_compared() -> None:
    d = embedding_drift(_vectors(_base(0)), _vectors(_base(0)[:, :8]))
    assert d["comparable"] is False and d["dim"] == [16, 8]


def test_discrete_numbers_are_binned_like_numpy(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    a = rng.choice(5, 100_000, p=[0.4, 0.3, 0.15, 0.1, 0.05]).astype(np.int64)
    b = rng.choice(5, 100_000, p=[0.1, 0.2, 0.2, 0.3, 0.2]).astype(np.int64)
    d = file_drift(_profile(tmp_path, "a", {"n": a}), _profile(tmp_path, "b", {"n": b}))
    c = _column(d, "n")
    # A run of equal values starts and ends within the sketch's rank error (~1.3%) of its
    # true place, so each bin's share is that close and PSI within ~10%.
    assert c["psi"] == pytest.approx(_psi_numpy(a, b), abs=0.03, rel=0.1)
    assert c["ks"] == pytest.approx(_ks_numpy(a, b), abs=0.03)
    assert c["drift"] == "high"
    same = file_drift(_profile(tmp_path, "a", {"n": a}), _profile(tmp_path, "c", {"n": a}))
    assert _column(same, "n")["psi"] < 0.01 and _column(same, "n")["ks"] < 0.02


def test_row_wise_search_matches_numpy_searchsorted() -> None:
    from dvlin.inspect.drift import _searchsorted_rows

    rng = np.random.default_rng(9)
    # Values closer than ~1e-15 of a row's range count as equal; these rows have none.
    q = np.sort(rng.choice([0.0, 1.0, 2.5, 1e3, -3.0], (40, 101)), axis=1)
    q[:5] = np.sort(rng.normal(0, 1e-6, (5, 101)), axis=1)
    q[5] = 7.0  # one value only
    x = np.concatenate([q, rng.normal(0, 3, (40, 30)), q[::-1] * 2], axis=1)
    for side in ("left", "right"):
        want = np.array([np.searchsorted(q[i], x[i], side=side) for i in range(len(q))])
        assert np.array_equal(_searchsorted_rows(q, x, side=side), want)
        q2 = q.copy()
        q2[7, -1] = np.inf
        want = np.array([np.searchsorted(q2[i], x[i], side=side) for i in range(len(q))])
        assert np.array_equal(_searchsorted_rows(q2, x, side=side), want)
