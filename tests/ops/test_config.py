"""``dvlin config``: validated like a load, did-you-mean on unknown keys, every change audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.audit.log import entries, verify
from dvlin.config import load_config
from dvlin.errors import UsageError
from dvlin.ops.config import ConfigValue, get_config, list_config, set_config
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


def _cuts(chunker: str, data: bytes) -> list[int]:
    """Chunk sizes of one pass of ``chunker``'s own package over ``data``."""
    from dvlin.objects.bigfile import CHUNK_AVG, CHUNK_MAX, CHUNK_MIN

    if chunker == "fastcdc-2016":
        from fastcdc import fastcdc

        return [c.length for c in fastcdc(data, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX)]
    from pyfastcdc import FastCDC

    return [
        c.length for c in FastCDC(CHUNK_AVG, min_size=CHUNK_MIN, max_size=CHUNK_MAX).cut_buf(data)
    ]


def _chunk_sizes(repo: Repo, label: str) -> list[int]:
    from dvlin.ops.manifests import load_manifest

    version = repo.resolve(label)
    [entry] = [e for e in load_manifest(repo, version).entries() if e.chunks]
    return [c.size for c in entry.chunks or ()]


def test_a_new_repo_records_fastcdc_2020_and_cuts_with_it(repo: Repo) -> None:
    import random

    assert repo.config.chunker == "fastcdc-2020"
    assert 'chunker = "fastcdc-2020"' in (repo.dvlin_dir / "config.toml").read_text()
    assert get_config(repo, "core.chunker").value == "fastcdc-2020"
    data = random.Random(3).randbytes(20 << 20)
    (repo.root / "big.bin").write_bytes(data)
    repo.commit(["big.bin"], name="big")
    assert _chunk_sizes(repo, "big") == _cuts("fastcdc-2020", data)


def test_a_repo_made_before_chunkers_were_recorded_keeps_cutting_as_it_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An older dvlin wrote no core.chunker: the repo's big files were cut by fastcdc (2016),
    # and a new version of one must share its unchanged chunks with them.
    import random

    old = Repo.init(tmp_path / "old")
    path = old.dvlin_dir / "config.toml"
    path.write_text(path.read_text().replace('chunker = "fastcdc-2020"\n', ""))
    old.close()
    monkeypatch.chdir(tmp_path / "old")
    repo = Repo.open(".")
    assert repo.config.chunker == "fastcdc-2016"
    assert get_config(repo, "core.chunker") == ConfigValue("core.chunker", "fastcdc-2016", False)
    data = bytearray(random.Random(4).randbytes(24 << 20))
    (repo.root / "big.bin").write_bytes(data)
    repo.commit(["big.bin"], name="big")
    assert _chunk_sizes(repo, "big") == _cuts("fastcdc-2016", bytes(data))
    data[12 << 20 : (12 << 20) + 4096] = bytes(4096)
    (repo.root / "big.bin").write_bytes(data)
    second = repo.commit(["big.bin"], name="big")
    assert _chunk_sizes(repo, "big@v2") == _cuts("fastcdc-2016", bytes(data))
    assert second.new_bytes < 10 << 20  # shared with v1: a few chunks are new
    repo.close()


def test_the_chunker_may_be_set_to_a_known_one_only(repo: Repo, cli: Cli) -> None:
    before = (repo.dvlin_dir / "config.toml").read_bytes()
    for bad in ("rabin", "", "FASTCDC-2020"):
        with pytest.raises(UsageError) as err:
            set_config(repo, "core.chunker", bad)
        assert err.value.message == f"core.chunker {bad!r} is not supported"
        assert err.value.hint == "one of fastcdc-2016, fastcdc-2020"
    assert (repo.dvlin_dir / "config.toml").read_bytes() == before
    change = set_config(repo, "core.chunker", "fastcdc-2016")
    assert (change.old, change.new) == ("fastcdc-2020", "fastcdc-2016")
    assert _config_entries(repo)[-1] == (
        "core.chunker",
        {"old": "fastcdc-2020", "new": "fastcdc-2016"},
    )
    # A config edited by hand to name an unknown chunker is refused by every command.
    path = repo.dvlin_dir / "config.toml"
    path.write_text(path.read_text().replace('"fastcdc-2016"', '"fastcdc-1999"'))
    ran = cli("status")
    assert ran.exit_code == 2
    assert "core.chunker 'fastcdc-1999' is not supported" in ran.stderr
    assert "hint: one of fastcdc-2016, fastcdc-2020" in ran.stderr


def test_init_refuses_an_unknown_chunker(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="core.chunker 'fastcdc' is not supported"):
        Repo.init(tmp_path / "r", chunker="fastcdc")
    assert not (tmp_path / "r" / ".dvlin").exists()
