"""What a push sends: the records a remote lacks, by storage group, and the refs it swaps in."""

from __future__ import annotations

from typing import Any

from dvlin.remote.plan import next_refs, push_plan, split_by_group
from dvlin.remote.refs import Head, Refs
from dvlin.remote.segments import KINDS


def _held(**kinds: dict[str, str | None]) -> dict[str, dict[str, str | None]]:
    """What the remote holds, per record kind (as push reads it: every kind present)."""
    return {kind: dict(kinds.get(kind, {})) for kind in KINDS}


def _local() -> dict[str, dict[str, dict[str, Any]]]:
    v1 = {"id": "v1", "asset": "ev", "number": 1}
    v2 = {"id": "v2", "asset": "ev", "number": 2}
    p1 = {"id": "p1", "asset": "pii", "number": 1}
    return {
        "asset": {"ev": {"name": "ev"}, "pii": {"name": "pii"}},
        "version": {"v1": v1, "v2": v2, "p1": p1},
        "tag": {"ev|gold": {"asset": "ev", "name": "gold", "version": "v2"}},
        "stage": {},
        "hold": {"v1|t0": {"version": "v1", "created_at": "t0"}},
        "release": {
            "v2|t1": {"version": "v2", "created_at": "t1"},
            "v1|t9": {"version": "v1", "created_at": "t9"},
        },
        "expiry": {},
        "edge": {},
        "run": {},
        "audit": {"c:1": {"clone": "c", "seq": 1, "hash": "h1"}},
    }


def test_the_plan_holds_what_the_remote_lacks_and_only_releases_of_holds_it_has() -> None:
    held = _held(version={"v1": "ev|1"}, asset={"ev": None}, hold={"v2|t1": None})
    plan = push_plan(held, _local(), None)
    assert [r["id"] for r in plan["version"]] == ["v2", "p1"]  # by asset, then number
    assert [r["name"] for r in plan["asset"]] == ["pii"]
    assert plan["hold"] == [{"version": "v1", "created_at": "t0"}]
    # v1|t9 was never pushed as a hold: its release stays home.
    assert plan["release"] == [{"version": "v2", "created_at": "t1"}]
    held["release"] = {"v2|t1": None}
    assert "release" not in push_plan(held, _local(), None)


def test_a_subset_push_sends_only_the_chosen_versions_and_their_records() -> None:
    plan = push_plan(_held(), _local(), {"v1"})
    assert [r["id"] for r in plan["version"]] == ["v1"]
    assert "tag" not in plan  # ev@gold names v2, which stays home
    assert plan["hold"] == [{"version": "v1", "created_at": "t0"}]


def test_records_split_by_storage_group_and_audit_stays_shared() -> None:
    local = _local()
    plan = push_plan(_held(), local, None)
    parts = split_by_group(plan, {"pii": "pii"}, local["version"])
    assert {r["id"] for r in parts["pii"]["version"]} == {"p1"}
    assert {r["id"] for r in parts[None]["version"]} == {"v1", "v2"}
    assert "audit" not in parts["pii"] and len(parts[None]["audit"]) == 1


def test_next_refs_moves_heads_forward_and_keeps_the_rest() -> None:
    old = Refs("xxh3-128", {"ev": Head("v1", 1)}, ("s0",), {"other": (4, "h4")}, {})
    plan = push_plan(_held(version={"v1": "ev|1"}), _local(), None)
    new = next_refs("xxh3-128", old, plan, ["s1"], "c", {"pii": "pii"}, chunker="fastcdc-2020")
    assert new.heads == {"ev": Head("v2", 2), "pii": Head("p1", 1)}
    assert new.segments == ("s0", "s1")
    assert new.clones == {"other": (4, "h4"), "c": (1, "h1")}
    assert new.groups == {"pii": "pii"}
    # The remote recorded no chunker (an older dvlin made it): the pushing repo's is recorded,
    # and once recorded it stays whoever pushes next.
    assert new.chunker == "fastcdc-2020"
    again = next_refs("xxh3-128", new, plan, ["s2"], "c", {}, chunker="fastcdc-2016")
    assert again.chunker == "fastcdc-2020"
    assert next_refs("xxh3-128", None, plan, [], "c", {}, chunker="fastcdc-2016").chunker == (
        "fastcdc-2016"
    )
