"""VersionInfo: the typed ``info`` of a version, parsed at the catalog and stored byte for byte.

Version ids and audit digests hash the stored JSON, so reading a row and writing it back (as
rebase does) must give the very same text.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dvlin import Repo
from dvlin.catalog.versions import Override, VersionInfo
from dvlin.ops.commit import commit
from tests.conftest import write_tree

_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
_json = st.recursive(
    _scalars,
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3)
    ),
    max_leaves=8,
)
_override = st.fixed_dictionaries(
    {"reason": st.text(), "author": st.text(), "at": st.text(), "failed": st.integers(0, 9)},
    optional={"extra": _json},
)
_info = st.fixed_dictionaries(
    {},
    optional={
        "files": st.dictionaries(st.text(max_size=6), st.dictionaries(st.text(max_size=4), _json)),
        "checks": st.lists(st.dictionaries(st.text(max_size=4), _json), max_size=3),
        "override": _override,
        "code": st.dictionaries(st.text(max_size=4), _json),
        "follow_links": st.booleans(),
        "future_key": _json,
        "code ": _json,
    },
)


@given(_info | st.dictionaries(st.sampled_from(["files", "checks", "override", "code"]), _json))
def test_any_info_round_trips_to_the_same_text(info: dict[str, Any]) -> None:
    text = json.dumps(info, sort_keys=True)
    assert VersionInfo.from_json(text).to_json() == text


def test_fields_are_typed() -> None:
    info = VersionInfo.from_json(
        json.dumps(
            {
                "files": {"a.csv": {"rows": 2}},
                "checks": [{"rule": "r", "passed": False}],
                "override": {"reason": "known", "author": "A", "at": "2026", "failed": 1},
                "follow_links": True,
            }
        )
    )
    assert info.files == {"a.csv": {"rows": 2}}
    assert info.checks == ({"rule": "r", "passed": False},)
    assert info.override == Override(reason="known", author="A", at="2026", failed=1)
    assert info.follow_links and info.code is None
    empty = VersionInfo.from_json("{}")
    assert empty.files == {} and empty.checks == () and empty.override is None
    assert not empty.follow_links and empty.to_json() == "{}"


def test_a_committed_row_is_written_back_unchanged(repo: Repo, tmp_path: Path) -> None:
    write_tree(repo.root, {"data/a.csv": "id,x\n1,2\n", "data/b.bin": b"\x00"})
    v = commit(repo, [repo.root / "data"], name="data").version
    db = repo.root / ".dvlin" / "catalog.db"
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT * FROM versions WHERE id = ?", (v.id,)).fetchone()
    read = repo.catalog.version(v.id)
    assert read is not None and "a.csv" in read.info.files
    copy = dataclasses.replace(read, id="f" * 32, number=99)
    with repo.catalog.transaction():
        repo.catalog.insert_version(copy)  # as rebase writes a version it read
    with sqlite3.connect(db) as conn:
        after = conn.execute("SELECT * FROM versions WHERE id = ?", (copy.id,)).fetchone()
    names = [d[1] for d in sqlite3.connect(db).execute("PRAGMA table_info(versions)")]
    differ = [n for n, b, a in zip(names, before, after, strict=True) if b != a]
    assert differ == ["id", "number"]
