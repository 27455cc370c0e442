"""OpenLineage export: every event against the pinned core schema, every facet against the
schema its ``_schemaURL`` names, offline, with a format checker."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from tests.conftest import Cli, Pipeline, write_tree

SPEC_DIR = Path(__file__).resolve().parents[1] / "data" / "openlineage"
SPEC = "https://openlineage.io/spec/"


def _registry() -> Registry:
    resources = []
    for path in SPEC_DIR.rglob("*.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        resources.append((doc["$id"], Resource.from_contents(doc)))
    return Registry().with_resources(resources)


REGISTRY = _registry()
CORE = REGISTRY.contents(f"{SPEC}2-0-2/OpenLineage.json")


def _facets(event: dict[str, Any]) -> list[dict[str, Any]]:
    found = [*event.get("run", {}).get("facets", {}).values()]
    found += event.get("job", {}).get("facets", {}).values()
    datasets = [*event.get("inputs", []), *event.get("outputs", [])]
    if "dataset" in event:
        datasets.append(event["dataset"])
    for d in datasets:
        found += d.get("facets", {}).values()
    return found


def validate(event: dict[str, Any]) -> int:
    """Validate an event and each of its facets; returns how many facets were checked."""
    checker = FormatChecker()
    Draft202012Validator(CORE, registry=REGISTRY, format_checker=checker).validate(event)
    facets = _facets(event)
    for f in facets:
        url = f["_schemaURL"]
        assert url.startswith(SPEC), url
        base, _, pointer = url.partition("#")
        assert base in REGISTRY, f"facet schema not pinned: {base}"
        schema = {"$ref": url, "$schema": "https://json-schema.org/draft/2020-12/schema"}
        Draft202012Validator(schema, registry=REGISTRY, format_checker=checker).validate(f)
    return len(facets)


def _events(cli: Cli, *args: str) -> list[dict[str, Any]]:
    out = cli("lineage", *args, "--format", "openlineage", ok=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_pipeline_events_are_valid(pipeline: Pipeline, cli: Cli) -> None:
    events = _events(cli, "raw", "--downstream")
    assert sum(validate(e) for e in events) > 10
    runs = [e for e in events if "run" in e]
    assert [e["eventType"] for e in runs] == ["START", "COMPLETE", "START", "COMPLETE"]
    build = [e for e in runs if e["job"]["name"] == "build-features"]
    assert build[0]["run"]["runId"] == build[1]["run"]["runId"]
    assert str(uuid.UUID(build[0]["run"]["runId"])) == build[0]["run"]["runId"]
    assert build[0]["job"]["namespace"] == "dvlin"
    assert build[0]["job"]["facets"]["jobType"]["jobType"] == "COMMAND"
    params = build[1]["run"]["facets"]["executionParameters"]["parameters"]
    assert params == [{"key": "window", "value": "7d"}]
    (out,) = build[1]["outputs"]
    assert out["name"] == "features"
    assert out["facets"]["version"]["datasetVersion"] == pipeline.features
    schema = out["facets"]["schema"]["fields"]
    assert [f["name"] for f in schema] == ["id", "amount"]
    train = [e for e in runs if e["job"]["name"] == "train"]
    assert train[1]["outputs"][0]["facets"]["datasetType"]["datasetType"] == "MODEL"
    datasets = [e for e in events if "dataset" in e]
    assert {e["dataset"]["name"] for e in datasets} == {"raw", "notes"}
    assert all(e["schemaURL"].endswith("#/$defs/DatasetEvent") for e in datasets)
    again = _events(cli, "raw", "--downstream")
    assert again == events  # stable run ids and times: the same export twice


def test_failed_run_has_an_error_facet_and_a_configurable_namespace(work: Path, cli: Cli) -> None:
    write_tree(work, {"d/a.txt": "1"})
    cli("commit", "d", "--name", "d", ok=True)
    assert cli("run", "-n", "broken", "-i", "d", "--", "false").exit_code == 1
    out = cli("lineage", "d", "-d", "-f", "openlineage", "--namespace", "team-a", ok=True).stdout
    events = [json.loads(line) for line in out.splitlines()]
    for e in events:
        validate(e)
    fail = next(e for e in events if e.get("eventType") == "FAIL")
    assert fail["job"] == {**fail["job"], "namespace": "team-a", "name": "broken"}
    assert fail["run"]["facets"]["errorMessage"]["message"] == "exit code 1"
    assert fail["outputs"] == []


def test_git_source_code_location(work: Path, cli: Cli) -> None:
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e", "PATH": __import__("os").environ["PATH"]}  # fmt: skip
    write_tree(work, {"make.sh": "echo hi > out.txt\n"})
    for args in (["init", "-q"], ["add", "make.sh"], ["commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=work, check=True, env=env)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True)
    cli("run", "-n", "make", "-o", "out.txt:out", "--", "sh", "make.sh", ok=True)
    events = _events(cli, "out")
    for e in events:
        validate(e)
    loc = events[-1]["job"]["facets"]["sourceCodeLocation"]
    assert loc["type"] == "git" and loc["version"] == head.stdout.strip()
    assert loc["url"].startswith("file://")
    shown = cli("lineage", "out", ok=True).stdout
    assert f"git {head.stdout.strip()[:7]}" in shown


def test_the_validator_catches_a_broken_facet(pipeline: Pipeline, cli: Cli) -> None:
    event = next(e for e in _events(cli, "model") if e.get("eventType") == "COMPLETE")
    broken = json.loads(json.dumps(event))
    broken["outputs"][0]["facets"]["version"].pop("datasetVersion")
    with pytest.raises(Exception, match="datasetVersion"):
        validate(broken)
    bad_time = {**event, "eventTime": "yesterday"}
    with pytest.raises(Exception, match="date-time"):
        validate(bad_time)
