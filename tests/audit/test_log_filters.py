"""``audit log`` filters: dates are parsed (with offsets), bad values are usage errors."""

from __future__ import annotations

import json

import pytest

from dvlin import Repo
from dvlin.audit.log import append, entries, parse_since
from dvlin.errors import UsageError
from tests.conftest import Cli, write_tree


@pytest.fixture
def dated(repo: Repo) -> Repo:
    """Three entries at known instants (gc entries describe no record, so any time will do)."""
    with repo.catalog.transaction():
        for i, at in enumerate(
            ("2026-02-28T23:00:00.000000Z", "2026-03-01T11:30:00.000000Z", "2026-03-02T00:00:00Z")
        ):
            append(repo.catalog, action="gc", target=f"plan-{i}", at=at)
    return repo


def _seqs(cli: Cli, *args: str) -> list[int]:
    r = cli("audit", "log", "--json", *args, ok=True)
    return [e["seq"] for e in json.loads(r.stdout)]


def test_dates_and_times_are_compared_as_instants(dated: Repo, cli: Cli) -> None:
    assert _seqs(cli, "--since", "2026-03-01") == [2, 3]
    assert _seqs(cli, "--since", "2026-03-01T12:00:00") == [3]  # UTC without an offset
    # 12:00 at +01:00 is 11:00 UTC: the 11:30 UTC entry is after it
    assert _seqs(cli, "--since", "2026-03-01T12:00:00+01:00") == [2, 3]
    assert _seqs(cli, "--since", "2026-03-01T06:30-05:00") == [2, 3]  # 11:30 UTC, inclusive
    assert _seqs(cli, "--since", "2026-03-01T06:31-05:00") == [3]
    assert _seqs(cli, "--since", "2026-03-02T00:00:00.000001Z") == []  # precision is honoured
    assert _seqs(cli, "--since", "2026-03-02T00:00:00Z") == [3]


@pytest.mark.parametrize("bad", ["zzz", "2026-13-45", "2026", "2026-03", "yesterday", ""])
def test_a_bad_date_is_a_usage_error(dated: Repo, cli: Cli, bad: str) -> None:
    r = cli("audit", "log", "--since", bad)
    assert r.exit_code == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert lines[0] == f"error: --since {bad!r} is not a date or time"
    assert lines[1].startswith("hint: use YYYY-MM-DD") and len(lines) == 2
    with pytest.raises(UsageError):
        parse_since(bad)


def test_an_unknown_action_lists_the_valid_ones(dated: Repo, cli: Cli) -> None:
    r = cli("audit", "log", "--action", "bogus")
    assert r.exit_code == 2
    assert "error: unknown action 'bogus'" in r.stderr
    assert "hint: one of: commit, tag, contract-override" in r.stderr
    with pytest.raises(UsageError):
        entries(dated.catalog, action="bogus")
    assert _seqs(cli, "--action", "gc") == [1, 2, 3]


def test_an_unknown_asset_is_not_found(dated: Repo, cli: Cli) -> None:
    write_tree(dated.root, {"d/a.txt": "1"})
    dated.commit(["d"], name="d")
    assert [
        e["target"] for e in json.loads(cli("audit", "log", "--asset", "d", "--json").stdout)
    ] == ["d@v1"]
    r = cli("audit", "log", "--asset", "nope")
    assert r.exit_code == 3 and "unknown asset 'nope'" in r.stderr
