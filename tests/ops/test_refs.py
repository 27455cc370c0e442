"""Ref resolution: a version id, or a prefix of one, typed by the user."""

from __future__ import annotations

import pytest

from dvlin import Repo
from dvlin.errors import ExitCode, NotFoundError
from dvlin.ops.refs import resolve
from tests.conftest import Cli, write_tree


@pytest.fixture
def two(repo: Repo) -> Repo:
    write_tree(repo.root, {"d/f.txt": "one"})
    repo.commit(["d"], name="d")
    write_tree(repo.root, {"d/f.txt": "two"})
    repo.commit(["d"], name="d")
    return repo


def test_a_whole_id_a_prefix_and_upper_case_name_the_version(two: Repo) -> None:
    v1 = two.resolve("d@v1")
    assert resolve(two, v1.id).label == "d@v1"
    assert resolve(two, v1.id.upper()).label == "d@v1"
    assert resolve(two, f"  {v1.id[:8]} ").label == "d@v1"


@pytest.mark.parametrize(
    "text",
    [
        "0" * 32,  # a whole id that no version has
        "0" * 8,
    ],
)
def test_an_unknown_id_is_not_found(two: Repo, text: str) -> None:
    with pytest.raises(NotFoundError) as caught:
        resolve(two, text)
    assert caught.value.message == f"no version id starts with {text!r}"


def test_hex_longer_than_any_version_id_is_not_found(two: Repo, cli: Cli) -> None:
    text = two.resolve("d@v1").id + "0"  # starts like a real id, but is too long for one
    with pytest.raises(NotFoundError) as caught:
        resolve(two, text)
    assert caught.value.message == f"no version id starts with {text!r}"
    ran = cli("show", text)
    assert ran.exit_code == ExitCode.NOT_FOUND
    assert f"error: no version id starts with {text!r}" in ran.stderr
