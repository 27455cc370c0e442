"""benchmarks/scale.py runs end to end and keeps its JSON shape, so the script cannot rot.

These run the script on a tiny tree; they check what it reports, never how fast anything is.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCALE = ROOT / "benchmarks" / "scale.py"
DVLIN_STEPS = ["commit", "status", "commit_change", "restore", "ls", "show", "diff", "fsck", "gc"]


def run_scale(tmp_path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [
            sys.executable,
            str(SCALE),
            "--skip-dvc",
            "--json",
            "--repeat",
            "1",
            "--settle",
            "0",
            "--workdir",
            str(tmp_path / "work"),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=tmp_path,
    )


def test_scale_200_files_end_to_end_json_shape(tmp_path: Path) -> None:
    dvlin = shlex.join([sys.executable, "-m", "dvlin"])
    p = run_scale(tmp_path, "--n", "200", "--verify", "full", "--dvlin", dvlin)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "Traceback" not in p.stderr
    doc: dict[str, Any] = json.loads(p.stdout)

    assert set(doc) == {"meta", "runs", "curve"}
    assert doc["meta"]["n"] == [200] and doc["meta"]["dvc"] == "skipped"
    assert doc["meta"]["file_size"] == 1024 and doc["meta"]["folders"] == 1000
    (run,) = doc["runs"]
    assert run["n"] == 200
    ms = run["measurements"]
    for key in ["floor_find", "floor_cp", "floor_cat", *(f"dvlin_{s}" for s in DVLIN_STEPS)]:
        assert ms[key]["ok"] is True, (key, ms[key]["note"])
        assert ms[key]["wall_s"] > 0 and ms[key]["maxrss_mib"] > 0
    assert not any(k.startswith("dvc_") for k in ms)
    assert "verified: 200 files present, 200 compared byte for byte" in ms["dvlin_restore"]["note"]
    assert "| head -n 5" in ms["dvlin_ls"]["label"]

    rows = run["rows"]
    assert len(rows) == len(DVLIN_STEPS)
    assert {"step", "dvlin", "dvc", "floor", "ratio", "target", "verdict", "reasons"} <= set(
        rows[0]
    )
    assert all(r["verdict"] in {"PASS", "FAIL", "ERR", "n/a"} for r in rows)
    assert all(r["verdict"] != "ERR" for r in rows), rows

    steps = {c["step"]: c for c in doc["curve"]}
    assert set(steps) == {
        "floor_find",
        "floor_cp",
        "floor_cat",
        *(f"dvlin_{s}" for s in DVLIN_STEPS),
    }
    assert set(steps["dvlin_commit"]["us_per_file"]) == {"200"}
    assert steps["dvlin_commit"]["linear"] is None  # one N: nothing to compare


FAKE_DVLIN = """#!/bin/sh
case "$1" in
  fsck) echo "some output"; echo "error: fsck exploded on purpose" >&2; exit 4;;
  gc) exec sleep 60;;
esac
exit 0
"""


def test_a_failing_step_is_reported_and_a_hung_step_is_killed(tmp_path: Path) -> None:
    fake = tmp_path / "fake-dvlin"
    fake.write_text(FAKE_DVLIN)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    p = run_scale(tmp_path, "--n", "50,100", "--dvlin", str(fake), "--timeout", "1", timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    doc = json.loads(p.stdout)
    assert [r["n"] for r in doc["runs"]] == [50, 100]  # the second N ran after the failures
    for run in doc["runs"]:
        ms = run["measurements"]
        assert ms["dvlin_fsck"]["ok"] is False and ms["dvlin_fsck"]["rc"] == 4
        assert "fsck exploded on purpose" in ms["dvlin_fsck"]["note"]
        assert ms["dvlin_gc"]["ok"] is False and "timed out after 1 s" in ms["dvlin_gc"]["note"]
        # the fake checkout exits 0 but restores nothing: a wrong result, not a pass
        assert "WRONG RESULT: restored missing" in ms["dvlin_restore"]["note"]
        verdicts = {r["step"]: r["verdict"] for r in run["rows"]}
        assert verdicts["fsck"] == "ERR" and verdicts["gc (dry run)"] == "ERR"
        assert verdicts["restore deleted tree"] == "FAIL"
    assert "fsck exploded on purpose" in p.stderr  # the tail is printed as the run goes


def test_a_run_waits_until_the_last_delete_has_settled(tmp_path: Path, monkeypatch: Any) -> None:
    """run.py and scale.py start only once ``--settle`` seconds have passed since a benchmark
    last removed a tree, and say how long they wait; without a noted delete they do not wait."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import run as bench
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    monkeypatch.setattr(bench, "SETTLE_STAMP", tmp_path / "stamp")
    said: list[str] = []
    assert bench.settle(60, said.append) is None  # nothing removed yet: no wait
    assert said == []
    slept: list[float] = []
    monkeypatch.setattr(bench.time, "sleep", slept.append)
    bench.rm_tree(tmp_path / "missing")  # nothing removed: nothing noted
    assert not (tmp_path / "stamp").exists()
    (tmp_path / "tree").mkdir()
    bench.rm_tree(tmp_path / "tree")
    assert (tmp_path / "stamp").exists()
    age = bench.settle(60, said.append)
    assert len(slept) == 1 and 59 < slept[0] <= 60
    assert len(said) == 1 and said[0].startswith("waiting 60 s: a benchmark removed a tree")
    assert "--settle 0" in said[0]
    assert age is not None and age < 5  # sleep was stubbed: the stamp is still fresh
    assert bench.settle(0, said.append) is not None and len(slept) == 1  # --settle 0: no wait


def test_cpu_stolen_by_the_hypervisor_is_read_from_proc_stat(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """The steal column of /proc/stat's first line, in seconds; None without one."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import run as bench
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    stat = tmp_path / "stat"
    stat.write_text("cpu  111703 0 120331 590811 20001 0 2023 2716 0 0\ncpu0 1 2 3\n")
    real_open = open

    def fake_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        return real_open(stat if path == "/proc/stat" else path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    ticks = os.sysconf("SC_CLK_TCK")
    assert bench.cpu_steal() == 2716 / ticks
    stat.write_text("cpu  1 2 3 4\n")  # an old kernel: no steal column
    assert bench.cpu_steal() is None
