"""Verbs that act on a version refuse an expired one (exit 5) with a hint."""

from __future__ import annotations

import pytest

from dvlin import Repo
from dvlin.errors import ConflictError
from dvlin.ops import gc
from dvlin.ops.refs import ExpiredVersionError
from tests.conftest import Cli, write_tree


@pytest.fixture
def expired(repo: Repo) -> Repo:
    """d@v1 expired by gc; d@v2 kept; a model m@v1 (also expired) and m@v2."""
    from dvlin.ops.model import register

    for i in range(2):
        write_tree(repo.root, {"d/a.txt": str(i), "models/m.pt": f"w{i}"})
        repo.commit(["d"], name="d")
        register(repo, ["models/m.pt"], name="m", trained_on=[f"d@v{i + 1}"])
    (repo.root / "dvlin.toml").write_text("[retention]\nkeep_last = 1\n")
    assert {v.label for v in gc.apply(repo).versions} == {"d@v1", "m@v1"}
    return repo


@pytest.mark.parametrize(
    "args",
    [
        ("tag", "d@v1", "gold"),
        ("hold", "d@v1", "--reason", "audit"),
        ("link", "--from", "d@v1", "--to", "d@v2"),
        ("link", "--from", "d@v2", "--to", "m@v1"),
        ("model", "stage", "m@v1", "production"),
        ("model", "register", "models/m.pt", "--name", "m", "--trained-on", "d@v1"),
        ("run", "-i", "d@v1", "--", "true"),
    ],
)
def test_expired_versions_are_refused(expired: Repo, cli: Cli, args: tuple[str, ...]) -> None:
    before = expired.catalog.conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    r = cli(*args)
    assert r.exit_code == 5, r.output
    assert "expired on" in r.stderr and "cannot" in r.stderr and "hint:" in r.stderr
    after = expired.catalog.conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    assert after == before  # nothing was recorded


def test_the_api_raises_a_conflict(expired: Repo) -> None:
    with pytest.raises(ExpiredVersionError) as err:
        expired.tag("d@v1", "gold")
    assert isinstance(err.value, ConflictError)
    assert expired.catalog.tags("d") == []


def test_kept_versions_and_archiving_still_work(expired: Repo, cli: Cli) -> None:
    cli("tag", "d@v2", "gold", ok=True)
    cli("hold", "d@v2", "--reason", "audit", ok=True)
    cli("model", "stage", "m@v1", "archived", ok=True)  # filing away an expired model is fine
    assert "d@v1 (expired)" in cli("log", "d", ok=True).stdout  # metadata stays readable
