"""Embedding rules on real .npy files and Parquet fixed-size-list columns."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dvlin import Repo
from dvlin.ops.check import check
from tests.policy.conftest import write_policy

POLICY = """
[assets.emb]
kind = "embeddings"
path = "data/emb"
[assets.emb.quality]
vector_column = "embedding"
dim = 8
dtype = "float32"
finite = true
unit_norm = { tolerance = 1e-3 }
min_count = 10
"""


def unit_vectors(n: int, dim: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def write(repo: Repo, vectors: np.ndarray, fmt: str) -> None:
    folder = repo.root / "data/emb"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    if fmt == "npy":
        np.save(folder / "v.npy", vectors)
    else:
        flat = pa.array(vectors.reshape(-1), pa.from_numpy_dtype(vectors.dtype))
        col = pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])
        pq.write_table(
            pa.table({"id": list(range(len(vectors))), "embedding": col}), folder / "v.parquet"
        )


def verdicts(repo: Repo) -> dict[str, bool]:
    write_policy(repo.root, POLICY)
    (a,) = check(repo).assets
    return {r.rule: r.passed for r in a.results}


@pytest.mark.parametrize("fmt", ["npy", "parquet"])
def test_good_embeddings_pass(repo: Repo, fmt: str) -> None:
    write(repo, unit_vectors(20), fmt)
    assert verdicts(repo) == dict.fromkeys(
        ["dim", "dtype", "finite", "unit_norm", "min_count"], True
    )


@pytest.mark.parametrize("fmt", ["npy", "parquet"])
@pytest.mark.parametrize(
    ("case", "rules"),
    [
        ("wrong dim", {"dim"}),
        ("float64", {"dtype"}),
        ("nan", {"finite", "unit_norm"}),
        ("not normalised", {"unit_norm"}),
        ("too few", {"min_count"}),
    ],
)
def test_each_rule_fails(repo: Repo, fmt: str, case: str, rules: set[str]) -> None:
    v = unit_vectors(20)
    if case == "wrong dim":
        v = unit_vectors(20, dim=4)
    elif case == "float64":
        v = v.astype(np.float64)
    elif case == "nan":
        v[3, 2] = np.nan
    elif case == "not normalised":
        v[5] *= 2
    elif case == "too few":
        v = v[:5]
    write(repo, v, fmt)
    got = verdicts(repo)
    assert {r for r, ok in got.items() if not ok} == rules, got


def test_examples_name_the_row(repo: Repo) -> None:
    v = unit_vectors(20)
    v[7] *= 3
    write(repo, v, "npy")
    write_policy(repo.root, POLICY)
    (a,) = check(repo).assets
    (norm,) = [r for r in a.results if r.rule == "unit_norm"]
    assert norm.examples[0]["row"] == 7 and norm.examples[0]["file"] == "v.npy"
    assert abs(norm.examples[0]["norm"] - 3) < 1e-3


def test_a_1d_array_is_not_embeddings(repo: Repo) -> None:
    (repo.root / "data/emb").mkdir(parents=True)
    np.save(repo.root / "data/emb/v.npy", np.zeros(8, np.float32))
    got = verdicts(repo)
    assert got["dim"] is False
