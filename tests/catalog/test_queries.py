"""The catalog's queries: versions, tags, objects, stat-cache and workspace rows."""

from __future__ import annotations

import pytest

from dvlin import Repo
from dvlin.catalog.catalog import Catalog, Version
from dvlin.catalog.versions import VersionInfo
from dvlin.objects.hashing import StatRow
from dvlin.objects.store import StoredObject


def version(
    asset: str, number: int, vid: str, *, at: str = "", parent: str | None = None
) -> Version:
    return Version(
        id=vid,
        asset=asset,
        number=number,
        parent=parent,
        tree="t" * 32,
        manifest="m" * 32,
        author="A <a@example.org>",
        created_at=at or f"2026-01-0{number}T00:00:00Z",
        message=f"{asset} {number}",
        meta={"k": "v"},
        files=number,
        bytes=100 * number,
        base="data",
        roots=(".",),
        info=VersionInfo.from_dict({"files": {"a.csv": {"rows": number}}}),
    )


@pytest.fixture
def cat(repo: Repo) -> Catalog:
    """A catalog with events v1..v3 and model v1."""
    c = repo.catalog
    with c.transaction():
        for name in ("events", "model"):
            c.upsert_asset(name, kind="dataset", base="data", roots=["."], created_at="2026")
        c.insert_version(version("events", 1, "aa11" + "0" * 28))
        c.insert_version(version("events", 2, "aa22" + "0" * 28, parent="aa11" + "0" * 28))
        c.insert_version(version("events", 3, "bb33" + "0" * 28, parent="aa22" + "0" * 28))
        c.insert_version(version("model", 1, "cc44" + "0" * 28, at="2026-01-09T00:00:00Z"))
    return c


def test_a_version_reads_back_as_it_was_written(cat: Catalog) -> None:
    v = cat.version("aa22" + "0" * 28)
    assert v == version("events", 2, "aa22" + "0" * 28, parent="aa11" + "0" * 28)
    assert v is not None and v.label == "events@v2"
    assert cat.version("ff" * 16) is None


def test_latest_and_by_number(cat: Catalog) -> None:
    latest = cat.latest_version("events")
    assert latest is not None and latest.number == 3
    by_number = cat.version_by_number("events", 1)
    assert by_number is not None and by_number.id.startswith("aa11")
    assert cat.version_by_number("events", 9) is None and cat.latest_version("nope") is None


def test_versions_newest_first_of_one_asset_or_all(cat: Catalog) -> None:
    assert [v.label for v in cat.versions("events")] == ["events@v3", "events@v2", "events@v1"]
    assert [v.label for v in cat.versions(limit=2)] == ["model@v1", "events@v3"]
    assert cat.versions("nope") == []


def test_versions_by_id_prefix(cat: Catalog) -> None:
    assert [v.label for v in cat.versions_with_prefix("aa")] == ["events@v1", "events@v2"]
    assert [v.label for v in cat.versions_with_prefix("bb3")] == ["events@v3"]
    assert len(cat.versions_with_prefix("aa", limit=1)) == 1
    assert cat.versions_with_prefix("ab") == []


def test_assets_with_their_newest_version(cat: Catalog) -> None:
    assert cat.asset_names() == ["events", "model"]
    assert cat.get_asset_kind("events") == "dataset" and cat.get_asset_kind("nope") is None
    events = cat.list_assets()[0]
    assert (events.name, events.latest, events.files, events.bytes) == ("events", 3, 3, 300)


def test_tags(cat: Catalog) -> None:
    with cat.transaction():
        cat.insert_tag("events", "prod", "aa22" + "0" * 28, created_at="2026", author="A")
        cat.insert_tag("events", "best", "aa22" + "0" * 28, created_at="2026", author="A")
        cat.insert_tag("model", "prod", "cc44" + "0" * 28, created_at="2026", author="A")
    assert [(t.asset, t.name, t.number) for t in cat.tags()] == [
        ("events", "best", 2),
        ("events", "prod", 2),
        ("model", "prod", 1),
    ]
    assert [t.name for t in cat.tags("model")] == ["prod"]
    tag = cat.tag("events", "prod")
    assert tag is not None and tag.version.startswith("aa22")
    assert cat.tag("events", "nope") is None
    assert cat.tags_of("aa22" + "0" * 28) == ["best", "prod"]


def test_objects_loose_and_packed_and_who_uses_them(cat: Catalog) -> None:
    pack, blob, loose = "p" * 32, "b" * 32, "l" * 32
    with cat.transaction():
        cat.add_objects(
            [
                StoredObject(pack, 30, None, None),
                StoredObject(blob, 10, pack, 20),
                StoredObject(loose, 5, None, None),
            ]
        )
        cat.add_objects([StoredObject(loose, 999, None, None)])  # known already: ignored
        cat.link_version_objects("aa11" + "0" * 28, [pack])
        cat.link_version_objects("cc44" + "0" * 28, [pack, loose])
    assert cat.find_object(blob) == StoredObject(blob, 10, pack, 20)
    assert cat.find_object(loose) == StoredObject(loose, 5, None, None)
    assert cat.find_object("x" * 32) is None
    assert set(cat.find_objects([pack, loose, "x" * 32])) == {pack, loose}
    assert cat.versions_using(blob) == ["events@v1", "model@v1"]  # through its pack
    assert cat.versions_using(loose) == ["model@v1"]


def test_find_objects_takes_more_oids_than_one_statement_may(cat: Catalog) -> None:
    oids = [f"{i:032x}" for i in range(1200)]
    with cat.transaction():
        cat.add_objects(StoredObject(o, 1, None, None) for o in oids)
    assert len(cat.find_objects(oids)) == 1200


def test_stat_cache_rows_by_prefix(cat: Catalog) -> None:
    with cat.transaction():
        cat.put_stat_rows(
            [
                ("data/a", StatRow(1, 2, 3, "o" * 32)),
                ("data/sub/b", StatRow(4, 5, 6, "p" * 32)),
                ("database/c", StatRow(7, 8, 9, "q" * 32)),
                ("data", StatRow(0, 0, 0, "r" * 32)),
            ]
        )
        cat.put_stat_rows([("data/a", StatRow(10, 20, 30, "s" * 32))])  # refreshed
    assert cat.stat_rows("data") == {
        "data": (0, 0, 0, "r" * 32),
        "data/a": (10, 20, 30, "s" * 32),
        "data/sub/b": (4, 5, 6, "p" * 32),
    }
    assert len(cat.stat_rows("")) == 4


def test_workspace_rows(cat: Catalog) -> None:
    assert cat.workspace_version("events") is None
    with cat.transaction():
        cat.set_workspace_version("events", "aa11" + "0" * 28, updated_at="2026")
        cat.set_workspace_version("events", "bb33" + "0" * 28, updated_at="2027")
    assert cat.workspace_version("events") == "bb33" + "0" * 28


def test_a_query_left_midway_closes_quietly_after_the_catalog_closed() -> None:
    """Ctrl-C inside a batched query leaves its generator suspended; the repo closes the
    catalog on the way out, and the generator is finalised later: that must not print
    "Exception ignored ... Cannot operate on a closed database" under "interrupted"."""
    import sqlite3
    import sys

    from dvlin.catalog.db import select_in

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (v INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(2000)])
    rows = select_in(conn, "SELECT v FROM t WHERE v IN ({marks})", range(2000), batch=500)
    assert next(rows) == (0,)
    conn.close()
    unraisable: list[object] = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        rows.close()  # what the garbage collector does to the left generator
    finally:
        sys.unraisablehook = hook
    assert unraisable == []
