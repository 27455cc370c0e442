"""CommitRequest: a commit's arguments, validated once before any work."""

from __future__ import annotations

import dataclasses

import pytest

from dvlin import Repo
from dvlin.errors import NotFoundError, UsageError
from dvlin.ops.commit import commit, prepare
from dvlin.ops.commit_request import CommitRequest, Layout
from tests.conftest import write_tree


def test_parse_works_out_layout_and_name(repo: Repo) -> None:
    write_tree(repo.root, {"data/events/a.csv": "x\n1\n", "data/b.csv": "y\n2\n"})
    one = CommitRequest.parse(repo, ["data/events"], tags=["v"], meta={"k": "v"})
    assert one.layout == Layout("data/events", (".",)) and one.name == "data/events"
    assert one.tags == ("v",) and one.meta == {"k": "v"}
    two = CommitRequest.parse(repo, ["data/events", "data/b.csv"], name="both")
    assert two.layout == Layout("data", ("b.csv", "events")) and two.name == "both"
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.name = "other"  # type: ignore[misc]


def test_a_path_an_asset_owns_is_that_asset(repo: Repo) -> None:
    write_tree(repo.root, {"data/events/a.csv": "x\n1\n"})
    commit(repo, ["data/events"], name="events")
    assert CommitRequest.parse(repo, ["data/events"]).name == "events"


@pytest.mark.parametrize(
    ("paths", "options", "error", "text"),
    [
        ([], {}, UsageError, "nothing to commit"),
        (["missing"], {}, NotFoundError, "missing does not exist"),
        (["data"], {"tags": ["t", "t"]}, UsageError, "tag 't' is given more than once"),
        (["data"], {"kind": "no such kind"}, UsageError, "kind"),
        (["data", "data/a.csv"], {"name": "x"}, UsageError, "data/a.csv is inside data"),
        (["data"], {"name": ""}, UsageError, "invalid asset name ''"),  # --name "": not none
    ],
)
def test_bad_arguments_fail_before_any_work(
    repo: Repo, paths: list[str], options: dict[str, object], error: type, text: str
) -> None:
    write_tree(repo.root, {"data/a.csv": "x\n1\n"})
    with pytest.raises(error, match=text):
        CommitRequest.parse(repo, paths, **options)  # type: ignore[arg-type]
    assert repo.catalog.versions() == []


def test_prepare_takes_the_request_as_it_is(repo: Repo) -> None:
    write_tree(repo.root, {"data/a.csv": "x\n1\n"})
    request = CommitRequest.parse(repo, ["data"], name="d", message="m", meta={"k": "v"})
    with repo.lock():
        prepared = prepare(repo, request)
    assert prepared.version is not None
    assert (prepared.version.asset, prepared.version.message) == ("d", "m")
    assert prepared.version.meta == {"k": "v"}
