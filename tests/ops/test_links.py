"""Links out of the tree: kept as links (as git keeps them), or followed with --follow-links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.errors import UsageError
from dvlin.fs import DvlinFileSystem
from dvlin.ops.manifests import load_entries
from tests.conftest import Cli, snapshot, write_tree


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A folder outside the repo, as on a shared mount."""
    folder = tmp_path / "mnt" / "raw"
    write_tree(folder, {"a.csv": "id\n1\n", "sub/b.csv": "id\n2\n"})
    return folder


def test_links_out_of_the_tree_are_committed_restored_and_diffed_as_links(
    repo: Repo, shared: Path, tmp_path: Path
) -> None:
    write_tree(
        repo.root,
        {
            "d/own.txt": "mine",
            "d/raw": ("link", str(shared)),
            "d/sibling": ("link", "../../other-checkout"),
            "d/gone": ("link", "/nowhere/at/all"),
        },
    )
    v1 = repo.commit(["d"], name="d").version
    entries = load_entries(repo, v1)
    assert {p: (e.type, e.target) for p, e in entries.items() if e.type == "link"} == {
        "raw": ("link", str(shared)),
        "sibling": ("link", "../../other-checkout"),
        "gone": ("link", "/nowhere/at/all"),
    }
    assert v1.files == 1  # nothing behind the links was read
    assert repo.status().clean

    before = snapshot(shared)
    out = tmp_path / "out"
    repo.checkout("d@v1", to=out)
    assert os.readlink(out / "raw") == str(shared)
    assert os.readlink(out / "sibling") == "../../other-checkout"
    assert snapshot(shared) == before

    # A changed target is a change; checkout puts the old target string back.
    (repo.root / "d/raw").unlink()
    os.symlink("/elsewhere", repo.root / "d/raw")
    assert repo.status().assets[0].diff.changed == ("raw",)
    repo.checkout("d@v1", force=True)
    assert os.readlink(repo.root / "d/raw") == str(shared)
    assert snapshot(shared) == before

    # dvlin:// never follows a link out of the version.
    with pytest.raises(FileNotFoundError):
        DvlinFileSystem().cat_file("d@v1/raw/a.csv")


def test_follow_links_snapshots_what_they_point_at(
    repo: Repo, shared: Path, tmp_path: Path, cli: Cli
) -> None:
    write_tree(repo.root, {"d/own.txt": "mine", "d/raw": ("link", str(shared))})
    cli("commit", "d", "--name", "d", "--follow-links", ok=True)
    v1 = repo.resolve("d@v1")
    entries = load_entries(repo, v1)
    assert (entries["raw"].type, entries["raw/a.csv"].type) == ("dir", "file")
    assert v1.files == 3
    assert repo.status().clean

    out = tmp_path / "out"
    repo.checkout("d@v1", to=out)
    assert not (out / "raw").is_symlink()
    assert snapshot(out / "raw") == snapshot(shared)

    # The data behind the link changed: status sees it, as it saw it at commit time.
    (shared / "a.csv").write_text("id\n9\n")
    assert repo.status().assets[0].diff.changed == ("raw/a.csv",)
    # A checkout never writes through the link into the shared folder.
    with pytest.raises(Exception, match="not a real folder"):
        repo.checkout("d@v1", force=True)
    assert (shared / "a.csv").read_text() == "id\n9\n"


def test_a_dangling_link_under_follow_links_is_a_clear_error(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"d/own.txt": "mine", "d/gone": ("link", "/nowhere/at/all")})
    with pytest.raises(UsageError, match="points to /nowhere/at/all, which does not exist"):
        repo.commit(["d"], name="d", follow_links=True)
    r = cli("commit", "d", "--name", "d", "--follow-links")
    assert r.exit_code == 2 and "which does not exist" in r.stderr
    assert repo.log() == []


def test_link_loops_under_follow_links_are_clear_errors(
    repo: Repo, shared: Path, tmp_path: Path
) -> None:
    # A folder that holds a link back to itself.
    os.symlink(shared, shared / "again")
    write_tree(repo.root, {"d/raw": ("link", str(shared))})
    with pytest.raises(UsageError, match="again -> .* loops back to a folder that holds it"):
        repo.commit(["d"], name="d", follow_links=True)
    # Two links pointing at each other.
    os.symlink(tmp_path / "l2", tmp_path / "l1")
    os.symlink(tmp_path / "l1", tmp_path / "l2")
    write_tree(repo.root, {"e/x": ("link", str(tmp_path / "l1"))})
    with pytest.raises(UsageError, match="is a link loop"):
        repo.commit(["e"], name="e", follow_links=True)
    # Without --follow-links both are links, committed as such.
    assert repo.commit(["e"], name="e").version.files == 0


def test_follow_links_never_snapshots_dvlin_or_git_internals(repo: Repo, cli: Cli) -> None:
    (repo.root / ".git").mkdir()
    (repo.root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    for target in ("../.dvlin", "../.dvlin/objects", "../.git", str(repo.root / ".dvlin")):
        write_tree(repo.root, {"d/own.txt": "mine", "d/in": ("link", target)})
        r = cli("commit", "d", "--name", "d", "--follow-links")
        assert r.exit_code == 2, target
        assert "points into dvlin's or git's own files" in r.stderr
        (repo.root / "d" / "in").unlink()
    assert repo.log() == []


def test_dvlin_diff_shows_a_changed_link_target(repo: Repo, cli: Cli, shared: Path) -> None:
    write_tree(repo.root, {"d/own.txt": "mine", "d/raw": ("link", str(shared))})
    repo.commit(["d"], name="d")
    (repo.root / "d/raw").unlink()
    os.symlink("/elsewhere", repo.root / "d/raw")
    r = cli("diff", "d", "--json", ok=True)
    import json

    files = json.loads(r.stdout)["files"]["changes"]
    assert [(f["path"], f["change"]) for f in files] == [("raw", "modified")]
    repo.commit(["d"], name="d")
    r = cli("diff", "d@v1", "d@v2", "--json", ok=True)
    assert [(f["path"], f["change"]) for f in json.loads(r.stdout)["files"]["changes"]] == [
        ("raw", "modified")
    ]
