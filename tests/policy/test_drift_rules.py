"""Drift rules as pure decisions over two sets of profiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dvlin.inspect.profile import profile_file
from dvlin.policy.config import parse_policy
from dvlin.policy.drift import DriftRules, drift_results, parse_rules, parse_thresholds


def _table(tmp_path: Path, name: str, columns: dict) -> dict:
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.table(columns), path)
    p = profile_file(str(path), path.name)
    assert p is not None
    return p


def _npy(tmp_path: Path, name: str, x: np.ndarray) -> dict:
    np.save(tmp_path / f"{name}.npy", x)
    p = profile_file(str(tmp_path / f"{name}.npy"), f"{name}.npy")
    assert p is not None
    return p


def _by_rule(results: list) -> dict:
    return {r.rule: r for r in results}


def test_rules_parse_from_dvlin_toml(tmp_path: Path) -> None:
    doc = {
        "drift": {"psi_high": 0.3},
        "assets": {"e": {"drift": {"max_row_change": "12.5%", "max_psi": 0.2}}},
    }
    policy = parse_policy(doc, source="dvlin.toml", root=tmp_path)
    rules = policy.assets["e"].drift
    assert rules == DriftRules(max_psi=0.2, max_row_change=0.125)
    assert rules.to_dict() == {"max_psi": 0.2, "max_row_change": "12.5%"}
    assert parse_rules({"max_row_change": 500}).max_row_change_rows == 500
    assert parse_thresholds(policy.drift).psi_high == 0.3
    assert parse_thresholds(None).psi_medium == 0.1
    assert policy.assets["e"].to_dict()["drift"] == {"max_psi": 0.2, "max_row_change": "12.5%"}


def test_row_change_null_increase_and_psi(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    before = {"t.parquet": _table(tmp_path, "a", {"x": rng.normal(0, 1, 10_000)})}
    x = rng.normal(2, 1, 11_000).tolist()
    x[:550] = [None] * 550
    after = {"t.parquet": _table(tmp_path, "b", {"x": x})}
    rules = DriftRules(max_psi=0.25, max_null_increase=0.02, max_row_change=0.2)
    got = _by_rule(drift_results(rules, before, after, against="e@v1"))
    assert got["max_row_change"].passed
    assert got["max_row_change"].found == "10,000 → 11,000 rows (+1,000, 10.0%)"
    assert not got["max_null_increase"].passed
    assert got["max_null_increase"].measured == pytest.approx(0.05)
    assert got["max_null_increase"].found == "+5.00% in t.parquet:x"
    assert not got["max_psi"].passed and got["max_psi"].column == "x"
    assert got["max_psi"].expected == "PSI at most 0.25 vs e@v1"
    strict = drift_results(DriftRules(max_row_change_rows=999), before, after, against="e@v1")
    assert not strict[0].passed and strict[0].measured == 1000


def test_centroid_shift_of_npy_and_vector_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (2000, 8))
    x[:, 0] += 3
    y = x.copy()
    y[:, 1] += 2
    before = {"e.npy": _npy(tmp_path, "a", x)}
    after = {"e.npy": _npy(tmp_path, "b", y)}
    (r,) = drift_results(DriftRules(max_centroid_shift=0.05), before, after, against="e@v1")
    assert not r.passed and r.file == "e.npy" and r.column is None
    (ok,) = drift_results(DriftRules(max_centroid_shift=0.05), before, before, against="e@v1")
    assert ok.passed and ok.measured == pytest.approx(0.0, abs=1e-9)


def test_nothing_to_compare_passes(tmp_path: Path) -> None:
    rules = DriftRules(max_psi=0.1, max_centroid_shift=0.1)
    results = drift_results(rules, {}, {}, against="e@v1")
    assert all(r.passed and r.found == "nothing to compare" for r in results)
