"""Fixtures for lineage tests: a CLI repo and a three-stage pipeline (raw → features → model)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Cli, write_tree

# A transform script that copies its input file doubled into its output folder.
FEATURES = """
import pathlib, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
dst.mkdir(parents=True, exist_ok=True)
(dst / "features.csv").write_text(src.read_text() * 2)
print("built", dst)
"""


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli) -> Path:
    """An initialised repo (via the CLI) as the working folder."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    cli("init", ok=True)
    return root


@dataclass
class Pipeline:
    """Ids and labels of a recorded raw → features → model pipeline."""

    root: Path
    raw: str
    features: str
    model: str
    features_run: str
    train_run: str


def build_pipeline(work: Path, cli: Cli) -> Pipeline:
    """raw@v1 (commit) → build-features (dvlin run) → features@v1 → train (dvlin.track) →
    model@v1, and a hand link raw@v1 → notes@v1 (dvlin link)."""
    import dvlin

    write_tree(work, {"data/raw/events.csv": "id,amount\n1,10\n2,20\n", "make.py": FEATURES})
    cli("commit", "data/raw", "--name", "raw", ok=True)
    r = cli(
        "run", "--name", "build-features", "-i", "raw", "-o", "data/features:features",
        "--param", "window=7d", "--json", "--",
        sys.executable, "make.py", "data/raw/events.csv", "data/features",
        ok=True,
    )  # fmt: skip
    features_run = json.loads(r.stdout)["run"]["id"]
    with dvlin.track(
        "train",
        inputs=["features@v1"],
        outputs={"models/model.bin": "model"},
        params={"lr": 0.01},
        kind="model",
    ) as run:
        (work / "models").mkdir()
        (work / "models/model.bin").write_bytes(b"weights")
        run.log_metric("auc", 0.91)
    assert run.result is not None and run.result.ok
    write_tree(work, {"docs/notes.md": "hand-made from raw"})
    cli("commit", "docs/notes.md", "--name", "notes", ok=True)
    cli("link", "--from", "raw@v1", "--to", "notes@v1", ok=True)
    ids = {
        name: json.loads(cli("show", name, "--json", ok=True).stdout)["id"]
        for name in ("raw", "features", "model")
    }
    return Pipeline(work, ids["raw"], ids["features"], ids["model"], features_run, run.id)


@pytest.fixture
def pipeline(work: Path, cli: Cli) -> Pipeline:
    """The three-stage pipeline, recorded."""
    return build_pipeline(work, cli)
