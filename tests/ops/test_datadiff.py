"""`dvlin diff` and `dvlin stats` in the core: every level, on real files with known changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from dvlin import Repo
from dvlin.errors import NotFoundError, UsageError
from dvlin.ops.datadiff import datadiff
from dvlin.ops.stats import stats

N = 20_000


def _v1(root: Path) -> pa.Table:
    rng = np.random.default_rng(0)
    t = pa.table(
        {
            "event_id": pa.array(np.arange(N), pa.int64()),
            "amount": pa.array(rng.normal(100, 10, N).astype(np.int32)),
            "channel": pa.array(rng.choice(["web", "app", "store"], N)),
        }
    )
    (root / "events").mkdir(exist_ok=True)
    pq.write_table(t, root / "events/e.parquet")
    (root / "events/notes.txt").write_text("v1")
    (root / "events/old.csv").write_text("a\n1\n")
    return t


def _v2(root: Path, v1: pa.Table) -> pa.Table:
    """Rows 0..99 removed, 500 rows added, every 3rd amount +40, country added, amount int64."""
    rng = np.random.default_rng(1)
    keep = v1.slice(100)
    amount = keep.column("amount").to_numpy().astype(np.int64)
    amount[::3] += 40
    extra = 500
    ids = np.concatenate([keep.column("event_id").to_numpy(), np.arange(N, N + extra)])
    amounts = np.concatenate([amount, rng.normal(100, 10, extra).astype(np.int64)])
    channel = keep.column("channel").to_pylist() + ["kiosk"] * extra
    country = [None if i % 20 == 0 else "de" for i in range(len(ids))]
    t = pa.table({"event_id": ids, "amount": amounts, "channel": channel, "country": country})
    pq.write_table(t, root / "events/e.parquet")
    (root / "events/notes.txt").write_text("v2!")
    os.unlink(root / "events/old.csv")
    (root / "events/new.txt").write_text("new")
    return t


@pytest.fixture
def two(repo: Repo) -> tuple[Repo, pa.Table, pa.Table]:
    v1 = _v1(repo.root)
    repo.commit(["events"], name="events")
    v2 = _v2(repo.root, v1)
    repo.commit(["events"], name="events")
    return repo, v1, v2


def test_files_schema_statistics_and_drift(two: tuple[Repo, pa.Table, pa.Table]) -> None:
    repo, v1, v2 = two
    d = datadiff(repo, "events@v1", "events@v2")
    changes = {f.path: (f.change, f.size_a, f.size_b) for f in d.files}
    size = os.path.getsize(repo.root / "events/e.parquet")
    assert changes["new.txt"] == ("added", None, 3)
    assert changes["old.csv"] == ("removed", 4, None)
    assert changes["notes.txt"] == ("modified", 2, 3)
    assert changes["e.parquet"][0] == "modified" and changes["e.parquet"][2] == size
    assert d.counts() == {"added": 1, "removed": 1, "modified": 2}

    s = d.schema
    assert s is not None
    assert s.added == (("country", "string"),)
    assert s.retyped == (("amount", "int32", "int64"),)
    assert s.verdicts["backward"] == [] and s.verdicts["forward"]

    (table,) = [t for t in d.tables if t["path"] == "e.parquet"]
    assert table["rows"] == [v1.num_rows, v2.num_rows]
    assert table["added_columns"] == ["country"]
    cols = {c["name"]: c for c in table["columns"]}
    assert cols["event_id"]["distinct"] == [
        len(pc.unique(v1["event_id"])),
        len(pc.unique(v2["event_id"])),
    ]
    channel = cols["channel"]
    assert channel["new"] == ["kiosk"] and channel["vanished"] == []
    assert channel["categories"] == [3, 4]
    assert cols["amount"]["mean"][1] == pytest.approx(pc.mean(v2["amount"]).as_py())
    assert cols["amount"]["drift"] == "high"


def test_keyed_rows_match_a_pyarrow_computation(two: tuple[Repo, pa.Table, pa.Table]) -> None:
    repo, v1, v2 = two
    d = datadiff(repo, "events@v1", "events@v2", key=["event_id"])
    r = d.rows["e.parquet"]
    a_ids = set(v1["event_id"].to_pylist())
    b_ids = set(v2["event_id"].to_pylist())
    old = dict(zip(v1["event_id"].to_pylist(), v1["amount"].to_pylist(), strict=True))
    new = dict(zip(v2["event_id"].to_pylist(), v2["amount"].to_pylist(), strict=True))
    changed = sum(1 for k in a_ids & b_ids if old[k] != new[k])
    assert (r.added, r.removed, r.changed) == (len(b_ids - a_ids), len(a_ids - b_ids), changed)
    assert r.column_changes == {"amount": changed, "channel": 0}
    assert r.samples["removed"] == [0, 1, 2, 3, 4]
    first = r.samples["changed"][0]
    assert first["changes"]["amount"] == [old[first["key"]], new[first["key"]]]
    parts = datadiff(repo, "events@v1", "events@v2", key=["event_id"], max_rows=8_000).rows
    assert parts["e.parquet"].partitions > 1
    assert parts["e.parquet"].to_dict() | {"partitions": 0} == r.to_dict() | {"partitions": 0}


def test_b_defaults_to_the_workspace(two: tuple[Repo, pa.Table, pa.Table]) -> None:
    repo, _, v2 = two
    assert datadiff(repo, "events@v2").files == ()
    pq.write_table(v2.slice(0, 10), repo.root / "events/e.parquet")
    d = datadiff(repo, "events@v2")
    assert d.b == "workspace"
    assert [f.path for f in d.files] == ["e.parquet"]
    assert d.tables[0]["rows"] == [v2.num_rows, 10]


def test_path_limits_every_level_and_unknowns_are_not_found(
    two: tuple[Repo, pa.Table, pa.Table],
) -> None:
    repo, _, _ = two
    d = datadiff(repo, "events@v1", "events@v2", path="notes.txt")
    assert [f.path for f in d.files] == ["notes.txt"] and d.tables == () and d.schema is None
    only = datadiff(repo, "events@v1", "events@v2", path="e.parquet")
    assert only.schema is not None and only.schema.added == (("country", "string"),)
    with pytest.raises(NotFoundError, match="nothing at 'nope'"):
        datadiff(repo, "events@v1", "events@v2", path="nope")
    with pytest.raises(UsageError, match="needs a table that changed"):
        datadiff(repo, "events@v1", "events@v2", key=["event_id"], path="notes.txt")
    with pytest.raises(UsageError, match="key column 'x' is not in events@v1:e.parquet"):
        datadiff(repo, "events@v1", "events@v2", key=["x"])


def test_profiles_are_stored_on_commit_and_linked_to_the_version(
    two: tuple[Repo, pa.Table, pa.Table],
) -> None:
    repo, _, v2 = two
    version = repo.resolve("events@v2")
    oid = version.info.files["e.parquet"]["profile"]
    stored = json.loads(repo.store.get(oid))
    assert stored["rows"] == v2.num_rows
    linked = {
        r[0]
        for r in repo.catalog.conn.execute(
            "SELECT oid FROM version_objects WHERE version = ?", (version.id,)
        )
    }
    assert oid in linked
    report = stats(repo, "events@v2")
    assert [f.path for f in report.files] == ["e.parquet"]
    out = report.to_dict()["files"][0]
    assert "kll" not in json.dumps(out)
    assert {c["name"] for c in out["columns"]} == {"event_id", "amount", "channel", "country"}


def test_an_older_version_is_profiled_once_on_first_use(
    two: tuple[Repo, pa.Table, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, v1, _ = two
    version = repo.resolve("events@v1")
    info = version.info.to_dict()
    info["files"] = {
        p: {k: v for k, v in m.items() if k != "profile"} for p, m in info["files"].items()
    }
    with repo.catalog.transaction():
        repo.catalog.conn.execute(
            "UPDATE versions SET info = ? WHERE id = ?", (json.dumps(info), version.id)
        )
        repo.catalog.conn.execute("DELETE FROM profiles")
        # As an upgrade adopts a version committed before profiles existed.
        from dvlin.audit.log import append
        from dvlin.audit.records import version_record

        append(
            repo.catalog,
            action="adopt",
            target=version.label,
            details={"kind": "version"},
            record=version_record(repo.catalog, version.id),
        )
    import dvlin.inspect.profile as profile_module

    calls = []
    real = profile_module.profile_file
    monkeypatch.setattr(profile_module, "profile_file", lambda *a: calls.append(a[1]) or real(*a))
    first = stats(repo, "events@v1")
    assert first.files[0].profile["rows"] == v1.num_rows
    assert calls == ["e.parquet", "old.csv"]
    rows = repo.catalog.conn.execute("SELECT oid, format, profile FROM profiles").fetchall()
    assert len(rows) == 2
    linked = {
        r[0]
        for r in repo.catalog.conn.execute(
            "SELECT oid FROM version_objects WHERE version = ?", (version.id,)
        )
    }
    assert {r[2] for r in rows} <= linked
    again = stats(repo, "events@v1", "e.parquet")
    assert calls == ["e.parquet", "old.csv"]
    assert again.files[0].profile == first.files[0].profile
    (entry,) = repo.catalog.conn.execute(
        "SELECT target, details FROM audit WHERE action = 'profile'"
    ).fetchall()
    assert entry[0] == "events@v1"
    assert set(json.loads(entry[1])["profiles"]) == {"e.parquet", "old.csv"}
    from dvlin.audit.log import verify

    assert verify(repo.catalog).ok


def test_stats_of_a_version_without_tables_is_not_found(repo: Repo) -> None:
    (repo.root / "d").mkdir()
    (repo.root / "d/a.txt").write_text("x")
    repo.commit(["d"], name="d")
    with pytest.raises(NotFoundError, match="no table or array file in d@v1"):
        stats(repo, "d")


def test_drift_check_of_an_unprofiled_parent_writes_nothing(
    two: tuple[Repo, pa.Table, pa.Table],
) -> None:
    from dvlin.ops.check import check
    from tests.policy.conftest import write_policy

    repo, _, _ = two
    version = repo.resolve("events@v2")
    info = version.info.to_dict()
    info["files"] = {
        p: {k: v for k, v in m.items() if k != "profile"} for p, m in info["files"].items()
    }
    with repo.catalog.transaction():
        repo.catalog.conn.execute(
            "UPDATE versions SET info = ? WHERE id = ?", (json.dumps(info), version.id)
        )
        repo.catalog.conn.execute("DELETE FROM profiles")
    write_policy(
        repo.root, '[assets.events]\npath = "events"\n[assets.events.drift]\nmax_psi = 0.1\n'
    )
    dump = "\n".join(repo.catalog.conn.iterdump())
    report = check(repo, ["events"])
    assert report.passed
    assert "\n".join(repo.catalog.conn.iterdump()) == dump


def test_an_unchanged_file_reuses_the_parents_profile(repo: Repo) -> None:
    _v1(repo.root)
    repo.commit(["events"], name="events")
    (repo.root / "events/notes.txt").write_text("changed")
    repo.commit(["events"], name="events")
    one, two = repo.resolve("events@v1"), repo.resolve("events@v2")
    assert one.info.files["e.parquet"]["profile"] == two.info.files["e.parquet"]["profile"]
    assert one.info.files["old.csv"]["profile"]


def test_one_table_each_side_under_other_names_is_compared(repo: Repo) -> None:
    (repo.root / "features").mkdir()
    pq.write_table(pa.table({"f": [1.0, 2.0, 3.0]}), repo.root / "features/train.parquet")
    repo.commit(["features"], name="features", tags=["train"])
    os.unlink(repo.root / "features/train.parquet")
    pq.write_table(pa.table({"f": [1.0, 2.0, 9.0, 9.0]}), repo.root / "features/serving.parquet")
    repo.commit(["features"], name="features", tags=["serving"])
    d = datadiff(repo, "features@train", "features@serving")
    (t,) = d.tables
    assert (t["path"], t["path_b"], t["rows"]) == ("train.parquet", "serving.parquet", [3, 4])
    assert t["columns"][0]["mean"] == [2.0, 5.25]


def test_embedding_files_are_compared(repo: Repo) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (1000, 8)).astype(np.float32)
    x[:, 0] += 3
    (repo.root / "emb").mkdir()
    np.save(repo.root / "emb/v.npy", x)
    repo.commit(["emb"], name="emb", kind="embeddings")
    y = x.copy()
    y[:, 1] += 2
    np.save(repo.root / "emb/v.npy", y)
    d = datadiff(repo, "emb")
    e = d.tables[0]["embedding"]
    expected = 1 - np.dot(x.mean(0), y.mean(0)) / (
        np.linalg.norm(x.mean(0)) * np.linalg.norm(y.mean(0))
    )
    assert e["count"] == [1000, 1000] and e["dim"] == [8, 8]
    assert e["centroid_shift"] == pytest.approx(float(expected), abs=1e-5)
    assert e["nn_moved"] == 0.0  # a translation keeps every neighbour
    assert e["drift"] == "high"


def test_gc_keeps_the_profiles_of_kept_versions_and_drops_the_others(repo: Repo) -> None:
    from dvlin.ops import gc
    from dvlin.ops.fsck import fsck

    (repo.root / "t").mkdir()
    for i in range(3):
        pq.write_table(pa.table({"x": [i] * (i + 3)}), repo.root / "t/x.parquet")
        repo.commit(["t"], name="t")
    profiles = {v.number: v.info.files["x.parquet"]["profile"] for v in repo.log("t")}
    assert len(set(profiles.values())) == 3
    (repo.root / "dvlin.toml").write_text("[retention]\nkeep_last = 1\n")
    gc.apply(repo)
    assert repo.store.has(profiles[3])
    assert not repo.store.has(profiles[1]) and not repo.store.has(profiles[2])
    assert fsck(repo).ok
    assert stats(repo, "t").files[0].profile["rows"] == 5


def test_renamed_part_files_are_compared_as_a_whole(repo: Repo) -> None:
    from dvlin.inspect.merge import ALL_TABLES
    from dvlin.ops.check import check
    from tests.policy.conftest import write_policy

    rng = np.random.default_rng(6)
    (repo.root / "parts").mkdir()
    for i in range(2):
        ids = np.arange(i * 5000, (i + 1) * 5000)
        pq.write_table(
            pa.table({"id": ids, "x": rng.normal(0, 1, 5000)}),
            repo.root / f"parts/part-{i}-aaa.parquet",
        )
    repo.commit(["parts"], name="parts")
    for i in range(2):
        os.unlink(repo.root / f"parts/part-{i}-aaa.parquet")
    for i in range(3):
        ids = np.arange(i * 5000 + 2500, (i + 1) * 5000 + 2500)
        pq.write_table(
            pa.table({"id": ids, "x": rng.normal(3, 1, 5000)}),
            repo.root / f"parts/part-{i}-bbb.parquet",
        )
    d = datadiff(repo, "parts", key=["id"])
    rows = d.rows[ALL_TABLES]
    assert (rows.added, rows.removed, rows.changed) == (7500, 2500, 7500)
    assert rows.rows == (10_000, 15_000)
    split = datadiff(repo, "parts", key=["id"], max_rows=6000).rows[ALL_TABLES]
    assert split.partitions > 1 and split.to_dict() | {"partitions": 0} == rows.to_dict() | {
        "partitions": 0
    }
    assert d.counts() == {"added": 3, "removed": 2, "modified": 0}
    (whole,) = d.tables
    assert whole["path"] == ALL_TABLES and whole["rows"] == [10_000, 15_000]
    assert whole["columns"][1]["drift"] == "high"
    write_policy(
        repo.root, '[assets.parts]\npath = "parts"\n[assets.parts.drift]\nmax_psi = 0.25\n'
    )
    (result,) = check(repo, ["parts"]).assets[0].results
    assert not result.passed and result.file == ALL_TABLES and result.column in ("id", "x")
