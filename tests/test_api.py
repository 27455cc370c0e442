"""dvlin.Repo: the public class, the core Repo with the verbs as typed methods."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dvlin
import dvlin.repo
from dvlin.ops import checkout, commit, log, refs, status, tag

VERBS: dict[str, Callable[..., Any]] = {
    "commit": commit.commit,
    "status": status.status,
    "checkout": checkout.checkout,
    "log": log.log,
    "resolve": refs.resolve,
    "show": log.show,
    "files": log.files,
    "tag": tag.tag,
}


def test_init_and_open_return_the_public_class(tmp_path: Path) -> None:
    created = dvlin.Repo.init(tmp_path / "project")
    assert type(created) is dvlin.Repo
    assert isinstance(created, dvlin.repo.Repo)
    with dvlin.Repo.open(tmp_path / "project") as opened:
        assert type(opened) is dvlin.Repo
        assert opened.root == created.root
    created.close()


def test_the_verbs_work_from_the_public_class(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_bytes(b"one\n")
    with dvlin.Repo.init(tmp_path) as repo:
        result = repo.commit([tmp_path / "data"], name="data", message="first")
        assert result.version.label == "data@v1"
        assert repo.status().clean
        assert [v.label for v in repo.log("data")] == ["data@v1"]
        assert repo.resolve("data@v1").id == result.version.id
        assert repo.show("data@v1").version.id == result.version.id
        assert [f.path for f in repo.files("data@v1")] == ["a.txt"]
        assert repo.tag("data@v1", "gold").name == "gold"
        (tmp_path / "data" / "a.txt").write_bytes(b"two\n")
        repo.checkout("data@gold", force=True)
        assert (tmp_path / "data" / "a.txt").read_bytes() == b"one\n"


def test_the_core_repo_has_no_verbs() -> None:
    for verb in VERBS:
        assert not hasattr(dvlin.repo.Repo, verb), verb


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_each_verb_takes_what_its_op_takes(verb: str) -> None:
    method = inspect.signature(getattr(dvlin.Repo, verb))
    op = inspect.signature(VERBS[verb])
    assert all(p.kind is not p.VAR_KEYWORD for p in method.parameters.values())
    mine = [(p.name, p.kind, p.default) for p in list(method.parameters.values())[1:]]
    theirs = [(p.name, p.kind, p.default) for p in list(op.parameters.values())[1:]]
    assert mine == theirs
