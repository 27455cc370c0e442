"""``dvlin policy show`` in the core: the effective policies, one or all."""

from __future__ import annotations

import pytest

from dvlin import Repo
from dvlin.errors import NotFoundError
from dvlin.ops.policy import show
from tests.policy.conftest import write_policy

POLICY = """
[assets.events]
path = "data/events"
compatibility = "backward"

[assets.docs.quality]
required_files = ["README.md"]
"""


def test_one_named_policy_is_one_document(repo: Repo) -> None:
    write_policy(repo.root, POLICY)
    shown = show(repo, "events")
    assert [p.name for p in shown.policies] == ["events"]
    assert shown.source is not None and shown.source.endswith("dvlin.toml")
    doc = shown.to_dict()
    assert doc["asset"] == "events" and doc["compatibility"] == "backward"


def test_every_policy_sorted_by_name_is_a_list(repo: Repo) -> None:
    write_policy(repo.root, POLICY)
    assert [d["asset"] for d in show(repo).to_dict()] == ["docs", "events"]


def test_no_dvlin_toml_shows_nothing(repo: Repo) -> None:
    shown = show(repo)
    assert shown.policies == () and shown.to_dict() == []


def test_an_asset_without_a_policy_is_not_found(repo: Repo) -> None:
    write_policy(repo.root, POLICY)
    with pytest.raises(NotFoundError, match="'nope' has no policy") as err:
        show(repo, "nope")
    assert list(err.value.candidates) == ["docs", "events"]
