"""The audit report's content: inventory, overrides, holds, gc, stages, lineage, drift, chain."""

from __future__ import annotations

import sqlite3
from typing import Any

import jsonschema
import pytest

from dvlin import Repo
from dvlin.audit.report import SCHEMA_VERSION, report_schema
from dvlin.errors import NotFoundError, UsageError
from dvlin.ops.report import report
from tests.audit.reportdata import HOSTILE, HOSTILE_COLUMN, build


@pytest.fixture
def built(repo: Repo) -> Repo:
    build(repo)
    return Repo.open(repo.root)


def _doc(repo: Repo, **kwargs: Any) -> dict[str, Any]:
    doc: dict[str, Any] = report(repo, **kwargs).to_dict()
    jsonschema.Draft202012Validator(
        report_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(doc)
    return doc


def _version(doc: dict[str, Any], label: str) -> dict[str, Any]:
    return next(v for v in doc["versions"] if v["label"] == label)


def test_inventory_lists_every_asset_with_kind_owner_versions_and_retention(built: Repo) -> None:
    doc = _doc(built)
    assets = {a["name"]: a for a in doc["assets"]}
    assert sorted(assets) == ["clean", "features", "m", "old", "raw"]
    assert assets["m"]["kind"] == "model" and assets["features"]["kind"] == "features"
    assert assets["raw"]["owner"] == HOSTILE
    assert assets["old"]["versions"] == 3 and assets["old"]["retention"] == {"keep_last": 1}
    assert assets["raw"]["bytes"] == built.resolve("raw@v2").bytes
    assert doc["schema_version"] == SCHEMA_VERSION


def test_each_version_carries_its_contract_results_and_override(built: Repo) -> None:
    doc = _doc(built)
    v1 = _version(doc, "raw@v1")
    assert v1["checks"]["failed"] == 1
    assert v1["checks"]["results"][0]["rule"] == "required_files"
    assert v1["override"]["reason"] == f"backfill DATA-231 {HOSTILE}"
    assert v1["override"]["actor"] == "Test Author <test@example.org>"
    v2 = _version(doc, "raw@v2")
    assert (
        v2["checks"]
        == {
            "passed": 1,
            "failed": 0,
            "results": [v2["checks"]["results"][0]],
        }
        and v2["override"] is None
    )


def test_holds_expiries_and_gc_deletions(built: Repo) -> None:
    doc = _doc(built)
    assert [(h["version"], h["reason"]) for h in doc["holds"]] == [("raw@v1", "litigation L-17")]
    assert sorted(e["version"] for e in doc["expiries"]) == ["old@v1", "old@v2"]
    assert _version(doc, "old@v1")["expired_at"] and not _version(doc, "old@v3")["expired_at"]
    (gc_run,) = doc["gc"]
    assert gc_run["versions"] == 2 and gc_run["objects"] > 0
    deleted = built.catalog.conn.execute(
        "SELECT count(*) FROM audit WHERE action = 'gc-delete'"
    ).fetchone()[0]
    assert gc_run["objects"] == deleted


def test_a_model_shows_its_stages_and_three_levels_of_lineage_to_raw_data(built: Repo) -> None:
    doc = _doc(built)
    (model,) = doc["models"]
    assert model["version"] == "m@v1" and model["stage"] == "production"
    assert [s["stage"] for s in model["stages"]] == ["staging", "production"]
    nodes = {n["id"]: n for n in model["lineage"]["nodes"]}
    label = {i: n["label"] for i, n in nodes.items()}
    flows = {(label[e["src"]], label[e["dst"]]) for e in model["lineage"]["edges"]}
    versions = [n["label"] for n in nodes.values() if n["type"] == "version"]
    assert sorted(versions) == ["clean@v1", "features@v1", "m@v1", "raw@v1"]
    runs = {n["label"].split(" ", 1)[1]: n["label"] for n in nodes.values() if n["type"] == "run"}
    assert flows == {
        ("raw@v1", runs["clean"]),
        (runs["clean"], "clean@v1"),
        ("clean@v1", runs["featurize"]),
        (runs["featurize"], "features@v1"),
        ("features@v1", runs["train-m"]),
        (runs["train-m"], "m@v1"),
    }
    assert [n["label"] for n in nodes.values() if n["raw"]] == ["raw@v1"]


def test_drift_between_consecutive_profiled_versions(built: Repo) -> None:
    doc = _doc(built)
    (pair,) = doc["drift"]
    assert (pair["from"], pair["to"]) == ("raw@v1", "raw@v2")
    (f,) = pair["files"]
    cols = {c["name"]: c for c in f["columns"]}
    # amount moved by 40 on a 0..49 range; the markup-named column swapped all its categories
    assert cols["amount"]["drift"] == "high" and cols[HOSTILE_COLUMN]["drift"] == "high"
    assert f["rows"] == [400, 400] and f["drift"] == "high"


def test_the_chain_verification_and_its_head(built: Repo) -> None:
    doc = _doc(built)
    head = built.catalog.conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC").fetchone()
    assert doc["chain"]["ok"] is True
    assert doc["chain"]["head"] == f"{head[0]}:{head[1]}" and doc["chain"]["head_hash"] == head[1]


def test_a_tampered_chain_is_reported(built: Repo) -> None:
    built.close()
    conn = sqlite3.connect(built.dvlin_dir / "catalog.db")
    conn.execute("UPDATE audit SET target = 'raw@v9' WHERE seq = 2")
    conn.commit()
    conn.close()
    doc = _doc(Repo.open(built.root))
    assert doc["chain"]["ok"] is False and doc["chain"]["first_bad_seq"] == 2
    assert "entry 2" in doc["chain"]["problem"]


def test_asset_and_since_filters(built: Repo) -> None:
    doc = _doc(built, assets=["raw"])
    assert [a["name"] for a in doc["assets"]] == ["raw"]
    assert {v["asset"] for v in doc["versions"]} == {"raw"}
    assert doc["models"] == [] and doc["expiries"] == [] and len(doc["holds"]) == 1
    later = _doc(built, since="2999-01-01")
    assert later["versions"] == [] and later["gc"] == [] and later["holds"] == []
    assert len(later["assets"]) == 5  # the inventory is of what is held now
    assert later["filters"] == {"assets": [], "since": "2999-01-01"}


def test_bad_filters_are_refused(built: Repo) -> None:
    with pytest.raises(NotFoundError, match="unknown asset 'nope'"):
        report(built, assets=["nope"])
    with pytest.raises(UsageError, match="--since 'soon' is not a date"):
        report(built, since="soon")


def test_the_schema_is_strict_enough_to_catch_a_wrong_shape(built: Repo) -> None:
    doc = _doc(built)
    doc["versions"][0]["override"] = {"reason": 3}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, report_schema())


def test_an_empty_repo_reports_nothing_held(repo: Repo) -> None:
    from dvlin.render.report import render

    result = report(repo)
    doc = _doc(repo)
    assert doc["assets"] == [] and doc["chain"]["ok"] is True and doc["chain"]["entries"] == 0
    assert "No assets." in render(result, "html") and "No versions." in render(result, "md")
