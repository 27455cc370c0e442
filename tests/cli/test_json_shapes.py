"""The --json shapes the results' to_dict produce (they were built in the CLI before)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, write_tree


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli) -> Path:
    root = tmp_path / "repo"
    monkeypatch.chdir(tmp_path)
    made = _json(cli, "init", "repo")
    assert set(made) == {"root", "storage", "hash", "repo_id", "chunker"}
    assert (made["root"], made["storage"], made["hash"], made["chunker"]) == (
        str(root),
        ".dvlin/objects",
        "xxh3-128",
        "fastcdc-2020",
    )
    monkeypatch.chdir(root)
    write_tree(root, {"d/a.txt": "a\n", "m/model.bin": b"weights"})
    cli("commit", "d", "-m", "first", ok=True)
    return root


def _json(cli: Cli, *args: str) -> Any:
    return json.loads(cli(*args, "--json", ok=True).stdout)


def test_tag_tags_and_tag_delete(work: Path, cli: Cli) -> None:
    made = _json(cli, "tag", "d@v1", "gold")
    assert list(made) == ["asset", "tag", "version", "version_id", "created_at", "author"]
    assert (made["asset"], made["tag"], made["version"]) == ("d", "gold", "v1")
    assert _json(cli, "tags") == [made]
    gone = _json(cli, "tag", "--delete", "d", "gold")
    assert gone == {
        "asset": "d",
        "tag": "gold",
        "version": "v1",
        "version_id": made["version_id"],
        "deleted": True,
    }


def test_hold_and_release(work: Path, cli: Cli) -> None:
    held = _json(cli, "hold", "d@v1", "--reason", "audit")
    assert list(held) == ["version", "id", "reason", "author", "created_at"]
    assert (held["version"], held["reason"]) == ("d@v1", "audit")
    released = _json(cli, "release", "d", "--reason", "done")
    assert released == {"version": "d@v1", "id": held["id"], "released": True, "reason": "done"}


def test_log_ls_show_and_audit_head(work: Path, cli: Cli) -> None:
    (entry,) = _json(cli, "log")
    assert (entry["label"], entry["tags"], entry["run"], entry["expired_at"]) == (
        "d@v1",
        [],
        None,
        None,
    )
    (asset,) = _json(cli, "ls")
    assert asset == {
        "name": "d",
        "kind": "dataset",
        "path": "d",
        "latest": "v1",
        "latest_id": entry["id"],
        "files": 1,
        "bytes": 2,
        "owner": None,
    }
    shown = _json(cli, "show", "d")
    assert shown["id"] == entry["id"] and "lineage" in shown and "described" in shown
    head = _json(cli, "audit", "head")
    assert list(head) == ["head", "seq", "hash"]
    assert head["head"] == f"{head['seq']}:{head['hash']}"


def test_model_stage(work: Path, cli: Cli) -> None:
    cli("model", "register", "m/model.bin", "--name", "m", ok=True)
    staged = _json(cli, "model", "stage", "m", "production")
    assert list(staged) == ["version", "id", "stage", "author", "created_at"]
    assert (staged["version"], staged["stage"]) == ("m@v1", "production")
