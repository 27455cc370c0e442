"""A checkout never writes into .dvlin, the store or above the repo, and removes only tracked paths."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.errors import ConflictError, IntegrityError, UsageError
from dvlin.objects.manifest import Entry
from dvlin.workspace import pending
from tests.conftest import Cli, snapshot, write_tree


def _digest_tree(root: Path) -> dict[str, str]:
    """Every file under root (``.dvlin`` included) with the hash of its bytes.

    The catalog's files are left out (SQLite checkpoints rewrite them); tests read its rows.
    """
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            full = Path(folder) / name
            if not full.is_symlink() and not name.startswith(("catalog.db", "lock")):
                found[full.relative_to(root).as_posix()] = hashlib.sha256(
                    full.read_bytes()
                ).hexdigest()
    return found


@pytest.fixture
def asset(repo: Repo) -> Repo:
    write_tree(repo.root, {"e/a.txt": "a", "e/sub/b.txt": "b"})
    repo.commit(["e"], name="e")
    return repo


@pytest.mark.parametrize("where", [".dvlin", ".dvlin/objects", ".dvlin/objects/new", ".", ".."])
@pytest.mark.parametrize("dry_run", [False, True])
def test_hostile_targets_are_refused(asset: Repo, cli: Cli, where: str, dry_run: bool) -> None:
    parent = asset.root.parent
    write_tree(parent, {".git/HEAD": "ref", "venv/bin/python": "#!", "other/x": "x"})
    before = {"repo": _digest_tree(asset.root), "parent": snapshot(parent)}
    args = ["checkout", "e", "--to", where, "--force"] + (["--dry-run"] if dry_run else [])
    ran = cli(*args)
    assert ran.exit_code == 2, ran.output
    assert "refusing to check out into" in ran.stderr and "hint:" in ran.stderr
    assert {"repo": _digest_tree(asset.root), "parent": snapshot(parent)} == before
    assert [v.label for v in asset.log("e")] == ["e@v1"]


def test_a_symlink_into_dvlin_is_refused(asset: Repo) -> None:
    os.symlink(asset.dvlin_dir / "objects", asset.root.parent / "sneaky")
    with pytest.raises(ConflictError, match="symlink"):
        asset.checkout("e", to=asset.root.parent / "sneaky", force=True)
    os.symlink(asset.dvlin_dir, asset.root.parent / "via")
    with pytest.raises(UsageError, match="inside the repo's .dvlin"):
        asset.checkout("e", to=asset.root.parent / "via" / "objects" / "x", force=True)


def test_the_external_store_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "store"
    repo = Repo.init(tmp_path / "work", storage=str(store))
    monkeypatch.chdir(repo.root)
    write_tree(repo.root, {"e/a.txt": "a"})
    repo.commit(["e"], name="e")
    before = _digest_tree(store)
    for where in (store, store.parent, next(p for p in store.iterdir() if p.is_dir())):
        with pytest.raises(UsageError, match="refusing to check out into"):
            repo.checkout("e", to=where, force=True)
        with pytest.raises(UsageError, match="refusing to check out into"):
            repo.checkout("e", to=where, force=True, dry_run=True)
    assert _digest_tree(store) == before
    repo.close()


def test_force_into_a_folder_with_planted_files_refuses(asset: Repo, cli: Cli) -> None:
    out = asset.root.parent / "out"
    write_tree(out, {"a.txt": "old", "sub/thesis.tex": "chapter 1", "notes": {}})
    before = snapshot(out)
    ran = cli("checkout", "e", "--to", str(out), "--force")
    assert ran.exit_code == 5, ran.output
    assert "sub/thesis.tex" in ran.stderr and "no version of e ever had" in ran.stderr
    assert snapshot(out) == before
    ran = cli("checkout", "e", "--to", str(out), "--force", "--dry-run")
    assert ran.exit_code == 5 and snapshot(out) == before


def test_force_into_a_folder_of_the_same_asset_works(asset: Repo) -> None:
    out = asset.root.parent / "out"
    asset.checkout("e", to=out)
    (out / "a.txt").write_text("edited")
    (out / "sub/b.txt").unlink()
    (out / "sub").rmdir()
    result = asset.checkout("e", to=out, force=True)
    assert result.discarded == ("a.txt",)
    assert snapshot(out) == snapshot(asset.root / "e")


def test_an_asset_of_the_whole_repo_checks_out_in_place(repo: Repo) -> None:
    write_tree(repo.root, {"a.txt": "1", "d/b.txt": "2"})
    repo.commit(["."], name="all")
    (repo.root / "a.txt").write_text("changed")
    repo.commit(["."], name="all")
    dvlin_before = _digest_tree(repo.dvlin_dir / "objects")
    repo.checkout("all@v1")
    assert (repo.root / "a.txt").read_text() == "1"
    assert _digest_tree(repo.dvlin_dir / "objects") == dvlin_before
    assert (repo.dvlin_dir / "catalog.db").exists()


@pytest.mark.parametrize("path", [".dvlin/config.toml", "x/.git/config", ".dvlin"])
def test_manifest_paths_through_dvlin_or_git_are_refused(repo: Repo, path: str) -> None:
    from dataclasses import replace

    from dvlin.objects.manifest import to_parquet

    write_tree(repo.root, {"a.txt": "1"})
    repo.commit(["."], name="all")
    oid = repo.store.put(b"[evil]\n")
    manifest = repo.store.put(to_parquet([Entry(path, "file", 0o644, 7, oid)]))
    latest = repo.catalog.latest_version("all")
    assert latest is not None
    forged = replace(latest, id="f" * 32, number=2, manifest=manifest)
    with repo.catalog.transaction():
        repo.catalog.insert_version(forged)
    config = (repo.dvlin_dir / "config.toml").read_bytes()
    with pytest.raises(IntegrityError, match="lies inside"):
        repo.checkout("all@v2", force=True)
    assert (repo.dvlin_dir / "config.toml").read_bytes() == config


def test_link_mode_reports_packed_files_it_copied(repo: Repo, cli: Cli) -> None:
    write_tree(
        repo.root, {"d/small1.txt": "s", "d/small2.txt": "t", "d/big.bin": os.urandom(200_000)}
    )
    repo.commit(["d"], name="d")
    out = repo.root.parent / "out"
    doc = json.loads(
        cli("checkout", "d", "--to", str(out), "--link", "reflink", "--json", ok=True).stdout
    )
    reasons = doc["link_fallback_reasons"]
    assert reasons["packed"] == 2
    assert doc["link_fallbacks"] == sum(reasons.values()) >= 2
    out2 = repo.root.parent / "out2"
    text = cli("checkout", "d", "--to", str(out2), "--link", "hardlink", ok=True).stdout
    assert "copied instead of linked" in text and "2 packed" in text
    plain = cli("checkout", "d", "--to", str(repo.root.parent / "o3"), ok=True).stdout
    assert "copied instead of linked" not in plain


_ODD = ["a b", "é", "e\u0301", "日本", "😀", "line\nbreak", ".hidden", "-", "~x"]


@pytest.mark.parametrize("in_place", [False, True])
def test_a_restore_of_many_odd_names_gives_back_every_byte_and_mode(
    repo: Repo, tmp_path: Path, in_place: bool
) -> None:
    # Enough packed files for the parallel writers and the plan's restore shortcut (no folder,
    # no synced version in a --to folder); empty, executable and linked entries among them.
    tree: dict[str, bytes] = {
        f"d/{_ODD[i % len(_ODD)]}{i % 7}/{_ODD[(i * 3) % len(_ODD)]}{i}": os.urandom(i % 50)
        for i in range(400)
    }
    write_tree(repo.root, tree)
    for i, rel in enumerate(sorted(tree)):
        if i % 11 == 0:
            os.chmod(repo.root / rel, 0o755)
    os.symlink("../" + sorted(tree)[0].split("/", 1)[1], repo.root / "d" / "é0" / "link")
    repo.commit(["d"], name="d")
    before = snapshot(repo.root / "d")
    out = repo.root / "d" if in_place else tmp_path / "restored"
    if in_place:
        import shutil

        shutil.rmtree(out)
    result = repo.checkout("d", to=None if in_place else out)
    assert snapshot(out) == before
    assert result.written == len(before) and result.removed == 0
    assert not [p for p in os.listdir(out.parent) if ".dvlin-" in p]  # no staging left


def test_a_checkout_leaves_the_cycle_collector_as_it_found_it(asset: Repo) -> None:
    # The collector is paused while the entries are built; it runs again afterwards, after a
    # failed checkout too, and a caller that had paused it keeps it paused.
    import gc

    out = asset.root.parent / "gc-out"
    asset.checkout("e", to=out)
    assert gc.isenabled()
    with pytest.raises(UsageError):
        asset.checkout("e", to=asset.root / ".dvlin" / "x")
    assert gc.isenabled()
    (out / "a.txt").write_text("edited")
    with pytest.raises(ConflictError):
        asset.checkout("e", to=out)  # the edit would be lost: refused inside the checkout
    assert gc.isenabled()
    gc.disable()
    try:
        asset.checkout("e", to=asset.root.parent / "gc-out-2")
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("depth", ["staging", "parents"])
def test_a_target_whose_folder_cannot_be_made_is_one_line_and_leaves_nothing(
    asset: Repo, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, depth: str
) -> None:
    """``--to`` under a folder this user may not write: one line naming that folder (exit 2),
    no pending checkout recorded, no folder of ours left behind."""
    locked = tmp_path / "locked"
    locked.mkdir()
    target = locked / "new" / "deeper" / "out" if depth == "parents" else locked / "out"
    refused = locked / "new" / "deeper" if depth == "parents" else locked
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.path.dirname(os.fspath(path)) == str(refused):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    ran = cli("checkout", "e", "--to", str(target))
    assert ran.exit_code == 2, ran.output
    assert ran.stderr.splitlines() == [
        f"error: cannot write in {refused}: permission denied",
        f"hint: check the permissions of {refused}",
    ]
    assert [p.name for p in locked.iterdir()] == []  # the parents it made are gone again
    assert pending.pending_checkouts(asset.dvlin_dir) == []
    assert cli("status").exit_code == 0
