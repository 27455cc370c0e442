"""Listings agree with the detail views: model list fills what model show fills; ls shows owners."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli, write_tree


def test_model_list_json_carries_training_data_and_stages(work: Path, cli: Cli) -> None:
    write_tree(work, {"data/a.csv": "x\n1\n", "model/m.bin": "weights"})
    cli("commit", "data", ok=True)
    cli(
        "model", "register", "model", "--name", "m", "--trained-on", "data",
        "--metric", "auc=0.9", "--stage", "staging", ok=True,
    )  # fmt: skip
    cli("model", "stage", "m", "production", ok=True)
    listed = json.loads(cli("model", "list", "--json", ok=True).stdout)
    shown = json.loads(cli("model", "show", "m", "--json", ok=True).stdout)
    assert listed == [shown]
    assert listed[0]["trained_on"] == ["data@v1"]
    assert [s["stage"] for s in listed[0]["stages"]] == ["staging", "production"]
    assert listed[0]["stage"] == "production"


def test_ls_shows_the_owner_from_dvlin_toml(work: Path, cli: Cli) -> None:
    write_tree(work, {"events/a.csv": "x\n1\n", "other/b.csv": "y\n2\n"})
    (work / "dvlin.toml").write_text('[assets.events]\nowner = "data-platform@acme.example"\n')
    cli("commit", "events", ok=True)
    cli("commit", "other", ok=True)
    rows = {a["name"]: a["owner"] for a in json.loads(cli("ls", "--json", ok=True).stdout)}
    assert rows == {"events": "data-platform@acme.example", "other": None}
    text = cli("ls", ok=True).stdout
    line = next(line for line in text.splitlines() if line.startswith("events"))
    assert "data-platform@acme.example" in line


def test_openlineage_carries_the_owner_from_dvlin_toml(work: Path, cli: Cli) -> None:
    write_tree(work, {"events/a.csv": "x\n1\n"})
    (work / "dvlin.toml").write_text('[assets.events]\nowner = "data-platform@acme.example"\n')
    cli("commit", "events", ok=True)
    text = cli("lineage", "events", "--format", "openlineage", ok=True).stdout
    assert "data-platform@acme.example" in text


def test_ls_json_of_a_version_streams_to_a_reader_that_stops_early(work: Path, cli: Cli) -> None:
    import os
    import subprocess
    import sys

    write_tree(work, {f"data/d{i % 10}/f{i}.bin": str(i) for i in range(3000)})
    cli("commit", "data", ok=True)
    whole = json.loads(cli("ls", "data@v1", "--json", ok=True).stdout)
    assert len(whole) == 3000 + 10 and whole[0]["path"] == "d0"
    # `dvlin ls data@v1 --json | head -c 100`: the reader closes the pipe after 100 bytes.
    proc = subprocess.Popen(
        [sys.executable, "-m", "dvlin", "ls", "data@v1", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "DVLIN_NO_TTY": "1"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    head = proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert head.startswith(b'[\n  {\n    "path": "d0"')
    assert err == ""
