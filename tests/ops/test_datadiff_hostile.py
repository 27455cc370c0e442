"""``dvlin diff`` of big versions reads only the columns it compares, and still refuses a
hostile manifest (exit 4) before comparing anything."""

from __future__ import annotations

import json

import pytest

from dvlin import Repo
from dvlin.objects import manifest_io
from dvlin.objects.manifest import Entry
from tests.conftest import Cli, forge_version, write_tree

OID = "1" * 32
ROWS = manifest_io.PARTIAL_FROM + 10  # big enough for the partial read


def _forge(repo: Repo, entries: list[Entry]) -> str:
    return f"d@v{forge_version(repo, entries).number}"


def _big(extra: list[Entry]) -> list[Entry]:
    return [Entry(f"f{i:05d}", "file", 0o644, 1, OID) for i in range(ROWS)] + extra


@pytest.mark.parametrize(
    "bad",
    [
        [Entry("../escaped", "file", 0o644, 1, OID)],
        [Entry("f00001", "file", 0o644, 2, "2" * 32)],  # the path twice
        [Entry("z", "file", 0o644, 1, "Z" * 32)],
        [Entry("l", "link", 0o777, 0, None, "x"), Entry("l/under", "file", 0o644, 1, OID)],
    ],
    ids=["escape", "twice", "bad-oid", "under-link"],
)
def test_a_hostile_big_manifest_is_refused_with_exit_4(
    repo: Repo, cli: Cli, bad: list[Entry]
) -> None:
    write_tree(repo.root, {"d/a.txt": "ok"})
    repo.commit(["d"], name="d")
    good = _forge(repo, _big([]))
    hostile = _forge(repo, _big(bad))
    for args in (
        ("diff", good, hostile),
        ("diff", hostile, good),
        ("diff", hostile, good, "--json"),
        ("ls", hostile),
        ("ls", hostile, "--json"),
    ):
        ran = cli(*args)
        assert ran.exit_code == 4, ran.output
        assert "manifest" in ran.stderr


def test_ls_of_a_big_version_reads_the_listed_columns_only(repo: Repo, cli: Cli) -> None:
    from dvlin.ops.log import files, listing

    write_tree(repo.root, {"d/a.txt": "ok"})
    repo.commit(["d"], name="d")
    packed = [e._replace(pack="f" * 32, offset=i) for i, e in enumerate(_big([]))]
    ref = _forge(repo, [*packed, Entry("l", "link", 0o777, 0, None, "f00001")])
    assert listing(repo, ref).partial
    listed = json.loads(cli("ls", ref, "--json", ok=True).stdout)
    assert listed == [row.to_dict() for row in files(repo, ref)]
    assert len(listed) == ROWS + 1


def test_a_diff_of_big_versions_lists_only_what_changed(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"d/a.txt": "ok"})
    repo.commit(["d"], name="d")
    old = _big([Entry("gone", "file", 0o644, 3, OID)])
    new = [e if e.path != "f00007" else e._replace(oid="2" * 32, size=5) for e in old[:-1]]
    new.append(Entry("new", "file", 0o644, 4, OID))
    a, b = _forge(repo, old), _forge(repo, new)
    ran = cli("diff", a, b, ok=True)
    assert ran.stdout.splitlines()[1:] == [
        "files: +1 −1 ~1",
        "  ~ f00007 (1 B → 5 B)",
        "  − gone (3 B)",
        "  + new (4 B)",
    ]
