"""Storage groups: an asset's objects and records under its own prefix, for access control."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Cli, snapshot, write_tree
from tests.remote.conftest import RemoteSpec, remote_fs


@pytest.mark.parametrize("remote", ["file", "s3"], indirect=True)
def test_a_clone_refused_a_group_still_gets_everything_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    from dvlin.remote.transport import Transport

    a = tmp_path / "a"
    a.mkdir()
    monkeypatch.chdir(a)
    cli("init", ok=True)
    (a / "dvlin.toml").write_text('[assets.people]\nstorage_group = "pii"\n')
    same = b"the same bytes in both assets\n"
    write_tree(a, {"data/people/p.csv": "name\nada\n", "data/people/s.txt": same})
    write_tree(a, {"data/events/e.csv": "id\n1\n", "data/events/s.txt": same})
    cli("commit", "data/people", "--name", "people", ok=True)
    cli("commit", "data/events", "--name", "events", ok=True)
    cli("tag", "people@v1", "q4", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    cli("push", ok=True)

    fs, root = remote_fs(remote)
    grouped = [p for p in fs.find(root) if "/groups/pii/" in p]
    assert any("/groups/pii/packs/" in p for p in grouped)
    assert any("/groups/pii/segments/" in p for p in grouped)
    # No dedup across groups: the shared file is stored under both prefixes.
    assert any("/packs/" in p and "/groups/" not in p for p in fs.find(root))

    # B may not read groups/pii/ (a bucket policy would refuse it): it clones the rest.
    original = Transport.get

    def refused(self: Transport, rel: str) -> bytes | None:
        if rel.startswith("groups/pii/"):

            def deny() -> bytes:
                raise PermissionError(13, "Permission denied")

            return self._call(rel, deny)
        return original(self, rel)

    monkeypatch.setattr(Transport, "get", refused)
    b = tmp_path / "b"
    ran = cli("clone", remote.url, str(b), *remote.flags, ok=True)
    assert "no access: storage group pii (groups/pii/ refused)" in ran.stdout
    assert snapshot(b / "data/events") == snapshot(a / "data/events")
    assert not (b / "data/people").exists()
    monkeypatch.chdir(b)
    assert cli("checkout", "people").exit_code == 3
    fetched = json.loads(cli("fetch", "--json", ok=True).stdout)
    assert fetched["no_access"] == {"pii": "groups/pii/"}
    shown = json.loads(cli("remote", "show", "--json", ok=True).stdout)
    assert shown["no_access"] == {"pii": "groups/pii/"}
    assert shown["heads"] == {"events": 1, "people": 1}
    # B's own pushes still work and leave the group alone.
    write_tree(b, {"data/events/f.csv": "id\n2\n"})
    cli("commit", "data/events", "--name", "events", ok=True)
    cli("push", ok=True)

    # With access again (another clone), the group comes back whole.
    monkeypatch.setattr(Transport, "get", original)
    c = tmp_path / "c"
    cli("clone", remote.url, str(c), *remote.flags, ok=True)
    assert snapshot(c / "data/people") == snapshot(a / "data/people")
    monkeypatch.chdir(c)
    assert json.loads(cli("show", "people@q4", "--json", ok=True).stdout)["number"] == 1
    assert json.loads(cli("show", "events", "--json", ok=True).stdout)["number"] == 2


@pytest.mark.parametrize("remote", ["file", "s3"], indirect=True)
def test_a_group_can_live_in_another_bucket(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
    remote: RemoteSpec,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    if remote.kind == "s3":
        from tests.remote.conftest import make_bucket

        group_url = f"s3://{make_bucket(remote.options['endpoint_url'])}/pii"
    else:
        group_url = (tmp_path_factory.mktemp("pii-store") / "pii").as_uri()
    a = tmp_path / "a"
    a.mkdir()
    monkeypatch.chdir(a)
    cli("init", ok=True)
    (a / "dvlin.toml").write_text('[assets.people]\nstorage_group = "pii"\n')
    write_tree(a, {"data/people/p.csv": "name\nada\n", "data/events/e.csv": "id\n1\n"})
    cli("commit", "data/people", "--name", "people", ok=True)
    cli("commit", "data/events", "--name", "events", ok=True)
    cli(
        "remote", "add", "origin", remote.url, *remote.flags, "--group", f"pii={group_url}", ok=True
    )
    cli("push", ok=True)

    fs, root = remote_fs(remote)
    assert not [p for p in fs.find(root) if "/groups/" in p]  # nothing of pii in the main store
    group = RemoteSpec(remote.kind, group_url, remote.options)
    gfs, groot = remote_fs(group)
    assert any("/packs/" in p for p in gfs.find(groot))
    assert any("/segments/" in p for p in gfs.find(groot))

    # A clone learns where the group lives from the remote itself.
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, ok=True)
    assert snapshot(b / "data/people") == snapshot(a / "data/people")
    monkeypatch.chdir(b)
    assert json.loads(cli("fsck", "--remote", "origin", "--json", ok=True).stdout)["ok"]
    assert (
        json.loads(cli("gc", "--remote", "origin", "--grace", "0s", "--json").stdout)["files"] == 0
    )
