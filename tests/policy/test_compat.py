"""Every cell of the compatibility table in docs/policy.md, plus transitive modes end to end."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from dvlin import Repo
from dvlin.ops.check import check
from dvlin.policy.compat import Column, check_compatibility, widens
from tests.policy.conftest import write_policy, write_table


def cols(*spec: tuple[str, pa.DataType, bool]) -> dict[str, Column]:
    return {n: Column(n, t, nullable) for n, t, nullable in spec}


I32, I64, STR = pa.int32(), pa.int64(), pa.string()
BASE = cols(("id", I64, False), ("note", STR, True), ("n", I32, False), ("m", I32, True))

# change → (old, new, backward ok, forward ok); full = both. The same rows as docs/policy.md.
TABLE = {
    "no change": (BASE, BASE, True, True),
    "add a nullable column": (BASE, {**BASE, **cols(("x", STR, True))}, True, True),
    "add a non-null column": (BASE, {**BASE, **cols(("x", STR, False))}, False, True),
    "drop a nullable column": (BASE, {k: v for k, v in BASE.items() if k != "note"}, True, True),
    "drop a non-null column": (BASE, {k: v for k, v in BASE.items() if k != "id"}, True, False),
    "widen a type": (BASE, {**BASE, **cols(("n", I64, False))}, True, False),
    "narrow a type": (BASE, {**BASE, **cols(("id", I32, False))}, False, True),
    "change a type": (BASE, {**BASE, **cols(("n", STR, False))}, False, False),
    "make a column nullable": (BASE, {**BASE, **cols(("id", I64, True))}, True, False),
    "make a column non-null": (BASE, {**BASE, **cols(("note", STR, False))}, False, True),
    "rename a nullable column": (
        BASE,
        {**{k: v for k, v in BASE.items() if k != "note"}, **cols(("comment", STR, True))},
        True,
        True,
    ),
    "rename a non-null column": (
        BASE,
        {**{k: v for k, v in BASE.items() if k != "id"}, **cols(("key", I64, False))},
        False,
        False,
    ),
}


@pytest.mark.parametrize("mode", ["backward", "forward", "full", "none"])
@pytest.mark.parametrize("change", sorted(TABLE))
def test_every_cell(change: str, mode: str) -> None:
    old, new, backward, forward = TABLE[change]
    expected = {
        "backward": backward,
        "forward": forward,
        "full": backward and forward,
        "none": True,
    }[mode]
    results = check_compatibility(mode, new, [("t@v1", old)])
    assert all(r.passed for r in results) is expected
    if mode != "none":
        (r,) = results
        assert r.expected == f"{mode} vs t@v1"
        assert (r.found == "compatible") is expected


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (pa.int8(), pa.int16()),
        (pa.int16(), pa.int32()),
        (pa.int8(), pa.int64()),
        (pa.uint8(), pa.uint32()),
        (pa.uint16(), pa.int32()),
        (pa.float32(), pa.float64()),
        (pa.decimal128(10, 2), pa.decimal128(12, 2)),
        (pa.decimal128(10, 2), pa.decimal256(40, 4)),
        (pa.date32(), pa.timestamp("us")),
        (pa.string(), pa.large_string()),
        (pa.binary(), pa.large_binary()),
    ],
)
def test_widenings(old: pa.DataType, new: pa.DataType) -> None:
    assert widens(old, new) and not widens(new, old)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (pa.int64(), pa.float64()),
        (pa.string(), pa.int64()),
        (pa.uint64(), pa.int64()),
        (pa.decimal128(10, 2), pa.decimal128(10, 3)),
        (pa.timestamp("ms"), pa.timestamp("us")),
    ],
)
def test_unrelated_types_do_not_widen(a: pa.DataType, b: pa.DataType) -> None:
    assert not widens(a, b) and not widens(b, a)


def test_messages_say_what_changed() -> None:
    old, new, *_ = TABLE["drop a non-null column"]
    (r,) = check_compatibility("forward", new, [("events@v4", old)])
    assert r.found == "column 'id' (not null) removed"
    old, new, *_ = TABLE["widen a type"]
    (r,) = check_compatibility("full", new, [("events@v4", old)])
    assert r.found == "column 'n' widened from int32 to int64"


# v1 has x: int64, v2 drops it, the workspace brings x back as a string. Only the transitive
# modes see the clash with v1.
@pytest.mark.parametrize(
    ("mode", "ok"),
    [
        ("backward", True),
        ("backward_transitive", False),
        ("forward", True),
        ("forward_transitive", False),
        ("full", True),
        ("full_transitive", False),
    ],
)
def test_transitive_modes_against_committed_versions(repo: Repo, mode: str, ok: bool) -> None:
    data = repo.root / "data/t/part"
    write_table(data, {"id": [1], "x": pa.array([1], pa.int64())})
    repo.commit(["data/t"], name="t")
    write_table(data, {"id": [1]})
    repo.commit(["data/t"], name="t")
    write_table(data, {"id": [1], "x": ["one"]})
    write_policy(repo.root, f'[assets.t]\ncompatibility = "{mode}"\n')
    (a,) = check(repo).assets
    compat = [r for r in a.results if r.rule == "compatibility"]
    assert len(compat) == (2 if mode.endswith("_transitive") else 1)
    assert a.passed is ok
    if not ok:
        (bad,) = [r for r in compat if not r.passed]
        assert bad.expected.endswith("vs t@v1") and "'x'" in bad.found


def test_first_version_has_nothing_to_compare(repo: Repo, tmp_path: Path) -> None:
    write_table(repo.root / "data/t/part", {"id": [1]})
    write_policy(repo.root, '[assets.t]\npath = "data/t"\ncompatibility = "full_transitive"\n')
    (a,) = check(repo).assets
    assert a.passed and a.results[0].found == "no earlier version to compare"
