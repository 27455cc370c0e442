"""``dvlin config``: validated like a load, did-you-mean on unknown keys, every change audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.audit.log import entries, verify
from dvlin.config import load_config
from dvlin.errors import UsageError
from dvlin.ops.config import get_config, list_config, set_config
from tests.conftest import Cli


def _config_entries(repo: Repo) -> list[tuple[str, dict[str, object]]]:
    return [(e.target, e.details) for e in entries(repo.catalog, action="config-set")]


def test_set_changes_the_file_and_writes_an_audit_entry(repo: Repo) -> None:
    change = set_config(repo, "storage.fsync", "false")
    assert (change.old, change.new, change.changed) == (True, False, True)
    assert load_config(repo.dvlin_dir / "config.toml").fsync is False
    assert get_config(repo, "storage.fsync").value is False
    assert _config_entries(repo) == [("storage.fsync", {"old": True, "new": False})]
    assert verify(repo.catalog).ok
    # Setting the same value again changes nothing and is not audited.
    assert set_config(repo, "storage.fsync", "no").changed is False
    assert len(_config_entries(repo)) == 1
    # The file keeps its header comment and its other keys.
    text = (repo.dvlin_dir / "config.toml").read_text()
    assert text.startswith("# dvlin repository settings")
    assert load_config(repo.dvlin_dir / "config.toml").repo_id == repo.config.repo_id


def test_unknown_keys_get_a_suggestion(repo: Repo) -> None:
    with pytest.raises(UsageError, match="unknown config key 'storage.fsnyc'") as err:
        set_config(repo, "storage.fsnyc", "true")
    assert err.value.hint == "did you mean 'storage.fsync'?"
    with pytest.raises(UsageError, match="unknown config key") as err:
        get_config(repo, "storge.url")
    assert err.value.hint == "did you mean 'storage.url'?"
    assert _config_entries(repo) == []


def test_values_are_validated_before_the_file_changes(repo: Repo) -> None:
    before = (repo.dvlin_dir / "config.toml").read_bytes()
    with pytest.raises(UsageError, match="storage.fsync takes true or false"):
        set_config(repo, "storage.fsync", "maybe")
    with pytest.raises(UsageError, match="core.hash cannot change after init"):
        set_config(repo, "core.hash", "sha256")
    for url in (
        "s3://me:secret@bucket/x",
        "s3://AKIAEXAMPLE@bucket/x",
        "s3://bucket/x?secret=abc",
        "s3://bucket/x?aws_secret_access_key=abc",
        "gs://bucket/x?token=abc",
        "https://host/x?sv=1&sig=abc",
        "https://host/x?X-Amz-Signature=abc",
    ):
        with pytest.raises(UsageError, match="the storage URL") as err:
            set_config(repo, "storage.url", url)
        assert "abc" not in err.value.message and "secret@" not in err.value.message
    with pytest.raises(UsageError, match="cannot open storage"):
        set_config(repo, "storage.url", "nosuchproto://x")
    assert (repo.dvlin_dir / "config.toml").read_bytes() == before
    assert _config_entries(repo) == []
    assert not [p for p in repo.dvlin_dir.iterdir() if p.name.startswith(".config")]


def test_list_shows_defaults(repo: Repo) -> None:
    rows = {r.key: r for r in list_config(repo)}
    assert rows["core.hash"].value == "xxh3-128" and rows["core.hash"].is_set
    assert rows["storage.fsync"].value is True


def test_cli(repo: Repo, cli: Cli) -> None:
    assert cli("config", "get", "core.hash", ok=True).stdout == "xxh3-128\n"
    assert (
        "storage.fsync: true -> false"
        in cli("config", "set", "storage.fsync", "false", ok=True).stdout
    )
    data = json.loads(cli("config", "list", "--json", ok=True).stdout)
    assert {"key": "storage.fsync", "value": False, "set": True} in data
    bad = cli("config", "set", "storage.fsnyc", "true")
    assert bad.exit_code == 2
    assert "unknown config key 'storage.fsnyc'" in bad.stderr
    assert "did you mean 'storage.fsync'?" in bad.stderr
    log = json.loads(cli("audit", "log", "--action", "config-set", "--json", ok=True).stdout)
    assert [e["target"] for e in log] == ["storage.fsync"]


def test_init_never_writes_a_credential_into_the_config(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "new"
    target.mkdir()
    monkeypatch.chdir(target)
    r = cli("init", "--storage", "s3://me:secret@bucket/x")
    assert r.exit_code == 2 and "the storage URL holds a user or password" in r.stderr
    assert "secret" not in r.output
    assert not (target / ".dvlin").exists()


def test_moving_the_store_away_from_its_versions_is_refused(repo: Repo, tmp_path: Path) -> None:
    import shutil

    from dvlin.errors import ConflictError

    (repo.root / "d").mkdir()
    (repo.root / "d" / "a.txt").write_text("a\n")
    repo.commit(["d"], message="first")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(ConflictError, match="1 version would lose its objects") as err:
        set_config(repo, "storage.url", f"file://{elsewhere}")
    assert "nothing was changed" in (err.value.hint or "")
    assert load_config(repo.dvlin_dir / "config.toml").storage == ""
    assert _config_entries(repo) == []
    # Once the objects are copied there, the move is allowed (and audited).
    shutil.copytree(repo.dvlin_dir / "objects", elsewhere, dirs_exist_ok=True)
    assert set_config(repo, "storage.url", f"file://{elsewhere}").changed
    assert load_config(repo.dvlin_dir / "config.toml").storage == f"file://{elsewhere}"
