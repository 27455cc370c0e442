"""gc: dry run changes nothing; apply keeps every kept version whole; crashes are finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.audit.log import entries, verify
from dvlin.errors import ConflictError, NotFoundError
from dvlin.objects.ingest import CHUNK_MIN_FILE
from dvlin.ops import gc
from dvlin.ops.fsck import fsck
from dvlin.ops.retention import retention
from tests.conftest import Cli, snapshot, write_tree


def _store_files(repo: Repo) -> set[str]:
    root = repo.dvlin_dir / "objects"
    return {p.name for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"}


@pytest.fixture
def aged(repo: Repo) -> Repo:
    """d@v1..v3, each with a unique file and a shared 8 MiB+ file that changes only a little."""
    rng = os.urandom(CHUNK_MIN_FILE + 100_000)
    for i in range(3):
        big = bytearray(rng)
        big[-10:] = str(i).encode().rjust(10)
        write_tree(
            repo.root,
            {"d/unique.bin": os.urandom(200_000), "d/big.bin": bytes(big), "d/n.txt": str(i)},
        )
        repo.commit(["d"], name="d")
    (repo.root / "dvlin.toml").write_text("[retention]\nkeep_last = 1\n")
    return repo


def test_dry_run_deletes_and_expires_nothing(aged: Repo, cli: Cli) -> None:
    before = _store_files(aged)
    plan = gc.plan(aged)
    assert [v.label for v in plan.versions] == ["d@v1", "d@v2"] and plan.objects
    assert _store_files(aged) == before
    assert "would delete" in cli("gc", ok=True).stdout
    assert _store_files(aged) == before
    assert fsck(aged).ok


def test_apply_keeps_kept_versions_whole_and_shared_chunks(aged: Repo, cli: Cli) -> None:
    latest = aged.resolve("d")
    expected = snapshot(aged.root / "d")
    needed = set(
        aged.catalog.conn.execute(
            "SELECT oid FROM version_objects WHERE version = ?", (latest.id,)
        ).fetchall()
    )
    result = gc.apply(aged)
    assert result.applied and result.deleted == len(result.objects) > 0
    left = _store_files(aged)
    for (oid,) in needed:  # every object of the kept version is still there, loose or packed
        assert aged.store.has(oid)
    for oid in result.objects:  # and every doomed one is gone
        assert oid[2:] not in left
    out = aged.root.parent / "out"
    aged.checkout("d", to=out)
    assert snapshot(out) == expected
    with pytest.raises(NotFoundError, match="expired"):
        aged.checkout("d@v1", to=aged.root.parent / "old")
    assert [v.number for v in aged.log("d")] == [3, 2, 1]  # metadata stays
    assert aged.show("d@v1").expired_at is not None and aged.show("d@v3").expired_at is None
    assert "expired" in cli("show", "d@v1", ok=True).stdout
    assert "d@v1 (expired)" in cli("log", ok=True).stdout
    actions = [e.action for e in entries(aged.catalog)]
    assert actions.count("expire") == 2 and actions.count("gc-delete") == len(result.objects)
    assert actions[-1] == "gc" and verify(aged.catalog).ok
    report = fsck(aged)
    assert report.ok, report.problems
    import re

    assert re.search(r"^expired\s+d@v1 ", cli("retention", ok=True).stdout, re.M)
    assert gc.plan(aged).objects == ()  # nothing left to do


def test_a_commit_between_plan_and_apply_keeps_what_it_shares(aged: Repo) -> None:
    plan = gc.plan(aged)
    doomed_unique = aged.catalog.conn.execute(
        "SELECT oid FROM objects WHERE size = 200000 AND pack IS NULL"
    ).fetchall()
    assert doomed_unique
    # Someone restores v1's unique file and commits it: that object is needed again.
    aged.checkout("d@v1", to=aged.root.parent / "v1")
    (aged.root / "d/unique.bin").write_bytes((aged.root.parent / "v1/unique.bin").read_bytes())
    aged.commit(["d"], name="d")
    from dvlin.objects.hashing import hash_bytes

    revived = hash_bytes(aged.config.hash, (aged.root.parent / "v1/unique.bin").read_bytes())
    assert revived in plan.objects
    result = gc.apply(aged, plan.id)
    assert revived not in result.objects
    out = aged.root.parent / "latest"
    aged.checkout("d", to=out)
    assert (out / "unique.bin").read_bytes() == (aged.root.parent / "v1/unique.bin").read_bytes()
    assert fsck(aged).ok


def test_unknown_plan(aged: Repo) -> None:
    with pytest.raises(NotFoundError):
        gc.apply(aged, "nope")


def test_grace_keeps_young_objects(aged: Repo) -> None:
    (aged.root / "dvlin.toml").write_text('[retention]\nkeep_last = 1\ngrace = "1d"\n')
    plan = gc.plan(aged)
    assert plan.objects == () and plan.young > 0
    assert gc.plan(aged, now=time.time() + 2 * 86400).objects


@pytest.mark.slow
def test_killed_during_apply_is_reported_then_finished(aged: Repo, tmp_path: Path) -> None:
    marker = tmp_path / "paused"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dvlin", "gc", "--apply"],
        cwd=aged.root,
        env={**os.environ, "DVLIN_TEST_PAUSE_IN_GC": str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    report = fsck(aged)
    assert not report.ok and [p.kind for p in report.problems] == ["gc"]
    # The kept version is whole even now.
    out = aged.root.parent / "mid"
    aged.checkout("d", to=out)
    result = gc.apply(aged)
    assert result.deleted > 0
    assert fsck(aged).ok


def test_expired_versions_stay_in_lineage(repo: Repo, cli: Cli) -> None:
    from dvlin.ops.model import register

    for i in range(2):
        write_tree(repo.root, {"raw/a.txt": str(i)})
        repo.commit(["raw"], name="raw")
    write_tree(repo.root, {"models/m.pt": "w"})
    register(repo, ["models/m.pt"], name="m", trained_on=["raw@v1"])
    (repo.root / "models/m.pt").write_text("w2")
    register(repo, ["models/m.pt"], name="m", trained_on=["raw@v2"])
    (repo.root / "dvlin.toml").write_text("[retention]\nkeep_last = 1\n")
    gc.apply(repo)  # m@v1 expires, and with it raw@v1 (no kept model protects it)
    tree = cli("lineage", "m@v1", "--upstream", ok=True).stdout
    assert "m@v1" in tree and "raw@v1" in tree and "expired" in tree
    doc = json.loads(cli("lineage", "raw@v1", "--downstream", "--format", "json", ok=True).stdout)
    raw = next(n for n in doc["nodes"] if n["data"].get("label") == "raw@v1")
    assert raw["data"]["expired_at"] is not None


def test_status_and_checkout_after_the_synced_version_expired(aged: Repo) -> None:
    aged.checkout("d@v1", force=True)  # the folder now holds v1 …
    (aged.root / "dvlin.toml").write_text("[retention]\nkeep_last = 1\n")
    (aged.root / "dvlin.lock").unlink()  # (a lock naming v1 would keep it)
    gc.apply(aged)  # … which gc expires
    report = aged.status()
    assert report.assets[0].version.label == "d@v3"  # compared with the latest instead
    assert not report.clean
    with pytest.raises(ConflictError):
        aged.checkout("d")  # unknown provenance: changes are protected
    aged.checkout("d", force=True)
    assert aged.status().clean


def test_a_version_dvlin_lock_pins_is_kept(aged: Repo) -> None:
    aged.checkout("d@v1", force=True)  # the folder holds v1, and dvlin.lock now names it
    assert 'version = "v1"' in (aged.root / "dvlin.lock").read_text()
    (aged.root / "dvlin.toml").write_text("[retention]\nkeep_last = 1\n")
    assert [v.label for v in gc.plan(aged).versions] == ["d@v2"]
    why = {r.version.label: r.decision.reasons for r in retention(aged).rows}
    assert "pinned by dvlin.lock" in why["d@v1"]
    gc.apply(aged)
    assert aged.resolve("d@v1").label == "d@v1"  # not expired: `checkout --lock` still works
