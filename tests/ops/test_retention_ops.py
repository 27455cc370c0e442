"""dvlin retention / hold / release / tag --retain, against a real catalog and dvlin.toml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.audit.log import entries, verify
from dvlin.errors import ConflictError, NotFoundError, UsageError
from dvlin.ops.retention import hold, release, retention
from tests.conftest import Cli, write_tree


def _versions(repo: Repo, n: int) -> None:
    for i in range(n):
        write_tree(repo.root, {"d/a.txt": str(i)})
        repo.commit(["d"], name="d")


def _policy(repo: Repo, text: str) -> None:
    (repo.root / "dvlin.toml").write_text(text)


def _kept(repo: Repo) -> list[str]:
    return [r.version.label for r in retention(repo).rows if r.decision.kept]


def test_without_rules_nothing_expires(repo: Repo) -> None:
    _versions(repo, 3)
    assert sorted(_kept(repo)) == ["d@v1", "d@v2", "d@v3"]
    assert {r.decision.reasons for r in retention(repo).rows} == {("no retention policy",)}


def test_repo_defaults_and_asset_overrides(repo: Repo) -> None:
    _versions(repo, 4)
    _policy(repo, "[retention]\nkeep_last = 2\n")
    assert sorted(_kept(repo)) == ["d@v3", "d@v4"]
    _policy(
        repo,
        '[retention]\nkeep_last = 2\n[assets.d]\npath = "d"\n[assets.d.retention]\nkeep_last = 3\n',
    )
    assert sorted(_kept(repo)) == ["d@v2", "d@v3", "d@v4"]
    _policy(
        repo,
        '[retention]\nkeep_last = 1\n[assets.d]\npath = "d"\n'
        "[assets.d.retention]\nlegal_hold = true\n",
    )
    assert sorted(_kept(repo)) == ["d@v1", "d@v2", "d@v3", "d@v4"]


def test_holds_are_audited_and_keep_versions(repo: Repo) -> None:
    _versions(repo, 3)
    _policy(repo, "[retention]\nkeep_last = 1\n")
    with pytest.raises(UsageError):
        hold(repo, "d@v1", reason=" ")
    hold(repo, "d@v1", reason="litigation L-17")
    with pytest.raises(ConflictError):
        hold(repo, "d@v1", reason="again")
    assert sorted(_kept(repo)) == ["d@v1", "d@v3"]
    release(repo, "d@v1", reason="case closed")
    with pytest.raises(NotFoundError):
        release(repo, "d@v1", reason="twice")
    assert _kept(repo) == ["d@v3"]
    got = [
        (e.action, e.target, e.reason)
        for e in entries(repo.catalog)
        if e.action in ("hold", "release")
    ]
    assert got == [("hold", "d@v1", "litigation L-17"), ("release", "d@v1", "case closed")]
    assert verify(repo.catalog).ok


def test_tag_retain_limits_keep_tagged(repo: Repo) -> None:
    _versions(repo, 3)
    _policy(repo, "[retention]\nkeep_last = 1\nkeep_tagged = true\n")
    repo.tag("d@v1", "forever")
    repo.tag("d@v2", "brief", retain="1s")
    with pytest.raises(UsageError):
        repo.tag("d@v2", "bad", retain="soon")
    import time

    later = time.time() + 2  # the "brief" tag has run out (instead of sleeping past it)
    rows = {r.version.label: r.decision for r in retention(repo, now=later).rows}
    assert rows["d@v1"].kept and rows["d@v1"].reasons == ("tagged forever",)
    assert not rows["d@v2"].kept


def test_a_malformed_retention_table_is_exit_2(repo: Repo, cli: Cli) -> None:
    _versions(repo, 1)
    _policy(repo, "[retention]\nkeep_last = 0\n")
    r = cli("retention")
    assert r.exit_code == 2 and "retention.keep_last" in r.stderr


def test_cli(repo: Repo, cli: Cli) -> None:
    _versions(repo, 3)
    _policy(repo, "[retention]\nkeep_last = 1\n")
    assert "held d@v2: audit" in cli("hold", "d@v2", "--reason", "audit", ok=True).stdout
    doc = json.loads(cli("retention", "--json", ok=True).stdout)
    assert doc["expiring"] == 1
    assert [v["version"] for v in doc["versions"] if not v["kept"]] == ["d@v1"]
    text = cli("retention", "d", ok=True).stdout
    assert "EXPIRING  d@v1" in text and "hold" in text and "1 version expiring" in text
    assert "released d@v2" in cli("release", "d@v2", "--reason", "done", ok=True).stdout
    assert "tagged d@v3 as d@keep" in cli("tag", "d@v3", "keep", "--retain", "180d", ok=True).stdout
    assert cli("hold", "d@v1").exit_code == 2  # --reason is required
    assert cli("retention", "nope").exit_code == 3


def test_models_protect_their_training_data(repo: Repo, tmp_path: Path) -> None:
    from dvlin.ops.model import register

    _versions(repo, 3)
    write_tree(repo.root, {"models/m.pt": "w"})
    register(repo, ["models/m.pt"], name="m", trained_on=["d@v1"])
    _policy(repo, "[retention]\nkeep_last = 1\n")
    rows = {r.version.label: r.decision for r in retention(repo).rows}
    assert rows["d@v1"].kept and "upstream of a kept model" in rows["d@v1"].reasons
    assert not rows["d@v2"].kept and rows["m@v1"].kept
