"""gc keeps staged models and their data, sweeps orphans after the grace, words its dry run."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.audit.log import entries
from dvlin.ops import gc
from dvlin.ops.fsck import fsck
from dvlin.ops.model import register, set_stage
from dvlin.ops.retention import retention
from tests.conftest import Cli, snapshot, write_tree


def _store_oids(repo: Repo) -> set[str]:
    return set(repo.store.iter_oids())


def test_a_production_model_survives_gc_with_its_data_at_any_depth(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"raw/r.txt": "raw 1"})
    repo.commit(["raw"], name="raw")
    cli(
        "run",
        "-i",
        "raw",
        "-o",
        "feat",
        "--shell",
        "--",
        "mkdir -p feat && cp raw/r.txt feat/",
        ok=True,
    )
    write_tree(repo.root, {"models/m.pt": "weights 1"})
    register(repo, ["models/m.pt"], name="m", trained_on=["feat@v1"], stage="production")
    for i in range(2, 4):
        write_tree(repo.root, {"raw/r.txt": f"raw {i}", "feat/r.txt": f"raw {i}"})
        repo.commit(["raw"], name="raw")
        repo.commit(["feat"], name="feat")
        write_tree(repo.root, {"models/m.pt": f"weights {i}"})
        register(repo, ["models/m.pt"], name="m", trained_on=[f"feat@v{i}"])
    (repo.root / "dvlin.toml").write_text("[retention]\nkeep_last = 1\n")
    rows = {r.version.label: r.decision for r in retention(repo).rows}
    assert rows["m@v1"].kept and "stage production" in rows["m@v1"].reasons
    assert rows["feat@v1"].kept and rows["raw@v1"].kept
    assert "upstream of a kept model" in rows["raw@v1"].reasons
    assert not rows["m@v2"].kept and not rows["raw@v2"].kept
    assert "stage production" in cli("retention", "m", ok=True).stdout
    result = gc.apply(repo)
    assert sorted(v.label for v in result.versions) == ["feat@v2", "m@v2", "raw@v2"]
    out = repo.root.parent / "m1"
    repo.checkout("m@v1", to=out)
    assert (out / "m.pt").read_text() == "weights 1"
    repo.checkout("raw@v1", to=repo.root.parent / "raw1")
    assert fsck(repo).ok
    # Archived, it is ordinary again.
    set_stage(repo, "m@v1", "archived")
    assert not {r.version.label: r.decision for r in retention(repo).rows}["m@v1"].kept


def _interrupted_commit(repo: Repo, monkeypatch: pytest.MonkeyPatch, content: str) -> None:
    import dvlin.ops.commit as commit_module

    def boom(_: str) -> None:
        raise KeyboardInterrupt

    write_tree(repo.root, {"d/big.bin": content * 50_000, "d/small.txt": content})
    with monkeypatch.context() as m, pytest.raises(KeyboardInterrupt):
        m.setattr(commit_module, "pause_point", boom)
        repo.commit(["d"], name="d")


def test_gc_sweeps_what_interrupted_commits_left(
    repo: Repo, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(repo.root, {"d/big.bin": "0" * 200_000, "d/small.txt": "kept"})
    repo.commit(["d"], name="d")
    expected = snapshot(repo.root / "d")
    kept = _store_oids(repo)
    _interrupted_commit(repo, monkeypatch, "a")
    _interrupted_commit(repo, monkeypatch, "b")
    orphans = _store_oids(repo) - kept
    assert orphans and repo.catalog.asset_names() == ["d"]
    (repo.root / "dvlin.toml").write_text('[retention]\ngrace = "1h"\n')
    young = gc.plan(repo)
    assert young.objects == () and young.young == len(orphans)
    later = time.time() + 7200
    plan = gc.plan(repo, now=later)
    assert {oid for oid, _ in plan.orphans} == orphans == set(plan.objects)
    assert all(size > 0 for _, size in plan.orphans)
    assert plan.bytes == sum(size for _, size in plan.orphans)
    assert _store_oids(repo) == kept | orphans  # the dry run deletes nothing
    (repo.root / "dvlin.toml").write_text("")
    dry = cli("gc", ok=True).stdout
    assert f"{len(orphans)} orphaned" in dry and "orphan " in dry
    result = gc.apply(repo, now=later)
    assert result.deleted == len(orphans)
    assert _store_oids(repo) == kept
    audited = [e for e in entries(repo.catalog) if e.action == "gc-delete"]
    assert {e.target for e in audited} == orphans
    assert all(e.details.get("orphan") for e in audited)
    out = repo.root.parent / "out"
    repo.checkout("d", to=out)
    assert snapshot(out) == expected
    assert fsck(repo).ok


def test_dry_run_says_would_expire(repo: Repo, cli: Cli) -> None:
    for i in range(4):
        write_tree(repo.root, {"d/a.txt": str(i)})
        repo.commit(["d"], name="d")
    (repo.root / "dvlin.toml").write_text("[retention]\nkeep_last = 1\n")
    dry = cli("gc", ok=True).stdout
    assert "3 versions would expire" in dry and "expired" not in dry
    applied = cli("gc", "--apply", ok=True).stdout
    assert "3 versions expired" in applied


def test_gc_never_sweeps_a_storage_another_repo_shares(tmp_path: Path, cli: Cli) -> None:
    shared = tmp_path / "bucket"
    a = Repo.init(tmp_path / "a", storage=f"file://{shared}")
    b = Repo.init(tmp_path / "b", storage=f"file://{shared}")
    write_tree(a.root, {"d/x.txt": "only a has this"})
    write_tree(b.root, {"d/y.txt": "only b has this"})
    a.commit([a.root / "d"], name="d")
    b.commit([b.root / "d"], name="d")
    before = {p.name for p in shared.rglob("*") if p.is_file()}
    plan = gc.plan(a, now=time.time() + 10 * 86400)
    assert plan.orphans == () and plan.objects == () and plan.orphans_skipped
    gc.apply(a, now=time.time() + 10 * 86400)
    assert {p.name for p in shared.rglob("*") if p.is_file()} == before
    shutil.rmtree(b.root / "d")
    b.checkout("d")  # b's bytes are all still there
    assert (b.root / "d" / "y.txt").read_text() == "only b has this"


def test_gc_dry_run_flag_is_the_default_said_aloud(repo: Repo, cli: Cli) -> None:
    import json

    write_tree(repo.root, {"d/a.txt": "a"})
    repo.commit([repo.root / "d"], name="d")
    before = _store_oids(repo)
    plain = json.loads(cli("gc", "--json", ok=True).stdout)
    said = json.loads(cli("gc", "--dry-run", "--json", ok=True).stdout)
    assert said["applied"] is False and said == plain
    assert _store_oids(repo) == before
