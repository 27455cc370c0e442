"""dvlin.lock across real git commits: pin, check, restore; .gitignore; the code's commit."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dvlin import Repo, lockfile
from dvlin.errors import ConflictError, NotFoundError, UsageError
from dvlin.gitignore import BEGIN
from dvlin.ops import lock
from tests.conftest import Cli, snapshot, write_tree


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("GIT_AUTHOR", "GIT_COMMITTER"):
        monkeypatch.setenv(f"{key}_NAME", "Test")
        monkeypatch.setenv(f"{key}_EMAIL", "test@example.org")


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def gitrepo(repo: Repo) -> Repo:
    git(repo.root, "init", "-q")
    (repo.root / "train.py").write_text("print('train')\n")
    return repo


def test_lock_round_trip_across_git_commits(gitrepo: Repo, cli: Cli) -> None:
    root = gitrepo.root
    write_tree(root, {"data/events/a.csv": "id\n1\n", "data/events/b.csv": "id\n2\n"})
    v1 = gitrepo.commit(["data/events"], name="events").version
    v1_files = snapshot(root / "data/events")
    assert lockfile.read(root) == {"events": lockfile.Pin("events", v1.id, 1, v1.tree)}
    assert f"{BEGIN}\n/data/events\n" in (root / ".gitignore").read_text()
    git(root, "add", "-A")
    git(root, "commit", "-qm", "train on october")
    first = git(root, "rev-parse", "HEAD")
    assert git(root, "status", "--porcelain") == ""  # data and .dvlin are not git's

    write_tree(root, {"data/events/b.csv": "id\n3\n", "data/events/c.csv": "id\n4\n"})
    (root / "data/events/a.csv").unlink()
    v2 = gitrepo.commit(["data/events"], name="events").version
    assert v2.info.code == {"git": first, "dirty": False}
    assert lockfile.read(root)["events"].id == v2.id  # type: ignore[index]
    git(root, "commit", "-qam", "train on november")
    assert git(root, "status", "--porcelain") == ""

    git(root, "checkout", "-q", first)
    assert lockfile.read(root)["events"].id == v1.id  # type: ignore[index]
    assert cli("lock", "--check").exit_code == 1
    status = cli("status", ok=True).stdout
    assert "dvlin.lock pins events@v1 but the workspace holds v2" in status
    drift = json.loads(cli("status", "--json", ok=True).stdout)["lock"]
    assert [(d["asset"], d["locked"]["version"], d["workspace"]["version"]) for d in drift] == [
        ("events", "v1", "v2")
    ]

    r = cli("checkout", "--lock", ok=True)
    assert "checked out events@v1" in r.stdout
    assert snapshot(root / "data/events") == v1_files
    assert cli("lock", "--check", ok=True).stdout == "dvlin.lock is up to date\n"
    assert git(root, "status", "--porcelain") == ""
    assert "dvlin.lock" not in cli("status", ok=True).stdout

    git(root, "checkout", "-q", "-")
    cli("checkout", "--lock", ok=True)
    assert gitrepo.status().clean
    assert (root / "data/events/c.csv").read_text() == "id\n4\n"


def test_two_clones_write_the_same_lock(
    gitrepo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(gitrepo.root, {"data/x/f.txt": "one"})
    gitrepo.commit(["data/x"], name="x")
    write_tree(gitrepo.root, {"data/x/f.txt": "two", "models/m.bin": b"\0" * 10})
    gitrepo.commit(["data/x"], name="x")
    gitrepo.commit(["models/m.bin"], name="model")
    gitrepo.close()
    texts = []
    for who in ("alice", "bob"):
        clone = tmp_path / f"clone-{who}"
        shutil.copytree(gitrepo.root, clone, symlinks=True)
        monkeypatch.setenv("DVLIN_AUTHOR", f"{who} <{who}@example.org>")
        monkeypatch.setenv("HOSTNAME", f"host-{who}")
        with Repo.open(clone) as r:
            r.checkout("x@v1")
            r.checkout("x@v2")
        texts.append((clone / "dvlin.lock").read_text())
    assert texts[0] == texts[1]
    for word in (str(tmp_path), "alice", "bob", "host-", "Test Author", "T0", ":"):
        assert word not in texts[0].replace("# ", "").split("format", 1)[1]


def test_checkout_lock_refuses_to_lose_changes(gitrepo: Repo) -> None:
    write_tree(gitrepo.root, {"d/f.txt": "v1"})
    gitrepo.commit(["d"], name="d")
    pinned = (gitrepo.root / "dvlin.lock").read_text()
    write_tree(gitrepo.root, {"d/f.txt": "v2"})
    gitrepo.commit(["d"], name="d")
    (gitrepo.root / "dvlin.lock").write_text(pinned)
    write_tree(gitrepo.root, {"d/f.txt": "local edit"})
    with pytest.raises(ConflictError, match="d: f.txt"):
        lock.checkout_lock(gitrepo)
    assert (gitrepo.root / "d/f.txt").read_text() == "local edit"
    assert lock.checkout_lock(gitrepo, dry_run=True).dry_run
    lock.checkout_lock(gitrepo, force=True)
    assert (gitrepo.root / "d/f.txt").read_text() == "v1"


def test_a_lock_naming_an_unknown_version_is_not_found(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"d/f.txt": "v1"})
    repo.commit(["d"], name="d")
    text = (repo.root / "dvlin.lock").read_text()
    v1 = repo.resolve("d@v1").id
    (repo.root / "dvlin.lock").write_text(text.replace(v1, "f" * 32).replace('"v1"', '"v7"'))
    with pytest.raises(NotFoundError, match="pins d@v7"):
        lock.checkout_lock(repo)
    r = cli("checkout", "--lock")
    assert r.exit_code == 3 and "which this repo does not have" in r.stderr
    (repo.root / "dvlin.lock").unlink()
    assert cli("checkout", "--lock").exit_code == 3
    assert cli("checkout").exit_code == 2
    assert cli("checkout", "d@v1", "--lock").exit_code == 2


def test_a_tree_of_another_hash_algorithm_is_a_usage_error(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"d/f.txt": "v1"})
    repo.commit(["d"], name="d")
    text = (repo.root / "dvlin.lock").read_text()
    tree = repo.resolve("d@v1").tree
    (repo.root / "dvlin.lock").write_text(text.replace(tree, "e" * 64))  # a sha256 repo's
    with pytest.raises(UsageError) as caught:
        lock.checkout_lock(repo)
    assert caught.value.message == "dvlin.lock: the pin of 'd' is malformed"
    r = cli("checkout", "--lock")
    assert r.exit_code == 2 and "the pin of 'd' is malformed" in r.stderr
    assert "Traceback" not in r.stderr


def test_without_git_there_is_a_lock_but_no_gitignore(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"d/f.txt": "v1"})
    v1 = repo.commit(["d"], name="d").version
    assert v1.info.code is None
    assert not (repo.root / ".gitignore").exists()
    assert lockfile.read(repo.root) is not None
    (repo.root / "dvlin.lock").unlink()
    r = cli("lock", "--check")
    assert r.exit_code == 1 and "dvlin.lock is missing" in r.stdout
    data = json.loads(cli("lock", "--json", ok=True).stdout)
    assert data == {"assets": [{"asset": "d", "id": v1.id, "version": "v1", "tree": v1.tree}]}
    assert json.loads(cli("lock", "--check", "--json", ok=True).stdout)["ok"] is True


def test_a_root_asset_stays_clean_despite_the_lock(repo: Repo) -> None:
    write_tree(repo.root, {"a.txt": "a"})
    repo.commit(["."], name="all")
    assert (repo.root / "dvlin.lock").exists()
    assert repo.status().clean


def test_run_outputs_are_pinned(repo: Repo) -> None:
    import dvlin

    (repo.root / "out").mkdir()
    with dvlin.track("make", outputs={"out": "made"}, repo=repo):
        (repo.root / "out" / "x.txt").write_text("x")
    made = repo.resolve("made")
    assert lockfile.read(repo.root) == {"made": lockfile.Pin("made", made.id, 1, made.tree)}
    assert lock.check(repo).ok


def test_a_pin_holding_another_assets_version_is_refused(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"d/f.txt": "d", "e/g.txt": "e"})
    repo.commit(["d"], name="d")
    other = repo.commit(["e"], name="e").version
    text = (repo.root / "dvlin.lock").read_text()
    d1 = repo.resolve("d@v1").id
    (repo.root / "dvlin.lock").write_text(text.replace(d1, other.id))
    before = snapshot(repo.root)
    r = cli("checkout", "--lock")
    assert r.exit_code == 2
    assert f"dvlin.lock pins d to {other.id[:12]}, a version of e" in r.stderr
    assert snapshot(repo.root) == before
    assert cli("lock", "--check").exit_code == 2
    assert cli("status").exit_code == 2


def test_a_lock_written_before_mv_still_checks_out(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"d/f.txt": "v1"})
    repo.commit(["d"], name="d")
    old_lock = (repo.root / "dvlin.lock").read_text()
    write_tree(repo.root, {"d/f.txt": "v2"})
    repo.commit(["d"], name="d")
    cli("mv", "d", "dd", ok=True)
    assert "[assets.dd]" in (repo.root / "dvlin.lock").read_text()
    (repo.root / "dvlin.lock").write_text(old_lock)  # git checkout of an older code commit
    cli("checkout", "--lock", ok=True)
    assert (repo.root / "d/f.txt").read_text() == "v1"
    assert cli("lock", "--check").exit_code == 0
    assert (repo.root / "dvlin.lock").read_text() == old_lock


def test_a_pin_that_retention_expired_says_so(repo: Repo, cli: Cli) -> None:
    from dvlin.ops import gc

    (repo.root / "dvlin.toml").write_text("[assets.d.retention]\nkeep_last = 1\n")
    write_tree(repo.root, {"d/f.txt": "v1"})
    repo.commit(["d"], name="d")
    old_lock = (repo.root / "dvlin.lock").read_text()
    write_tree(repo.root, {"d/f.txt": "v2"})
    repo.commit(["d"], name="d")
    gc.apply(repo, gc.plan(repo).id)
    (repo.root / "dvlin.lock").write_text(old_lock)
    before = snapshot(repo.root)
    r = cli("checkout", "--lock")
    assert r.exit_code == 3 and "d@v1 expired on" in r.stderr
    assert snapshot(repo.root) == before
    r = cli("lock", "--check")
    assert r.exit_code == 1
    assert "dvlin.lock pins d@v1 (expired by retention: its data is gone)" in r.stdout
    assert cli("audit", "verify").exit_code == 0
