"""An interrupted checkout leaves whole files only, is reported, and blocks commit until rerun."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.errors import ConflictError, IntegrityError
from dvlin.workspace import pending
from dvlin.workspace.materialize import WRITER_THREADS
from tests.conftest import Cli, kill_when_paused, snapshot, write_tree

V1 = {f"d/f{i:02d}.bin": bytes([i]) * 1024 for i in range(12)}
V2 = {f"d/f{i:02d}.bin": bytes([i + 100]) * 1024 for i in range(12)}


class StopAfter:
    """A progress that presses Ctrl-C after ``n`` files."""

    def __init__(self, n: int) -> None:
        self.left = n

    def start(self, label: str, *, files: int | None = None, bytes: int | None = None) -> None:
        pass

    def advance(self, *, files: int = 0, bytes: int = 0) -> None:
        self.left -= files
        if self.left <= 0:
            raise KeyboardInterrupt

    def finish(self) -> None:
        pass


@pytest.fixture
def two(repo: Repo) -> Repo:
    """Asset d: v1 and v2 differ in each of twelve 1 KiB files; the folder holds v2."""
    write_tree(repo.root, V1)
    repo.commit(["d"], name="d")
    write_tree(repo.root, V2)
    repo.commit(["d"], name="d")
    return repo


def _whole(repo: Repo) -> None:
    """Every file is complete: the bytes of one version or the other, never a torn mix."""
    for rel in V1:
        data = (repo.root / rel).read_bytes()
        assert data in (V1[rel], V2[rel]), rel
    leftovers = [n for n in os.listdir(repo.root / "d") if pending.is_temporary_name(n)]
    assert leftovers == []


def test_ctrl_c_leaves_whole_files_and_is_reported(two: Repo) -> None:
    with pytest.raises(KeyboardInterrupt):
        two.checkout("d@v1", progress=StopAfter(3))
    _whole(two)
    report = two.status()
    (asset,) = report.assets
    assert asset.state == "interrupted" and not report.clean
    assert asset.interrupted is not None
    assert asset.interrupted.message == (
        "checkout of d@v1 interrupted; rerun it or `dvlin checkout --force`"
    )
    assert report.to_dict()["assets"][0]["interrupted"]["version"] == "d@v1"


def test_commit_refuses_while_a_checkout_is_pending(two: Repo) -> None:
    with pytest.raises(KeyboardInterrupt):
        two.checkout("d@v1", progress=StopAfter(3))
    with pytest.raises(ConflictError, match="checkout of d@v1 interrupted"):
        two.commit(["d"], name="d")
    with pytest.raises(ConflictError, match="interrupted"):
        two.commit(["."], name="everything", overlap=True)  # a folder holding the half-written one
    assert [v.number for v in two.log("d")] == [2, 1]


def test_rerun_finishes_without_force(two: Repo) -> None:
    with pytest.raises(KeyboardInterrupt):
        two.checkout("d@v1", progress=StopAfter(3))
    result = two.checkout("d@v1")  # the files it already wrote are its own, not edits
    assert result.discarded == ()
    assert all((two.root / rel).read_bytes() == V1[rel] for rel in V1)
    assert two.status().clean
    assert pending.pending_checkouts(two.dvlin_dir) == []
    two.commit(["d"], name="d")  # nothing to commit, and no refusal


def test_force_to_another_version_clears_it(two: Repo) -> None:
    with pytest.raises(KeyboardInterrupt):
        two.checkout("d@v1", progress=StopAfter(5))
    (two.root / "d/f11.bin").write_bytes(b"an edit after the interruption")
    with pytest.raises(ConflictError) as err:
        two.checkout("d@v2")
    assert err.value.paths == ("f11.bin",)
    two.checkout("d@v2", force=True)
    assert all((two.root / rel).read_bytes() == V2[rel] for rel in V2)
    assert two.status().clean


def test_user_edits_still_count_after_an_interruption(two: Repo) -> None:
    with pytest.raises(KeyboardInterrupt):
        two.checkout("d@v1", progress=StopAfter(3))
    (two.root / "d/f00.bin").write_bytes(b"edited meanwhile")
    with pytest.raises(ConflictError) as err:
        two.checkout("d@v1")
    assert err.value.paths == ("f00.bin",)


def _staging(folder: Path) -> list[str]:
    """The staging folders a checkout into a new folder left in ``folder``."""
    return sorted(n for n in os.listdir(folder) if pending.is_temporary_name(n))


def _some_whole_files_staged(folder: Path, tree: dict[str, bytes]) -> None:
    """A restore of ``tree``'s ``d`` killed mid-tree: one staging folder in ``folder`` holds
    some of its files, not all, at least one of them whole (the bytes of its path in
    ``tree``). Each writer thread pauses after its first file and the kill comes when the
    first one pauses, so that writer's file is whole; another writer may have been killed
    inside its own file, which is then a prefix of its bytes. Nothing in the staging folder
    is ever published, and the rerun removes it."""
    (staging,) = _staging(folder)
    written = [Path(f, n) for f, _, names in os.walk(folder / staging) for n in names]
    assert 0 < len(written) < len(tree)
    whole = 0
    for path in written:
        want = tree[f"d/{path.relative_to(folder / staging).as_posix()}"]
        got = path.read_bytes()
        assert want.startswith(got), path
        whole += got == want
    assert whole >= 1 and len(written) - whole <= WRITER_THREADS - 1


def test_ctrl_c_into_a_new_folder_leaves_no_folder(two: Repo, cli: Cli) -> None:
    out = two.root.parent / "out"
    with pytest.raises(KeyboardInterrupt):
        two.checkout("d@v1", to=out, progress=StopAfter(2))
    # The tree was written aside and never published: nothing under its name, nothing beside.
    assert not out.exists() and _staging(out.parent) == []
    report = two.status()
    assert report.interrupted == () and report.clean
    two.checkout("d@v1", to=out)
    assert sorted(os.listdir(out)) == sorted(Path(rel).name for rel in V1)
    assert all((out / Path(rel).name).read_bytes() == V1[rel] for rel in V1)
    assert two.status().interrupted == ()


def _left_by_an_earlier_dvlin(two: Repo, out: Path) -> list[str]:
    """What an earlier dvlin, killed while restoring d@v1 into ``out``, could leave: a marker,
    some whole files and two torn ones (a prefix of the version's bytes, an empty file)."""
    v1 = two.catalog.version_by_number("d", 1)
    assert v1 is not None
    pending.begin(
        two.dvlin_dir,
        pending.PendingCheckout(
            asset="d",
            version=v1.label,
            version_id=v1.id,
            target=str(out),
            started_at="2026-01-01T00:00:00Z",
            pid=2**22 + 1,
        ),
    )
    out.mkdir()
    names = sorted(Path(rel).name for rel in V1)
    for name in names[:3]:
        (out / name).write_bytes(V1[f"d/{name}"])
    return names[3:]


def test_a_torn_file_in_a_new_folder_is_finished_by_a_rerun(two: Repo) -> None:
    out = two.root.parent / "out"
    missing = _left_by_an_earlier_dvlin(two, out)
    (out / missing[0]).write_bytes(V1[f"d/{missing[0]}"][:100])
    (out / missing[1]).write_bytes(b"")
    result = two.checkout("d@v1", to=out)
    assert result.discarded == ()
    assert all((out / Path(rel).name).read_bytes() == V1[rel] for rel in V1)
    assert two.status().interrupted == ()


def test_a_file_that_is_not_a_prefix_still_counts_as_a_change(two: Repo) -> None:
    out = two.root.parent / "out"
    missing = _left_by_an_earlier_dvlin(two, out)
    (out / missing[0]).write_bytes(b"not what the version holds")
    with pytest.raises(ConflictError) as err:
        two.checkout("d@v1", to=out)
    assert err.value.paths == (missing[0],)


def test_cli_status_and_commit_while_interrupted(two: Repo, cli: Cli) -> None:
    with pytest.raises(KeyboardInterrupt):
        two.checkout("d@v1", progress=StopAfter(3))
    ran = cli("status", "--exit-code")
    assert ran.exit_code == 1
    assert "d: checkout of d@v1 interrupted; rerun it or `dvlin checkout --force`" in ran.stdout
    ran = cli("commit", "d")
    assert ran.exit_code == 5
    assert "checkout of d@v1 interrupted" in ran.stderr and "hint:" in ran.stderr
    cli("checkout", "d@v1", ok=True)
    assert "clean at d@v1" in cli("status", ok=True).stdout


@pytest.mark.slow
def test_killed_checkout_is_finished_by_a_rerun(two: Repo, tmp_path: Path) -> None:
    paused = tmp_path / "paused"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dvlin", "checkout", "d@v1"],
        cwd=two.root,
        env={**os.environ, "DVLIN_TEST_PAUSE_IN_CHECKOUT": str(paused)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not paused.exists() or not paused.read_text():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # Still running (it holds the repo lock): status shows the folder as it is, not as stopped.
    report = two.status()
    assert report.assets[0].state == "modified" and report.interrupted == ()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    # A temporary name a killed writer might leave behind is cleaned up by the rerun.
    (two.root / "d/.f05.bin.dvlin-0badc0de").write_bytes(b"torn")
    assert all((two.root / rel).read_bytes() in (V1[rel], V2[rel]) for rel in V1)
    assert two.status().assets[0].state == "interrupted"
    with pytest.raises(ConflictError):
        two.commit(["d"], name="d")
    two.checkout("d@v1")
    _whole(two)
    assert two.status().clean


def test_failed_checkout_removes_the_folder_it_created(two: Repo) -> None:
    v1 = two.catalog.version_by_number("d", 1)
    assert v1 is not None
    from dvlin.ops.manifests import load_entries

    entry = load_entries(two, v1)["f00.bin"]
    storage = entry.pack or entry.oid
    assert storage is not None
    path = two.store.local_path(storage)
    assert path is not None
    os.chmod(path, 0o644)
    Path(path).write_bytes(b"corrupt")
    out = two.root.parent / "new" / "deeper"
    with pytest.raises(IntegrityError):
        two.checkout("d@v1", to=out)
    assert not out.exists() and not out.parent.exists()
    assert _staging(two.root.parent) == []
    assert pending.pending_checkouts(two.dvlin_dir) == []
    kept = two.root.parent / "kept"
    kept.mkdir()
    with pytest.raises(IntegrityError):
        two.checkout("d@v1", to=kept)
    assert kept.is_dir()  # it was there before: not ours to remove


def test_a_checkout_that_changes_nothing_writes_no_marker(
    two: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("marker written for a no-op checkout")

    monkeypatch.setattr(pending, "begin", refuse)
    assert two.checkout("d@v2").written == 0
    with pytest.raises(AssertionError):
        two.checkout("d@v1")


def test_a_no_op_rerun_still_clears_the_marker(two: Repo) -> None:
    with pytest.raises(KeyboardInterrupt):
        two.checkout("d@v1", progress=StopAfter(12))  # every file written, catalog not yet
    assert two.status().assets[0].state == "interrupted"
    assert two.checkout("d@v1").written == 0
    assert two.status().clean


@pytest.mark.slow
@pytest.mark.parametrize(
    ("files", "before"),
    [
        # Enough packed files for the parallel writers; killed while they hold queued batches.
        (1500, ""),
        # The big-tree restore (Writer.write_table), forced for a small tree in the subprocess.
        (600, "from dvlin.ops import checkout; checkout.RESTORE_FROM_TABLE = 0"),
    ],
    ids=["entries", "table"],
)
def test_killed_restore_into_a_new_folder_is_finished_by_a_rerun(
    repo: Repo, tmp_path: Path, files: int, before: str
) -> None:
    tree = {f"d/s{i % 9}/f{i:04d}.bin": os.urandom(200 + i % 300) for i in range(files)}
    write_tree(repo.root, tree)
    repo.commit(["d"], name="d")
    out = tmp_path / "restored"
    kill_when_paused(
        ["checkout", "d", "--to", str(out)],
        repo.root,
        "DVLIN_TEST_PAUSE_IN_CHECKOUT",
        tmp_path / "paused",
        before=before,
    )
    # Killed mid-tree: no file at all under the target (neither whole nor torn); the work so
    # far waits in one staging folder beside it, which the rerun removes.
    assert not out.exists()
    _some_whole_files_staged(tmp_path, tree)
    assert [p.target for p in repo.status().interrupted] == [str(out)]
    repo.checkout("d", to=out)
    assert snapshot(out) == snapshot(repo.root / "d")
    assert repo.status().interrupted == ()
    assert _staging(tmp_path) == []


@pytest.mark.slow
def test_killed_restore_of_a_deleted_folder_is_finished_by_a_rerun(two: Repo) -> None:
    import shutil

    shutil.rmtree(two.root / "d")
    paused = two.root.parent / "paused"
    kill_when_paused(["checkout", "d@v1"], two.root, "DVLIN_TEST_PAUSE_IN_CHECKOUT", paused)
    assert not (two.root / "d").exists() and len(_staging(two.root)) == 1
    assert two.status().assets[0].state == "interrupted"
    two.checkout("d@v1")
    assert all((two.root / rel).read_bytes() == V1[rel] for rel in V1)
    assert _staging(two.root) == [] and two.status().clean


def test_a_dry_run_leaves_what_an_interrupted_checkout_left(repo: Repo) -> None:
    """``--dry-run`` changes nothing, not even the temporary file a killed writer left beside
    an asset that is one file; the real checkout then removes it."""
    (repo.root / "m.bin").write_bytes(b"one\n")
    repo.commit(["m.bin"], name="m")
    (repo.root / "m.bin").write_bytes(b"two\n")
    repo.commit(["m.bin"], name="m")
    v1 = repo.catalog.version_by_number("m", 1)
    assert v1 is not None
    target = str(repo.root / v1.base)
    pending.begin(
        repo.dvlin_dir,
        pending.PendingCheckout("m", v1.label, v1.id, target, "2026-01-01T00:00:00Z", 2**22 + 1),
    )
    torn = repo.root / ".m.bin.dvlin-0123abcd"
    torn.write_bytes(b"o")
    repo.checkout("m@v1", dry_run=True, force=True)
    assert torn.read_bytes() == b"o"
    assert (repo.root / "m.bin").read_bytes() == b"two\n"
    repo.checkout("m@v1", force=True)
    assert not torn.exists()
    assert (repo.root / "m.bin").read_bytes() == b"one\n"
    assert repo.status().interrupted == ()
