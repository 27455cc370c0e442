"""One resolver for asset names and paths: a path a contract or an asset owns is that asset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.errors import ConflictError
from tests.conftest import Cli, write_tree

CONTRACT = '[assets.events]\npath = "data/events"\n[assets.events.quality]\nmin_rows = 3\n'


def _good(repo: Repo) -> None:
    write_tree(repo.root, {"data/events/part.csv": "id\n1\n2\n3\n"})


def _bad(repo: Repo) -> None:
    write_tree(repo.root, {"data/events/part.csv": "id\n1\n"})


def _contract(repo: Repo) -> None:
    (repo.root / "dvlin.toml").write_text(CONTRACT)


@pytest.mark.parametrize(
    "spelling", ["data/events", "./data/events/", "ABS", "data/../data/events"]
)
def test_commit_without_name_runs_the_contract_of_the_path(
    repo: Repo, cli: Cli, spelling: str
) -> None:
    _contract(repo)
    _bad(repo)
    path = str(repo.root / "data/events") if spelling == "ABS" else spelling
    ran = cli("commit", path)
    assert ran.exit_code == 1, ran.output
    assert "min_rows" in ran.output
    assert repo.catalog.asset_names() == []
    _good(repo)
    ran = cli("commit", path, ok=True)
    assert "events@v1" in ran.output
    assert repo.catalog.asset_names() == ["events"]


def test_commit_dot_from_inside_the_folder(repo: Repo, cli: Cli, monkeypatch) -> None:
    _contract(repo)
    _bad(repo)
    monkeypatch.chdir(repo.root / "data/events")
    assert cli("commit", ".").exit_code == 1
    _good(repo)
    os.makedirs(repo.root / "data/events/sub")
    monkeypatch.chdir(repo.root / "data/events/sub")
    ran = cli("commit", "..", ok=True)
    assert "events@v1" in ran.output
    assert repo.catalog.asset_names() == ["events"]


def test_an_existing_asset_owns_its_path(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"d/a.txt": "1"})
    repo.commit(["d"], name="things")
    write_tree(repo.root, {"d/a.txt": "2"})
    ran = cli("commit", "d", ok=True)
    assert "things@v2" in ran.output
    assert repo.catalog.asset_names() == ["things"]


def test_another_name_on_an_owned_path_is_refused(repo: Repo, cli: Cli) -> None:
    _contract(repo)
    _bad(repo)
    ran = cli("commit", "data/events", "--name", "other")
    assert ran.exit_code == 5
    assert "data/events is the path of asset events, not other" in ran.stderr
    assert "hint:" in ran.stderr
    assert repo.catalog.asset_names() == []
    with pytest.raises(ConflictError):
        repo.commit(["data/events"], name="other")


def test_a_path_inside_an_asset_is_refused_unless_asked(repo: Repo, cli: Cli) -> None:
    _contract(repo)
    _bad(repo)
    ran = cli("commit", "data/events/part.csv")
    assert ran.exit_code == 5
    assert "data/events/part.csv is inside asset events (data/events)" in ran.stderr
    ran = cli("commit", "data")
    assert ran.exit_code == 5
    assert "data contains asset events (data/events)" in ran.stderr
    assert repo.catalog.asset_names() == []
    cli("commit", "data", "--name", "raw", "--allow-overlap", ok=True)
    assert repo.catalog.asset_names() == ["raw"]


def test_output_paths_of_a_run_resolve_too(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"d/a.txt": "1"})
    repo.commit(["d"], name="things")
    ran = cli("run", "-o", "d", "--", "true", ok=True)
    assert "things@v1 (unchanged)" in ran.output
    assert repo.catalog.asset_names() == ["things"]


def test_commands_take_the_path_for_the_name(repo: Repo, cli: Cli, monkeypatch) -> None:
    _contract(repo)
    _good(repo)
    cli("commit", "data/events", ok=True)
    write_tree(repo.root, {"data/events/part.csv": "id\n1\n2\n3\n4\n"})
    cli("commit", "data/events", ok=True)
    assert "events: modified" not in cli("status", "data/events", ok=True).stdout
    assert "events: clean at events@v2" in cli("status", "./data/events/", ok=True).stdout
    log = cli("log", "data/events", ok=True).stdout
    assert "events@v1" in log and "events@v2" in log
    assert "events@v1" in cli("show", "data/events@v1", ok=True).stdout
    assert "part.csv" in cli("ls", "data/events@v1", ok=True).stdout
    cli("tag", "data/events@v1", "gold", ok=True)
    assert repo.resolve("events@gold").number == 1
    cli("hold", "data/events@v1", "--reason", "audit", ok=True)
    cli("release", "data/events@v1", "--reason", "done", ok=True)
    cli("retention", "data/events", ok=True)
    assert "gold" in cli("tags", "data/events", ok=True).stdout
    cli("stale", "data/events", ok=True)
    assert "up to date" in cli("repro", "data/events", ok=True).stdout
    cli("lineage", "data/events", ok=True)
    monkeypatch.chdir(repo.root / "data/events")
    assert "events@v2" in cli("log", ".", ok=True).stdout
    assert repo.resolve(".").label == "events@v2"
    assert repo.resolve("part.csv@v1").label == "events@v1"
    cli("checkout", ".@v1", ok=True)
    assert (repo.root / "data/events/part.csv").read_text() == "id\n1\n2\n3\n"


def test_unknown_path_is_not_found(repo: Repo, cli: Cli) -> None:
    ran = cli("log", "nowhere/at/all")
    assert ran.exit_code == 3
    assert "unknown asset 'nowhere/at/all'" in ran.stderr


def test_overlapping_assets_resolve_to_the_deepest(repo: Repo, tmp_path: Path) -> None:
    write_tree(repo.root, {"data/a.txt": "1", "data/events/b.txt": "2"})
    repo.commit(["data/events"], name="events")
    repo.commit(["data"], name="raw", overlap=True)
    assert repo.resolve("data/events/b.txt").asset == "events"
    assert repo.resolve("data/a.txt").asset == "raw"
    assert repo.resolve("data").asset == "raw"


def test_several_paths_of_one_asset(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"t/a.csv": "1", "t/b.csv": "2", "t/c.csv": "3"})
    repo.commit(["t/a.csv", "t/b.csv"], name="pair")
    write_tree(repo.root, {"t/a.csv": "10"})
    assert "pair@v2" in cli("commit", "t/a.csv", "t/b.csv", ok=True).stdout
    ran = cli("commit", "t/a.csv", "t/c.csv")
    assert ran.exit_code == 5 and "belong to asset pair and some to none" in ran.stderr
    cli("commit", "t/a.csv", "t/c.csv", "--name", "pair", ok=True)
