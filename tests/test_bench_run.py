"""benchmarks/run.py runs end to end and keeps its JSON shape, so the script cannot rot.

A tiny run (dvlin only): it checks what the script reports, never how fast anything is.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"


def run_bench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    dvlin = shlex.join([sys.executable, "-m", "dvlin"])
    return subprocess.run(
        [
            sys.executable,
            str(RUN),
            "--skip-dvc",
            "--json",
            "--settle",
            "0",
            "--repeat",
            "1",
            "--dvlin",
            dvlin,
            "--workdir",
            str(tmp_path / "work"),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )


def finished(p: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON report of a run that exited 0 without a traceback."""
    assert p.returncode == 0, p.stderr[-2000:]
    assert "Traceback" not in p.stderr
    doc: dict[str, Any] = json.loads(p.stdout)
    return doc


def test_a_small_run_reports_every_step_and_the_big_file_as_a_median_of_rounds(
    tmp_path: Path,
) -> None:
    doc = finished(
        run_bench(
            tmp_path,
            *"--files 60 --folders 6 --big-mib 8".split(),
            *"--patch-mib 0.5 --big-rounds 2".split(),
        )
    )
    assert set(doc) == {"meta", "rows", "measurements", "bytes", "notes"}
    ms = doc["measurements"]
    for key in [
        "s1_dvlin",
        "s2_dvlin",
        "s3_dvlin",
        "sw_dvlin",
        "s4_dvlin",
        "s5_dvlin",
        "s6t_dvlin",
        "swb_dvlin",
        "cp_sync_big",
    ]:
        assert ms[key]["ok"] is True, (key, ms[key]["note"])
    # steps 5 and 6c: one figure per round, the median kept, every switch checked
    for key in ["s5_dvlin", "swb_dvlin", "cp_sync_big"]:
        rounds = ms[key]["rounds_s"]
        assert len(rounds) == 2 and all(w > 0 for w in rounds), key
        assert ms[key]["wall_s"] == max(rounds)  # of two, the slower
        assert "median of 2 rounds" in ms[key]["note"]
    assert "verified: same bytes as v1" in ms["swb_dvlin"]["note"]
    assert "WRONG RESULT" not in json.dumps(ms)
    # the second round committed into a repository of its own: the first one's store grew
    # by the file once (the figures of growth are the first round's)
    assert doc["bytes"]["s5_dvlin_new"] >= 8 * 1024 * 1024
    assert (tmp_path / "work" / "big-round2" / "dvlin" / ".dvlin").is_dir()
    rows = {r["step"]: r for r in doc["rows"]}
    assert rows["6b new object bytes after 1 MiB rewrite"]["verdict"] == "PASS"
    assert rows["6c switch the big file back to v1"]["verdict"] == "n/a"  # no DVC to beat


def test_rounds_below_one_are_refused(tmp_path: Path) -> None:
    p = run_bench(tmp_path, "--big-rounds", "0")
    assert p.returncode == 2
    assert "--big-rounds must be 1 or more" in p.stderr
    assert not (tmp_path / "work").exists()


def test_an_unmeasured_step_that_fails_ends_the_rounds_with_a_note(tmp_path: Path) -> None:
    """Going back to v2 between rounds of the switch fails (a ref that does not exist): the
    run says so in one note, keeps the round it measured, and finishes without a traceback."""
    doc = finished(
        run_bench(
            tmp_path,
            *"--files 30 --folders 3 --big-mib 4".split(),
            "--big-rounds",
            "3",
            "--dvlin-arg",
            "unswitch_big=checkout nosuch@v2",
        )
    )
    (note,) = [n for n in doc["notes"] if n.startswith("unmeasured")]
    assert "checkout nosuch@v2" in note and "later rounds skipped" in note
    assert "nosuch" in note.split(": ", 1)[1]  # the tool's own error line
    switch = doc["measurements"]["swb_dvlin"]
    assert switch["ok"] is True and switch["rounds_s"] is None  # the one round measured
    assert "verified: same bytes as v1" in switch["note"]
    assert len(doc["measurements"]["s5_dvlin"]["rounds_s"]) == 3  # step 5 was not affected
