"""``dvlin stale`` and ``dvlin repro`` after a new upstream version."""

from __future__ import annotations

import json

from dvlin.errors import ExitCode
from tests.conftest import Cli, Pipeline


def test_stale_then_repro(pipeline: Pipeline, cli: Cli) -> None:
    assert json.loads(cli("stale", "--json", ok=True).stdout) == []
    assert "up to date" in cli("stale", ok=True).stdout
    raw = pipeline.root / "data/raw/events.csv"
    raw.write_text(raw.read_text() + "3,30\n")
    cli("commit", "data/raw", "--name", "raw", ok=True)
    found = json.loads(cli("stale", "--json", ok=True).stdout)
    assert {(s["version"], s["input"], s["newest"]) for s in found} == {
        ("features@v1", "raw@v1", "raw@v2"),
        ("notes@v1", "raw@v1", "raw@v2"),
    }
    assert (
        "features@v1 built from raw@v1; raw is now @v2" in cli("stale", "features", ok=True).stdout
    )

    plan = json.loads(cli("repro", "features", "--dry-run", "--json", ok=True).stdout)
    assert [s["transform"] for s in plan["steps"]] == ["build-features"] and plan["runs"] == []
    assert json.loads(cli("show", "features", "--json").stdout)["number"] == 1  # nothing ran

    model_plan = json.loads(cli("repro", "model", "-n", "--json", ok=True).stdout)
    assert [(s["transform"], s["manual"]) for s in model_plan["steps"]] == [
        ("build-features", False),
        ("train", True),
    ]
    r = cli("repro", "model")
    assert r.exit_code == ExitCode.USAGE and "cannot re-run" in r.stderr

    done = json.loads(cli("repro", "features", "--json", ok=True).stdout)
    assert done["runs"][0]["outputs"][0]["label"] == "features@v2"
    assert done["runs"][0]["inputs"][0]["label"] == "raw@v2"
    assert (pipeline.root / "data/features/features.csv").read_text().count("3,30") == 2
    up = json.loads(cli("lineage", "features", "--json", ok=True).stdout)
    labels = {n["data"].get("label") for n in up["nodes"]}
    assert "raw@v2" in labels and "raw@v1" not in labels
    stale_now = {s["version"] for s in json.loads(cli("stale", "--json", ok=True).stdout)}
    assert stale_now == {"model@v1", "notes@v1"}
    assert "is up to date" in cli("repro", "features", ok=True).stdout


def test_stale_unknown_name(pipeline: Pipeline, cli: Cli) -> None:
    r = cli("stale", "nope")
    assert r.exit_code == ExitCode.NOT_FOUND and "unknown asset" in r.stderr
