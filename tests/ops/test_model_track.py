"""``dvlin model`` and ``dvlin.track``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dvlin
from dvlin import Repo
from dvlin.errors import ExitCode, NotFoundError
from tests.conftest import Cli, Pipeline, write_tree


def test_register_list_show_stage(pipeline: Pipeline, cli: Cli) -> None:
    write_tree(pipeline.root, {"models/fraud.pt": b"\x00weights"})
    r = cli(
        "model", "register", "models/fraud.pt", "--name", "fraud", "--trained-on", "features@v1",
        "--metric", "auc=0.91", "--param", "lr=0.01", "--stage", "staging", "--json",
        ok=True,
    )  # fmt: skip
    doc = json.loads(r.stdout)
    assert doc["label"] == "fraud@v1" and doc["stage"] == "staging"
    assert doc["metrics"] == {"auc": 0.91} and doc["params"] == {"lr": "0.01"}
    assert doc["trained_on"] == ["features@v1"]
    assert json.loads(cli("show", "fraud", "--json", ok=True).stdout)["kind"] == "model"
    moved = json.loads(cli("model", "stage", "fraud@v1", "production", "--json", ok=True).stdout)
    assert moved["stage"] == "production" and moved["author"].startswith("Test Author")
    shown = json.loads(cli("model", "show", "fraud", "--json", ok=True).stdout)
    assert [s["stage"] for s in shown["stages"]] == ["staging", "production"]
    assert shown["stage"] == "production"
    listed = json.loads(cli("model", "list", "--json", ok=True).stdout)
    assert {m["label"] for m in listed} == {"fraud@v1", "model@v1"}
    assert "production" in cli("model", "list", ok=True).stdout
    up = cli("lineage", "fraud", ok=True).stdout
    assert "run train-fraud" in up and "model registration" in up and "raw@v1" in up


def test_model_errors(pipeline: Pipeline, cli: Cli) -> None:
    write_tree(pipeline.root, {"m.pt": "w"})
    r = cli("model", "register", "m.pt", "--name", "m", "--metric", "auc=high")
    assert r.exit_code == ExitCode.USAGE and "not a number" in r.stderr
    r = cli("model", "register", "m.pt", "--name", "m", "--stage", "prod")
    assert r.exit_code == ExitCode.USAGE and "unknown stage" in r.stderr
    r = cli("model", "register", "m.pt", "--name", "m", "--trained-on", "nope@v2")
    assert r.exit_code == ExitCode.NOT_FOUND
    r = cli("model", "register", "gone.pt", "--name", "m")
    assert r.exit_code == ExitCode.NOT_FOUND
    r = cli("model", "register", "m.pt", "--name", "raw")
    assert r.exit_code == ExitCode.USAGE and "not a model" in r.stderr
    r = cli("model", "stage", "raw", "production")
    assert r.exit_code == ExitCode.USAGE and "not a model" in r.stderr
    assert json.loads(cli("model", "list", "--json", ok=True).stdout)[0]["label"] == "model@v1"


def test_track_records_metrics_and_params(pipeline: Pipeline) -> None:
    with Repo.open(pipeline.root) as repo:
        shown = dvlin.Repo.open(pipeline.root).show("model")
        assert shown.kind == "model"
        from dvlin.ops.model import show

        m = show(repo, "model")
        assert m.run is not None and m.run.kind == "track"
        assert m.run.metrics == {"auc": 0.91} and m.run.params == {"lr": "0.01"}
        assert m.trained_on == ("features@v1",)


def test_track_failure_records_a_failed_run_and_commits_nothing(pipeline: Pipeline) -> None:
    with pytest.raises(RuntimeError, match="diverged"):
        with dvlin.track("train", inputs=["features"], outputs={"models": "model"}) as run:
            (pipeline.root / "models/model.bin").write_bytes(b"half-trained")
            raise RuntimeError("loss diverged")
    assert run.result is not None and run.result.run.status == "failed"
    assert run.result.run.error == "RuntimeError: loss diverged"
    with Repo.open(pipeline.root) as repo:
        assert repo.resolve("model").number == 1


def test_track_rejects_bad_arguments_before_the_block(work: Path) -> None:
    ran = []
    with pytest.raises(NotFoundError):
        with dvlin.track("t", inputs=["missing@v1"]):
            ran.append(1)
    with pytest.raises(dvlin.DvlinError, match="bad output"):
        with dvlin.track("t", outputs=["x:"]):
            ran.append(1)
    assert ran == []
    with dvlin.track("t") as run, pytest.raises(dvlin.DvlinError, match="finite"):
        run.log_metric("loss", float("nan"))
