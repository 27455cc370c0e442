"""rm, mv and tag --delete: audited, verifiable, and old refs keep resolving."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import dvlin
from dvlin import Repo, lockfile
from dvlin.audit.log import entries, verify
from dvlin.errors import ConflictError, NotFoundError, UsageError
from dvlin.ops.asset import delete_tag, mv, rm
from dvlin.ops.retention import retention
from tests.conftest import Cli, write_tree


@pytest.fixture
def events(repo: Repo) -> Repo:
    write_tree(repo.root, {"data/events/a.txt": "1"})
    repo.commit(["data/events"], name="events", tags=["first"])
    write_tree(repo.root, {"data/events/a.txt": "2"})
    repo.commit(["data/events"], name="events")
    return repo


def _actions(repo: Repo) -> list[tuple[str, str]]:
    return [(e.action, e.target) for e in entries(repo.catalog) if e.action != "commit"]


def test_rm_untracks_and_deletes_the_files_but_keeps_history(events: Repo, cli: Cli) -> None:
    v1 = events.resolve("events@v1")
    result = rm(events, "data/events")  # by path
    assert (result.asset, result.versions, result.deleted_files) == ("events", 2, True)
    assert not (events.root / "data/events").exists()
    assert events.catalog.asset_names() == []
    assert events.status().assets == ()
    assert lockfile.read(events.root) == {}
    assert events.resolve("events@v1").id == v1.id
    assert events.resolve("events@first").id == v1.id
    assert ("rm", "events") in _actions(events)
    assert verify(events.catalog).ok
    assert "events" not in cli("ls", ok=True).stdout
    # Committing the name again tracks it anew, after its history.
    write_tree(events.root, {"data/events/a.txt": "3"})
    assert events.commit(["data/events"], name="events").version.number == 3
    assert events.catalog.asset_names() == ["events"]


def test_rm_refuses_to_delete_uncommitted_changes(events: Repo) -> None:
    write_tree(events.root, {"data/events/new.txt": "unsaved"})
    with pytest.raises(ConflictError, match="new.txt"):
        rm(events, "events")
    assert events.catalog.asset_names() == ["events"]
    rm(events, "events", keep_files=True)
    assert (events.root / "data/events/new.txt").read_text() == "unsaved"
    assert events.catalog.asset_names() == []


def test_rm_of_the_repo_root_keeps_files_only_on_request(repo: Repo) -> None:
    write_tree(repo.root, {"a.txt": "a"})
    repo.commit(["."], name="all")
    with pytest.raises(UsageError, match="whole repo"):
        rm(repo, "all")
    rm(repo, "all", keep_files=True)
    assert (repo.root / "a.txt").exists()


def test_removed_versions_still_follow_retention(events: Repo) -> None:
    (events.root / "dvlin.toml").write_text("[assets.events.retention]\nkeep_last = 1\n")
    rm(events, "events", keep_files=True)
    kept = {r.version.label: r.decision.kept for r in retention(events).rows}
    assert kept == {"events@v1": False, "events@v2": True}


def test_rm_drops_the_path_from_the_gitignore_block(events: Repo) -> None:
    subprocess.run(["git", "init", "-q"], cwd=events.root, check=True)
    write_tree(events.root, {"data/other/b.txt": "b"})
    events.commit(["data/other"], name="other")
    assert "/data/events\n" in (events.root / ".gitignore").read_text()
    rm(events, "events")
    text = (events.root / ".gitignore").read_text()
    assert "/data/events" not in text and "/data/other\n" in text


def test_mv_renames_and_the_old_name_keeps_resolving(events: Repo) -> None:
    v1 = events.resolve("events@v1")
    result = mv(events, "events", "raw_events")
    assert (result.old, result.new, result.versions) == ("events", "raw_events", 2)
    assert events.catalog.asset_names() == ["raw_events"]
    for ref in ("events@v1", "events@first", "raw_events@v1", "raw_events@first"):
        got = events.resolve(ref)
        assert (got.id, got.label) == (v1.id, "raw_events@v1")
    assert events.resolve("events").label == "raw_events@v2"
    assert list(lockfile.read(events.root) or {}) == ["raw_events"]
    assert events.status().clean
    assert ("mv", "events") in _actions(events)
    assert verify(events.catalog).ok
    # Commits under the new name continue the history; the old path works as the asset's name.
    write_tree(events.root, {"data/events/a.txt": "3"})
    assert events.commit(["data/events"], name="raw_events").version.label == "raw_events@v3"
    # Renaming back is allowed; a name held by another asset is not.
    mv(events, "raw_events", "events")
    assert events.resolve("raw_events@v1").label == "events@v1"
    write_tree(events.root, {"data/x/f": "x"})
    events.commit(["data/x"], name="x")
    with pytest.raises(ConflictError, match="asset x exists"):
        mv(events, "events", "x")
    with pytest.raises(ConflictError, match="old name of events"):
        mv(events, "x", "raw_events")
    with pytest.raises(NotFoundError):
        mv(events, "nope", "y")


def test_lineage_of_a_renamed_input_resolves(events: Repo) -> None:
    (events.root / "out").mkdir()
    with dvlin.track("derive", inputs=["events@v1"], outputs={"out": "derived"}, repo=events):
        (events.root / "out" / "f").write_text("f")
    mv(events, "events", "raw_events")
    from dvlin.ops.lineage import lineage

    text = json.dumps(lineage(events, "derived").to_dict())
    assert "raw_events@v1" in text
    assert events.resolve("events@v1").label == "raw_events@v1"


def test_tag_delete(events: Repo, cli: Cli) -> None:
    v1 = events.resolve("events@v1")
    with pytest.raises(ConflictError, match="on v1, not events@v2"):
        delete_tag(events, "events@v2", "first")
    with pytest.raises(NotFoundError, match="no tag 'nope'"):
        delete_tag(events, "events", "nope")
    t = delete_tag(events, "events@v1", "first").tag
    assert (t.name, t.version) == ("first", v1.id)
    with pytest.raises(NotFoundError):
        events.resolve("events@first")
    assert ("tag-delete", "events@first") in _actions(events)
    assert verify(events.catalog).ok
    # The name is free again: a tag may now be made on purpose elsewhere.
    events.tag("events@v2", "first")
    r = cli("tag", "--delete", "events", "first", "--json", ok=True)
    assert json.loads(r.stdout)["version"] == "v2" and json.loads(r.stdout)["deleted"] is True
    bad = cli("tag", "--delete", "events", "first")
    assert bad.exit_code == 3 and "events has no tag 'first'" in bad.stderr


def test_cli_rm_and_mv(events: Repo, cli: Cli) -> None:
    moved = json.loads(cli("mv", "events", "raw", "--json", ok=True).stdout)
    assert moved == {"from": "events", "to": "raw", "versions": 2}
    write_tree(events.root, {"data/events/z.txt": "unsaved"})
    r = cli("rm", "raw")
    assert r.exit_code == 5 and "uncommitted changes" in r.stderr
    removed = json.loads(cli("rm", "events", "--force", "--json", ok=True).stdout)
    assert removed == {
        "asset": "raw",
        "versions": 2,
        "paths": ["data/events"],
        "deleted_files": True,
    }
    assert not Path("data/events").exists()
    log = json.loads(cli("audit", "log", "--json", ok=True).stdout)
    assert [e["action"] for e in log][-2:] == ["mv", "rm"]
    assert cli("audit", "verify", ok=True).exit_code == 0


def test_status_takes_an_asset_by_path_or_old_name(events: Repo, cli: Cli) -> None:
    by_path = json.loads(cli("status", "data/events", "--json", ok=True).stdout)
    assert [a["asset"] for a in by_path["assets"]] == ["events"]
    mv(events, "events", "raw")
    by_old = json.loads(cli("status", "events", "--json", ok=True).stdout)
    assert [a["asset"] for a in by_old["assets"]] == ["raw"]
    r = cli("status", "nope")
    assert r.exit_code == 3 and "unknown asset 'nope'" in r.stderr


def test_old_names_resolve_in_every_command_that_takes_an_asset(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"d/f.txt": "v1"})
    repo.commit(["d"], name="d")
    cli("mv", "d", "dd", ok=True)
    for args in (
        ("log", "d"),
        ("show", "d@v1"),
        ("lineage", "d@v1"),
        ("du", "d"),
        ("checkout", "d@v1"),
    ):
        r = cli(*args)
        assert r.exit_code == 0, (args, r.output)


def test_mv_of_an_asset_with_a_contract_asks_to_rename_the_contract_first(
    repo: Repo, cli: Cli
) -> None:
    policy = '[assets.ev]\npath = "d"\n[assets.ev.quality]\nnot_null = ["id"]\n'
    (repo.root / "dvlin.toml").write_text(policy)
    write_tree(repo.root, {"d/a.csv": "id,x\n1,2\n"})
    repo.commit(["d"], name="ev")
    r = cli("mv", "ev", "ev2")
    assert r.exit_code == 5
    assert "dvlin.toml has a contract for ev" in r.stderr and "[assets.ev2]" in r.stderr
    assert repo.catalog.asset_names() == ["ev"]
    # Renamed by hand first: the contract keeps guarding the renamed asset.
    (repo.root / "dvlin.toml").write_text(policy.replace("assets.ev", "assets.ev2"))
    cli("mv", "ev", "ev2", ok=True)
    write_tree(repo.root, {"d/a.csv": "id,x\n,2\n"})
    assert cli("commit", "d").exit_code == 1
    assert cli("audit", "verify").exit_code == 0


def test_an_old_name_cannot_become_a_new_asset(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"d/f.txt": "1", "e/g.txt": "2"})
    repo.commit(["d"], name="a")
    cli("mv", "a", "b", ok=True)
    r = cli("commit", "e", "--name", "a")
    assert r.exit_code == 5 and "a is an old name of b" in r.stderr
    assert repo.resolve("a@v1").asset == "b"


def test_rm_of_an_untracked_asset_is_not_found_and_writes_nothing(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"d/f.txt": "1", "e/g.txt": "2"})
    repo.commit(["d"], name="d")
    repo.commit(["e"], name="e")
    cli("rm", "d", "--keep-files", ok=True)
    before = len(entries(repo.catalog))
    r = cli("rm", "d")
    assert r.exit_code == 3 and "d is not tracked (dvlin rm untracked it)" in r.stderr
    assert (repo.root / "d/f.txt").exists()
    assert len(entries(repo.catalog)) == before
    r = cli("mv", "e", "d")
    assert r.exit_code == 5 and "asset d exists (untracked, its versions remain)" in r.stderr


def test_committing_an_untracked_asset_again_tracks_it_even_unchanged(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"d/f.txt": "1"})
    v1 = repo.commit(["d"], name="d").version
    cli("rm", "d", "--keep-files", ok=True)
    assert repo.catalog.asset_names() == []
    r = cli("commit", "d", ok=True)
    assert "d@v1" in r.stdout
    assert repo.catalog.asset_names() == ["d"]
    assert lockfile.read(repo.root) is not None and lockfile.read(repo.root)["d"].id == v1.id
    assert repo.status().clean
    assert [e.action for e in entries(repo.catalog)][-1] == "commit"
    assert cli("audit", "verify").exit_code == 0
