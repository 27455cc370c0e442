"""Push, clone, fetch and pull over memory://, file:// and s3:// (moto) — one suite for all."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.errors import ConflictError
from dvlin.remote.errors import HeadMovedError
from tests.conftest import Cli, build_pipeline, snapshot, write_tree
from tests.remote.conftest import RemoteSpec, remote_fs


def _init(path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, *args: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(path)
    cli("init", *args, ok=True)
    return path


def _rows(root: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(root / ".dvlin" / "catalog.db")
    try:
        return sorted(conn.execute(sql).fetchall(), key=repr)
    finally:
        conn.close()


_SHARED = {
    "versions": "SELECT id, asset, number, parent, tree, manifest, author, created_at, message, "
    "meta, files, bytes, base, roots, info FROM versions",
    "tags": "SELECT asset, name, version, created_at, author, retain FROM tags",
    "runs": "SELECT * FROM runs",
    "edges": "SELECT * FROM edges",
    "stages": "SELECT version, stage, author, created_at FROM model_stages",
    "holds": "SELECT * FROM holds",
    "assets": "SELECT name, kind, base, roots FROM assets",
}


def _files_of(remote: RemoteSpec, folder: str) -> list[str]:
    fs, root = remote_fs(remote)
    try:
        return sorted(p for p in fs.find(f"{root}/{folder}"))
    except FileNotFoundError:
        return []


def test_push_then_clone_gives_the_same_versions_lineage_and_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = _init(tmp_path / "a", cli, monkeypatch)
    build_pipeline(a, cli)
    write_tree(
        a,
        {
            "data/raw/events.csv": "id,amount\n1,10\n2,20\n3,30\n",
            "data/raw/loose.bin": os.urandom(300_000),  # a loose object, not in a pack
            "data/raw/big.bin": os.urandom(9 << 20),  # content-defined chunks
            "data/raw/run.sh": ("exec", b"#!/bin/sh\necho hi\n"),
            "data/raw/link": ("link", "events.csv"),
        },
    )
    cli("commit", "data/raw", "--name", "raw", "-m", "second", ok=True)
    cli("tag", "raw@v1", "first", ok=True)
    cli("hold", "raw@v1", "--reason", "legal", ok=True)
    cli("model", "stage", "model@v1", "production", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    pushed = json.loads(cli("push", "--json", ok=True).stdout)
    assert pushed["up_to_date"] is False
    assert "raw@v2" in pushed["versions"]

    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, ok=True)
    for name, sql in _SHARED.items():
        assert _rows(a, sql) == _rows(b, sql), name
    assert snapshot(b / "data/raw") == snapshot(a / "data/raw")
    monkeypatch.chdir(b)
    assert cli("audit", "verify").exit_code == 0
    monkeypatch.chdir(a)
    assert cli("audit", "verify").exit_code == 0
    # Every version checks out byte-identically from B's store (fetched on demand).
    monkeypatch.chdir(b)
    for (label,) in _rows(b, "SELECT asset || '@v' || number FROM versions"):
        monkeypatch.chdir(a)
        cli("checkout", str(label), "--to", str(tmp_path / "out-a" / str(label)), ok=True)
        monkeypatch.chdir(b)
        cli("checkout", str(label), "--to", str(tmp_path / "out-b" / str(label)), ok=True)
        assert snapshot(tmp_path / "out-a" / str(label)) == snapshot(
            tmp_path / "out-b" / str(label)
        )
    # B's lineage answers the same questions.
    assert cli("lineage", "model", "--json").stdout.replace(str(b), "") == (
        monkeypatch.chdir(a) or cli("lineage", "model", "--json")
    ).stdout.replace(str(a), "")


def test_no_op_push_and_one_file_push_make_few_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {f"data/ev/f{i:04}.txt": f"row {i}\n" for i in range(500)})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, "--default", ok=True)
    first = json.loads(cli("push", "--json", ok=True).stdout)
    assert first["requests"] <= 10
    again = json.loads(cli("push", "--json", ok=True).stdout)
    assert again["up_to_date"] is True
    assert again["requests"] <= 2
    write_tree(a, {"data/ev/new.txt": "one more\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    one = json.loads(cli("push", "--json", ok=True).stdout)
    assert one["versions"] == ["ev@v2"]
    assert one["requests"] <= 6
    assert one["files"] == 1  # the new file's pack and the manifest travel in one pack


def test_pull_fast_forwards_and_refuses_diverged_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {"data/ev/a.txt": "1\n", "data/other/x.txt": "x\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("commit", "data/other", "--name", "other", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    cli("push", ok=True)
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, ok=True)

    monkeypatch.chdir(a)
    write_tree(a, {"data/ev/b.txt": "2\n", "data/other/y.txt": "y\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("commit", "data/other", "--name", "other", ok=True)
    cli("push", ok=True)

    monkeypatch.chdir(b)
    write_tree(b, {"data/other/z.txt": "mine\n"})
    cli("commit", "data/other", "--name", "other", "-m", "b's own v2", ok=True)
    before_other = _rows(b, "SELECT id FROM versions WHERE asset = 'other'")
    ran = cli("pull")
    assert ran.exit_code == 5
    assert "other" in ran.stderr and "diverged" in ran.stderr
    assert (b / "data/ev/b.txt").read_text() == "2\n"  # ev fast-forwarded, workspace too
    assert _rows(b, "SELECT id FROM versions WHERE asset = 'other'") == before_other
    assert not (b / "data/other/y.txt").exists()
    # B's push of the diverged asset is refused, naming it.
    ran = cli("push")
    assert ran.exit_code == 5
    assert "other" in ran.stderr and "pull" in ran.stderr


def test_concurrent_pushes_all_land_and_a_head_race_has_one_loser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    from dvlin.ops.push import push

    roots = []
    for i in range(4):
        root = _init(tmp_path / f"c{i}", cli, monkeypatch)
        write_tree(root, {f"data/a{i}/f.txt": f"asset {i}\n"})
        cli("commit", f"data/a{i}", "--name", f"a{i}", ok=True)
        cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
        roots.append(root)
    errors: list[BaseException] = []

    def run(root: Path) -> None:
        try:
            with Repo.open(root) as r:
                push(r)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(r,)) for r in roots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, ok=True)
    assert _rows(b, "SELECT asset, number FROM versions") == [(f"a{i}", 1) for i in range(4)]

    # Two clones commit a different v2 of the same asset and push at once: one wins.
    racers = []
    for name in ("r1", "r2"):
        root = tmp_path / name
        cli("clone", remote.url, str(root), *remote.flags, ok=True)
        write_tree(root, {"data/a0/g.txt": name})
        monkeypatch.chdir(root)
        cli("commit", "data/a0", "--name", "a0", ok=True)
        racers.append(root)
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def race(root: Path) -> None:
        with Repo.open(root) as r:
            barrier.wait()
            try:
                outcomes.append(push(r).versions)
            except ConflictError as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=race, args=(r,)) for r in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    losers = [o for o in outcomes if isinstance(o, HeadMovedError)]
    assert len(losers) == 1 and losers[0].assets == ("a0",)
    assert [o for o in outcomes if not isinstance(o, BaseException)] == [("a0@v2",)]


def test_corrupt_object_on_the_remote_is_never_written_to_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {f"data/ev/f{i}.txt": f"row {i}\n" for i in range(20)})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    cli("push", ok=True)
    fs, _ = remote_fs(remote)
    for path in _files_of(remote, "packs"):
        data = bytearray(fs.cat_file(path))
        data[len(data) // 2] ^= 0xFF
        fs.pipe_file(path, bytes(data))

    b = tmp_path / "b"
    ran = cli("clone", remote.url, str(b), *remote.flags)
    assert ran.exit_code == 4
    assert "corrupt" in ran.stderr
    assert not b.exists()

    cli("clone", remote.url, str(b), *remote.flags, "--no-checkout", ok=True)
    monkeypatch.chdir(b)
    ran = cli("checkout", "ev")
    assert ran.exit_code == 4
    assert "corrupt" in ran.stderr
    assert not (b / "data").exists()


def test_corrupt_record_segment_and_refs_are_integrity_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {"data/ev/f.txt": "x\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    cli("push", ok=True)
    fs, root = remote_fs(remote)
    (segment,) = _files_of(remote, "segments")
    good = fs.cat_file(segment)
    fs.pipe_file(segment, good[:-3] + b"xyz")
    ran = cli("clone", remote.url, str(tmp_path / "b"), *remote.flags)
    assert (ran.exit_code, "record segment" in ran.stderr) == (4, True)
    assert not (tmp_path / "b").exists()
    fs.pipe_file(segment, good)

    refs = fs.cat_file(f"{root}/refs.json")
    fs.pipe_file(f"{root}/refs.json", refs.replace(b'"number":1', b'"number":7'))
    ran = cli("clone", remote.url, str(tmp_path / "b"), *remote.flags)
    assert (ran.exit_code, "refs.json is corrupt" in ran.stderr) == (4, True)
    assert not (tmp_path / "b").exists()


def test_remote_of_another_hash_algorithm_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {"data/ev/f.txt": "x\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    cli("push", ok=True)
    c = _init(tmp_path / "c", cli, monkeypatch, "--hash", "sha256")
    write_tree(c, {"data/x/f.txt": "y\n"})
    cli("commit", "data/x", "--name", "x", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    before = _rows(c, "SELECT * FROM remote_segments")
    ran = cli("push")
    assert ran.exit_code == 2
    assert "sha256" in ran.stderr and "hint:" in ran.stderr
    ran = cli("fetch")
    assert ran.exit_code == 2
    assert _rows(c, "SELECT * FROM remote_segments") == before


@pytest.mark.parametrize("recorded", ["by the first push", "not (an older dvlin's remote)"])
def test_a_clone_cuts_big_files_with_the_remote_s_chunker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, recorded: str
) -> None:
    # A's repo predates FastCDC 2020 (it cuts with fastcdc-2016): a clone made today must cut
    # alike, or its next version of a big file would share no chunk with the team's.
    import random

    from dvlin.remote.refs import _checksum

    url = (tmp_path / "remote").as_uri()
    a = _init(tmp_path / "a", cli, monkeypatch)
    cli("config", "set", "core.chunker", "fastcdc-2016", ok=True)
    data = bytearray(random.Random(5).randbytes(24 << 20))
    (a / "big.bin").write_bytes(data)
    cli("commit", "big.bin", "--name", "big", ok=True)
    cli("remote", "add", "origin", url, ok=True)
    cli("push", ok=True)
    refs_path = tmp_path / "remote" / "refs.json"
    body = json.loads(refs_path.read_bytes())
    assert body["chunker"] == "fastcdc-2016"
    if recorded != "by the first push":
        del body["chunker"], body["checksum"]
        refs_path.write_text(json.dumps({**body, "checksum": _checksum(body)}))
    cli("clone", url, str(tmp_path / "b"), ok=True)
    monkeypatch.chdir(tmp_path / "b")
    assert cli("config", "get", "core.chunker", ok=True).stdout == "fastcdc-2016\n"
    data[12 << 20 : (12 << 20) + 4096] = bytes(4096)
    (tmp_path / "b" / "big.bin").write_bytes(data)
    made = json.loads(cli("commit", "big.bin", "--name", "big", "--json", ok=True).stdout)
    assert 0 < made["new_bytes"] < 10 << 20  # the unchanged chunks are A's
    cli("push", ok=True)  # where the remote recorded none, B's push records B's
    assert json.loads(refs_path.read_bytes())["chunker"] == "fastcdc-2016"


def test_killed_push_leaves_nothing_visible_and_the_rerun_resends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    if remote.kind == "memory":
        pytest.skip("a memory remote does not outlive the killed process")
    import signal
    import subprocess
    import sys
    import time

    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {f"data/ev/f{i}.txt": f"row {i}\n" for i in range(50)})
    write_tree(a, {"data/ev/big.bin": os.urandom(300_000)})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    marker = tmp_path / "paused"
    env = {**os.environ, "DVLIN_TEST_PAUSE_BEFORE_REFS": str(marker)}
    proc = subprocess.Popen([sys.executable, "-m", "dvlin", "push"], cwd=a, env=env)
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Objects and a segment are up, refs are not: the remote shows nothing yet.
    ran = cli("clone", remote.url, str(tmp_path / "early"), *remote.flags)
    assert ran.exit_code == 3 and "no dvlin remote" in ran.stderr
    rerun = json.loads(cli("push", "--json", ok=True).stdout)
    assert rerun["objects"] == 0 and rerun["resumed"] > 0
    cli("clone", remote.url, str(tmp_path / "b"), *remote.flags, ok=True)
    assert snapshot(tmp_path / "b/data/ev") == snapshot(a / "data/ev")


def test_push_killed_at_random_points_then_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    if remote.kind == "memory":
        pytest.skip("a memory remote does not outlive the killed process")
    import random
    import signal
    import subprocess
    import sys
    import time

    a = _init(tmp_path / "a", cli, monkeypatch)
    for n in range(3):
        write_tree(a, {f"data/ev/f{n}-{i}.bin": os.urandom(200_000) for i in range(8)})
        cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    rng = random.Random(7)
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-m", "dvlin", "push", "-q"], cwd=a, env=dict(os.environ)
        )
        time.sleep(rng.uniform(0.2, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Whatever the remote shows is complete: a clone of it checks out.
        probe = tmp_path / f"probe-{rng.random()}"
        ran = cli("clone", remote.url, str(probe), *remote.flags)
        assert ran.exit_code in (0, 3), ran.output
    cli("push", ok=True)
    cli("clone", remote.url, str(tmp_path / "b"), *remote.flags, ok=True)
    assert _rows(tmp_path / "b", _SHARED["versions"]) == _rows(a, _SHARED["versions"])
    assert snapshot(tmp_path / "b/data/ev") == snapshot(a / "data/ev")


def test_fetch_all_gets_every_object_and_leaves_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = _init(tmp_path / "a", cli, monkeypatch)
    for n in range(2):
        write_tree(a, {f"data/ev/f{n}.txt": f"{n}\n"})
        cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    cli("push", ok=True)
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, "--no-checkout", ok=True)
    assert not (b / "data").exists()
    monkeypatch.chdir(b)
    got = json.loads(cli("fetch", "--all", "--json", ok=True).stdout)
    assert got["objects"] > 0
    assert not (b / "data").exists()
    # Everything is local now: a checkout works without the remote.
    cli("remote", "remove", "origin", ok=True)
    cli("checkout", "ev@v1", ok=True)
    assert (b / "data/ev/f0.txt").read_text() == "0\n"


@pytest.mark.parametrize("remote", ["memory"], indirect=True)
def test_a_clone_without_objects_is_healthy_for_fsck_and_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {"data/ev/f.txt": "x\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, ok=True)
    cli("push", ok=True)
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), "--no-checkout", ok=True)
    monkeypatch.chdir(b)
    assert cli("fsck").exit_code == 0
    # Nothing is on disk yet: status says so instead of listing every file as removed.
    status = cli("status", "--exit-code", ok=True)
    assert "ev: not checked out (ev@v1 is the latest; dvlin checkout ev)" in status.stdout
    doc = json.loads(cli("status", "--json", ok=True).stdout)
    assert doc["clean"] and doc["assets"][0]["state"] == "not-checked-out"
    assert doc["assets"][0]["removed"] == []
    assert json.loads(cli("ls", "ev", "--json", ok=True).stdout)  # manifest fetched on demand
    # Without the remote, the same objects are missing: fsck says so.
    cli("remote", "remove", "origin", ok=True)
    assert cli("fsck").exit_code != 0
    cli("remote", "add", "origin", remote.url, ok=True)
    cli("fetch", ok=True)  # what the re-added remote holds
    cli("checkout", "ev", ok=True)
    assert json.loads(cli("status", "--json", ok=True).stdout)["assets"][0]["state"] == "clean"


@pytest.mark.parametrize("remote", ["file"], indirect=True)
def test_transient_failures_are_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    import dvlin.remote.cas as cas
    import dvlin.remote.transport as transport

    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {"data/ev/f.txt": "x\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, ok=True)
    original = cas.put_new_local
    failures = {"left": 2}

    def flaky(root: str, path: str, data: bytes) -> bool:
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionResetError(104, "Connection reset by peer")
        return original(root, path, data)

    monkeypatch.setattr(cas, "put_new_local", flaky)
    monkeypatch.setattr(transport.time, "sleep", lambda s: None)
    pushed = json.loads(cli("push", "--json", ok=True).stdout)
    assert failures["left"] == 0 and pushed["versions"] == ["ev@v1"]


@pytest.mark.parametrize("remote", ["memory"], indirect=True)
def test_ci_clone_into_a_checked_out_folder_then_checkout_a_tag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {"data/features/f.csv": "id\n1\n", "data/other/o.txt": "o\n"})
    cli("commit", "data/features", "--name", "features", "--tag", "release", ok=True)
    cli("commit", "data/other", "--name", "other", ok=True)
    write_tree(a, {"data/features/f.csv": "id\n1\n2\n"})
    cli("commit", "data/features", "--name", "features", ok=True)
    cli("remote", "add", "origin", remote.url, ok=True)
    cli("push", ok=True)
    runner = tmp_path / "ci"
    write_tree(runner, {"README.md": "the git checkout of the project\n"})
    monkeypatch.chdir(runner)
    cli("clone", remote.url, ".", "--no-checkout", ok=True)
    assert sorted(p.name for p in runner.iterdir()) == [".dvlin", "README.md"]
    cli("checkout", "features@release", ok=True)
    assert (runner / "data/features/f.csv").read_text() == "id\n1\n"
    assert not (runner / "data/other").exists()
    # Exactly that version's objects were fetched: other's are still only on the remote.
    cli("remote", "remove", "origin", ok=True)
    assert cli("checkout", "other").exit_code == 4


@pytest.mark.parametrize("remote", ["memory", "s3"], indirect=True)
def test_push_a_subset_then_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = _init(tmp_path / "a", cli, monkeypatch)
    for n in range(3):
        write_tree(a, {f"data/ev/f{n}.txt": f"{n}\n"})
        cli("commit", "data/ev", "--name", "ev", ok=True)
    write_tree(a, {"data/other/o.txt": "o\n"})
    cli("commit", "data/other", "--name", "other", ok=True)
    cli("tag", "ev@v3", "late", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    pushed = json.loads(cli("push", "ev@v2", "--json", ok=True).stdout)
    assert pushed["versions"] == ["ev@v1", "ev@v2"]
    assert "tag" not in pushed["records"]  # its version is not on the remote yet
    shown = json.loads(cli("remote", "show", "--json", ok=True).stdout)
    assert shown["heads"] == {"ev": 2}
    assert shown["unpushed"] == {"ev": 1, "other": 1}
    rest = json.loads(cli("push", "--json", ok=True).stdout)
    assert rest["versions"] == ["ev@v3", "other@v1"] and rest["records"]["tag"] == 1


@pytest.mark.parametrize("remote", ["memory"], indirect=True)
def test_the_same_tag_on_two_versions_is_a_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {"data/ev/f.txt": "1\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, ok=True)
    cli("push", ok=True)
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), ok=True)
    monkeypatch.chdir(a)
    cli("tag", "ev@v1", "gold", ok=True)
    cli("push", ok=True)
    monkeypatch.chdir(b)
    write_tree(b, {"data/ev/g.txt": "2\n"})
    cli("commit", "data/ev", "--name", "ev", "--tag", "gold", ok=True)
    ran = cli("push")
    assert ran.exit_code == 5
    assert "ev@gold" in ran.stderr and "never move" in ran.stderr
    fetched = json.loads(cli("fetch", "--json", ok=True).stdout)
    assert fetched["tag_conflicts"] == ["ev@gold"]


def test_fsck_remote_finds_missing_and_corrupt_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {"data/ev/f.txt": "1\n", "data/ev/big.bin": os.urandom(200_000)})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    cli("push", ok=True)
    write_tree(a, {"data/ev/g.txt": "2\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("push", ok=True)
    report = json.loads(cli("fsck", "--remote", "origin", "--json", ok=True).stdout)
    assert (report["ok"], report["segments"], report["files"]) == (True, 2, 2)
    fs, _ = remote_fs(remote)
    first, second = sorted(_files_of(remote, "packs"), key=lambda p: len(fs.cat_file(p)))
    fs.rm_file(first)
    data = bytearray(fs.cat_file(second))
    data[-1] ^= 0xFF
    fs.pipe_file(second, bytes(data))
    ran = cli("fsck", "--remote", "origin", "--json")
    assert ran.exit_code == 4
    kinds = sorted(p["kind"] for p in json.loads(ran.stdout)["problems"])
    assert kinds == ["corrupt", "missing"]


@pytest.mark.parametrize("remote", ["file", "s3"], indirect=True)
def test_checking_out_a_few_files_reads_byte_ranges_not_the_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    from dvlin.remote.transport import Transport

    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {f"data/ev/f{i:03}.bin": os.urandom(4096) for i in range(300)})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    cli("push", ok=True)
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, "--no-checkout", ok=True)
    monkeypatch.chdir(b)
    read: list[int] = []
    original = Transport.get_range

    def counting(self: Transport, rel: str, start: int, end: int) -> bytes:
        read.append(end - start)
        return original(self, rel, start, end)

    monkeypatch.setattr(Transport, "get_range", counting)
    monkeypatch.setattr("dvlin.remote.store.MERGE_GAP", 0)
    cli("checkout", "ev", "f001.bin", "f298.bin", "--to", str(tmp_path / "two"), ok=True)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["f001.bin", "f298.bin"]
    assert (tmp_path / "two/f298.bin").read_bytes() == (a / "data/ev/f298.bin").read_bytes()
    # The manifest, then each blob alone (neighbours are merged only when closer than
    # MERGE_GAP, set to 0 here): never the 1.2 MB pack.
    assert sorted(read)[:2] == [4096, 4096] and len(read) == 3 and sum(read) < 40_000
    # The whole version later fetches the pack itself and checks out byte for byte.
    cli("checkout", "ev", ok=True)
    assert snapshot(b / "data/ev") == snapshot(a / "data/ev")
    assert cli("fsck").exit_code == 0


@pytest.mark.parametrize("remote", ["s3"], indirect=True)
def test_an_s3_409_on_the_refs_swap_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    # moto never answers 409 ConditionalRequestConflict (AWS may, under concurrent
    # conditional writes), so the fault is injected where s3fs would raise it.
    import s3fs
    from botocore.exceptions import ClientError
    from s3fs.errors import translate_boto_error

    import dvlin.remote.transport as transport

    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {"data/ev/f.txt": "x\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    original = s3fs.S3FileSystem._call_s3
    conflicts = {"left": 1, "swaps": 0}

    async def flaky(self, method, *args, **kwargs):  # type: ignore[no-untyped-def]
        if method == "put_object" and str(kwargs.get("Key", "")).endswith("refs.json"):
            conflicts["swaps"] += 1
            if conflicts["left"]:
                conflicts["left"] -= 1
                raise translate_boto_error(
                    ClientError(
                        {
                            "Error": {"Code": "ConditionalRequestConflict", "Message": "busy"},
                            "ResponseMetadata": {"HTTPStatusCode": 409},
                        },
                        "PutObject",
                    )
                )
        return await original(self, method, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", flaky)
    monkeypatch.setattr(transport.time, "sleep", lambda s: None)
    cli("push", ok=True)
    assert conflicts == {"left": 0, "swaps": 2}
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, ok=True)
    assert (b / "data/ev/f.txt").read_text() == "x\n"


@pytest.mark.parametrize("remote", ["file", "s3"], indirect=True)
def test_pushes_from_separate_processes_all_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    import subprocess
    import sys

    roots = []
    for i in range(3):
        root = _init(tmp_path / f"p{i}", cli, monkeypatch)
        write_tree(root, {f"data/s{i}/f.txt": f"{i}\n"})
        cli("commit", f"data/s{i}", "--name", f"s{i}", ok=True)
        cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
        roots.append(root)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dvlin", "push", "-q"],
            cwd=r,
            env=dict(os.environ),
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in roots
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, ok=True)
    assert _rows(b, "SELECT asset, number FROM versions") == [(f"s{i}", 1) for i in range(3)]


def test_clone_killed_at_random_points_then_rerun_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    if remote.kind == "memory":
        pytest.skip("a memory remote does not outlive the killed process")
    import random
    import shutil
    import signal
    import subprocess
    import sys
    import time

    a = _init(tmp_path / "a", cli, monkeypatch)
    for n in range(3):
        write_tree(a, {f"data/ev{n}/f{i}.bin": os.urandom(200_000) for i in range(10)})
        cli("commit", f"data/ev{n}", "--name", f"ev{n}", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    cli("push", ok=True)
    b = tmp_path / "b"
    args = [sys.executable, "-m", "dvlin", "clone", remote.url, str(b), *remote.flags, "-q"]
    rng = random.Random(11)
    killed = 0
    for _ in range(4):
        proc = subprocess.Popen(args, cwd=tmp_path, env=dict(os.environ))
        time.sleep(rng.uniform(0.3, 1.6))
        proc.send_signal(signal.SIGKILL)
        if proc.wait() == 0:  # it finished before the kill: start again
            shutil.rmtree(b)
            continue
        killed += 1
        if not b.exists():
            continue
        if not (b / ".dvlin.clone").exists() and (b / ".dvlin").exists():
            # The clone had finished (its marker gone) when the kill landed during exit.
            shutil.rmtree(b)
            continue
        # A killed clone is resumable: the rerun below finishes it.
        assert (b / ".dvlin.clone").is_file() or not (b / ".dvlin").exists()
        if killed >= 2:
            break
    monkeypatch.chdir(tmp_path)
    cli("clone", remote.url, str(b), *remote.flags, ok=True)
    assert not (b / ".dvlin.clone").exists()
    assert not list(b.glob(".dvlin.init-*"))
    for n in range(3):
        assert snapshot(b / f"data/ev{n}") == snapshot(a / f"data/ev{n}")
    assert _rows(b, _SHARED["versions"]) == _rows(a, _SHARED["versions"])
    monkeypatch.chdir(b)
    cli("fsck", ok=True)
    cli("audit", "verify", ok=True)
    # A different URL may not resume it.
    (b / ".dvlin.clone").write_text(json.dumps({"url": "memory://other", "created_root": True}))
    ran = cli("clone", remote.url, str(b), *remote.flags)
    assert ran.exit_code == 5 and "unfinished clone of memory://other" in ran.stderr


def test_clone_killed_inside_init_then_rerun_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    """The marker exists, the repo does not yet (or only init's temporary folder does)."""
    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {"data/ev/f.txt": "x\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", str(tmp_path / "r"), ok=True)
    cli("push", ok=True)
    b = tmp_path / "b"
    (b / ".dvlin.init-1234abcd").mkdir(parents=True)
    (b / ".dvlin.clone").write_text(json.dumps({"url": str(tmp_path / "r"), "created_root": True}))
    cli("clone", str(tmp_path / "r"), str(b), ok=True)
    assert sorted(p.name for p in b.iterdir()) == [".dvlin", "data", "dvlin.lock"]


def test_a_pull_interrupted_after_its_fetch_is_finished_by_the_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    """Killed between applying the records and checking out: the rerun still checks out."""
    import dvlin.ops.checkout as checkout_mod

    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {"data/ev/a.txt": "1\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    cli("push", ok=True)
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, ok=True)
    monkeypatch.chdir(a)
    write_tree(a, {"data/ev/b.txt": "2\n", "data/new/n.txt": "n\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("commit", "data/new", "--name", "new", ok=True)
    cli("push", ok=True)

    monkeypatch.chdir(b)
    real = checkout_mod.checkout

    def killed(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(checkout_mod, "checkout", killed)
    assert cli("pull").exit_code == 130
    monkeypatch.setattr(checkout_mod, "checkout", real)
    rerun = json.loads(cli("pull", "--json", ok=True).stdout)
    assert sorted(rerun["updated"]) == ["ev@v2", "new@v1"], rerun
    assert snapshot(b / "data") == snapshot(a / "data")
    # Once finished, a deliberate checkout of an old version is left where it is.
    cli("checkout", "ev@v1", ok=True)
    again = json.loads(cli("pull", "--json", ok=True).stdout)
    assert again["updated"] == []
    assert not (b / "data/ev/b.txt").exists()


def test_the_rerun_of_an_interrupted_push_sends_again_at_most_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    """Every file that landed is journalled as it lands, not when its turn in the queue comes.

    The first pack is slow; the ones after it land; then the push dies. The rerun may send
    again only what was in flight.
    """
    import threading

    import dvlin.remote.store as store_mod
    from dvlin.remote.transport import Transport

    a = _init(tmp_path / "a", cli, monkeypatch)
    for i in range(16):  # each commit packs its new file: 16 objects of 20 KiB
        write_tree(a, {f"data/ev/f{i:02}.bin": os.urandom(20 << 10)})
        cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    monkeypatch.setattr(store_mod, "PACK_TARGET", 16 << 10)  # a pack or two per commit
    original = Transport.put_new
    calls: list[str] = []
    others_landed = threading.Event()
    lock = threading.Lock()

    def dying(self: Transport, rel: str, data: bytes) -> bool:
        if not rel.startswith("packs/"):
            return original(self, rel, data)
        with lock:
            calls.append(rel)
            n = len(calls)
        if n == 1:
            others_landed.wait(10)  # slow: still in flight when the others land
        elif n == 6:
            others_landed.set()
            raise KeyboardInterrupt  # the process dies here
        return original(self, rel, data)

    monkeypatch.setattr(Transport, "put_new", dying)
    assert cli("push").exit_code == 130
    landed = calls[1:5]  # packs 2 to 5 are complete on the remote
    again: list[str] = []

    def counting(self: Transport, rel: str, data: bytes) -> bool:
        done = original(self, rel, data)
        if rel.startswith("packs/") and not done:
            again.append(rel)
        return done

    monkeypatch.setattr(Transport, "put_new", counting)
    cli("push", ok=True)
    assert len(landed) == 4
    assert len(again) <= 1, again
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, ok=True)
    assert snapshot(b / "data/ev") == snapshot(a / "data/ev")


def test_a_no_op_s3_push_does_not_load_s3fs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    """refs.json is read with plain botocore: s3fs, aiobotocore and aiohttp are not imported."""
    if remote.kind != "s3":
        pytest.skip("s3 only")
    import subprocess
    import sys

    a = _init(tmp_path / "a", cli, monkeypatch)
    write_tree(a, {"data/ev/a.txt": "1\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    cli("push", ok=True)
    ran = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dvlin", "push", "--json"],
        cwd=a, env=dict(os.environ), capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(ran.stdout)["up_to_date"] is True
    assert json.loads(ran.stdout)["requests"] == 1
    imported = {line.rsplit("|", 1)[-1].strip() for line in ran.stderr.splitlines()}
    assert not imported & {"s3fs", "aiobotocore", "aiohttp"}
