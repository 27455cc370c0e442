"""``dvlin run -i REF`` records only inputs the workspace really holds; repro says what it made."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from dvlin.errors import ExitCode
from tests.conftest import FEATURES, Cli, Pipeline, write_tree


def _runs(work: Path) -> int:
    conn = sqlite3.connect(work / ".dvlin/catalog.db")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    finally:
        conn.close()


def _two_versions(work: Path, cli: Cli) -> None:
    write_tree(work, {"data/raw/e.csv": "a\n1\n", "make.py": FEATURES})
    cli("commit", "data/raw", "--name", "raw", ok=True)
    write_tree(work, {"data/raw/e.csv": "a\n2\n"})
    cli("commit", "data/raw", "--name", "raw", ok=True)


def _build(cli: Cli, ref: str, *flags: str):  # type: ignore[no-untyped-def]
    return cli(
        "run", "--name", "build", "-i", ref, "-o", "out:feat", *flags, "--",
        sys.executable, "make.py", "data/raw/e.csv", "out",
    )  # fmt: skip


def test_an_input_ref_the_workspace_does_not_hold_is_refused(work: Path, cli: Cli) -> None:
    _two_versions(work, cli)
    cli("checkout", "raw@v1", ok=True)
    r = _build(cli, "raw@v2")
    assert r.exit_code == ExitCode.CONFLICT, r.output
    assert "input raw@v2 is not in the workspace: data/raw holds raw@v1" in r.stderr
    assert "--checkout-inputs" in r.stderr
    r = _build(cli, "raw")  # the name means its newest version, and that is not there either
    assert r.exit_code == ExitCode.CONFLICT
    assert _runs(work) == 0 and not (work / "out").exists()
    r = _build(cli, "raw@v1")  # what the workspace holds is fine
    assert r.exit_code == 0, r.output
    assert (work / "out/features.csv").read_text() == "a\n1\n" * 2


def test_checkout_inputs_makes_the_record_true(work: Path, cli: Cli) -> None:
    _two_versions(work, cli)
    cli("checkout", "raw@v1", ok=True)
    r = _build(cli, "raw@v2", "--checkout-inputs", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["inputs"][0]["label"] == "raw@v2"
    assert (work / "out/features.csv").read_text() == "a\n2\n" * 2  # computed from v2


def test_uncommitted_changes_in_an_input_are_a_mismatch(work: Path, cli: Cli) -> None:
    _two_versions(work, cli)
    write_tree(work, {"data/raw/e.csv": "a\n999\n"})
    r = _build(cli, "raw@v2")
    assert r.exit_code == ExitCode.CONFLICT
    assert "input raw@v2: data/raw has uncommitted changes" in r.stderr
    r = _build(cli, "raw@v2", "--checkout-inputs")  # would lose the edit: refused too
    assert r.exit_code == ExitCode.CONFLICT
    assert (work / "data/raw/e.csv").read_text() == "a\n999\n"
    assert _runs(work) == 0


def test_repro_prints_the_versions_it_made(pipeline: Pipeline, cli: Cli) -> None:
    raw = pipeline.root / "data/raw/events.csv"
    raw.write_text(raw.read_text() + "3,30\n")
    cli("commit", "data/raw", "--name", "raw", ok=True)
    dry = cli("repro", "features", "--dry-run", ok=True).stdout
    assert "would re-run build-features" in dry and "replaces features@v1" in dry
    done = cli("repro", "features", ok=True).stdout
    assert "features@v2" in done and "features@v1" not in done
    assert "features is now features@v2" in done
    assert json.loads(cli("repro", "features", "--json", ok=True).stdout)["rebuilt"] is None


def test_repro_stops_on_an_edited_input(pipeline: Pipeline, cli: Cli) -> None:
    raw = pipeline.root / "data/raw/events.csv"
    raw.write_text(raw.read_text() + "3,30\n")
    cli("commit", "data/raw", "--name", "raw", ok=True)
    raw.write_text(raw.read_text() + "4,40\n")  # not committed
    r = cli("repro", "features")
    assert r.exit_code == ExitCode.CONFLICT and "uncommitted changes" in r.stderr
    assert json.loads(cli("show", "features", "--json").stdout)["number"] == 1
