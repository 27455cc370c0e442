"""Checkout never loses uncommitted work, never writes through links, refuses hostile manifests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.errors import ConflictError, IntegrityError, NotFoundError
from dvlin.objects.manifest import Entry, to_parquet
from tests.conftest import snapshot, write_tree


def _two_versions(repo: Repo) -> None:
    write_tree(repo.root, {"d/a.txt": "v1", "d/keep.txt": "k"})
    repo.commit(["d"], name="d")
    (repo.root / "d/a.txt").write_text("v2")
    repo.commit(["d"], name="d")


def test_uncommitted_changes_stop_the_checkout(repo: Repo) -> None:
    _two_versions(repo)
    (repo.root / "d/a.txt").write_text("local edit")
    before = snapshot(repo.root / "d")
    with pytest.raises(ConflictError) as err:
        repo.checkout("d@v1")
    assert set(err.value.paths) == {"a.txt"}
    assert snapshot(repo.root / "d") == before
    result = repo.checkout("d@v1", force=True)
    assert result.discarded == ("a.txt",)
    assert (repo.root / "d/a.txt").read_text() == "v1"


def test_force_never_removes_a_path_the_asset_never_tracked(repo: Repo) -> None:
    _two_versions(repo)
    write_tree(repo.root / "d", {"untracked.txt": "mine", "sub/thesis.tex": "years of work"})
    before = snapshot(repo.root / "d")
    for force in (False, True):
        with pytest.raises(ConflictError) as err:
            repo.checkout("d@v1", force=force)
        assert set(err.value.paths) == {"untracked.txt", "sub", "sub/thesis.tex"}
        assert "no version of d ever had" in err.value.message
    assert snapshot(repo.root / "d") == before


def test_force_removes_a_path_an_older_version_tracked(repo: Repo) -> None:
    write_tree(repo.root, {"d/a.txt": "1", "d/old.txt": "o"})
    repo.commit(["d"], name="d")
    (repo.root / "d/old.txt").unlink()
    repo.commit(["d"], name="d")
    (repo.root / "d/old.txt").write_text("back, edited")
    repo.checkout("d@v2", force=True)
    assert not (repo.root / "d/old.txt").exists()


def test_removal_only_under_the_asset_path(repo: Repo) -> None:
    write_tree(repo.root, {"d/a.txt": "1", "other/x.txt": "x", "d2.txt": "y"})
    repo.commit(["d"], name="d")
    repo.checkout("d")
    assert (repo.root / "other/x.txt").exists() and (repo.root / "d2.txt").exists()


def test_checkout_into_a_folder_with_other_files_is_a_conflict(repo: Repo) -> None:
    _two_versions(repo)
    out = repo.root.parent / "out"
    write_tree(out, {"a.txt": "someone else's"})
    with pytest.raises(ConflictError):
        repo.checkout("d@v1", to=out)
    assert (out / "a.txt").read_text() == "someone else's"


def _forge_version(repo: Repo, entries: list[Entry]) -> None:
    """Point a new version of asset d at a hand-made manifest (a hostile remote, say)."""
    from dataclasses import replace

    manifest = repo.store.put(to_parquet(entries))
    latest = repo.catalog.latest_version("d")
    assert latest is not None
    number = latest.number + 1
    forged = replace(latest, id=f"{number:x}".rjust(32, "f"), number=number, manifest=manifest)
    with repo.catalog.transaction():
        repo.catalog.insert_version(forged)


@pytest.mark.parametrize("bad", ["../escaped.txt", "/tmp/absolute.txt", "a/../../escaped.txt"])
def test_hostile_manifest_paths_are_refused_before_anything_is_written(
    repo: Repo, bad: str
) -> None:
    write_tree(repo.root, {"d/a.txt": "ok"})
    repo.commit(["d"], name="d")
    oid = repo.store.put(b"evil")
    _forge_version(
        repo, [Entry("zzz-first.txt", "file", 0o644, 4, oid), Entry(bad, "file", 0o644, 4, oid)]
    )
    out = repo.root.parent / "out"
    with pytest.raises(IntegrityError, match="not a safe relative path"):
        repo.checkout("d", to=out)
    assert not out.exists()
    assert not (repo.root.parent / "escaped.txt").exists()


def test_a_link_out_of_the_tree_in_a_manifest_is_written_as_a_link_only(repo: Repo) -> None:
    write_tree(repo.root, {"d/a.txt": "ok"})
    repo.commit(["d"], name="d")
    victim = repo.root.parent / "victim"
    victim.mkdir()
    oid = repo.store.put(b"evil")
    # A file under the link would be written through it: the manifest is refused whole.
    _forge_version(
        repo,
        [
            Entry("evil", "link", 0o777, target=str(victim)),
            Entry("evil/x.txt", "file", 0o644, 4, oid),
        ],
    )
    out = repo.root.parent / "out"
    with pytest.raises(IntegrityError, match="lies under the link"):
        repo.checkout("d", to=out)
    assert not out.exists() and list(victim.iterdir()) == []
    # The link alone is restored as a link, its target string exactly; nothing is followed.
    _forge_version(repo, [Entry("evil", "link", 0o777, target="../../../etc")])
    repo.checkout("d", to=out)
    assert os.readlink(out / "evil") == "../../../etc"


def test_folder_that_became_a_link_to_outside_is_not_written_through(repo: Repo) -> None:
    outside = repo.root.parent / "outside"
    outside.mkdir()
    write_tree(repo.root, {"d/sub/file.txt": "v1"})
    repo.commit(["d"], name="d")
    # Someone replaces the folder with a link to a folder outside the asset.
    import shutil

    shutil.rmtree(repo.root / "d/sub")
    os.symlink(outside, repo.root / "d/sub")
    # Untracked (not in any version): the checkout stops and nothing lands outside.
    with pytest.raises(ConflictError):
        repo.checkout("d@v1")
    assert list(outside.iterdir()) == []
    # With --force the link itself is replaced by the folder; still nothing written outside.
    repo.checkout("d@v1", force=True)
    assert not (repo.root / "d/sub").is_symlink()
    assert (repo.root / "d/sub/file.txt").read_text() == "v1"
    assert list(outside.iterdir()) == []


def test_tracked_unchanged_link_is_replaced_by_the_folder(repo: Repo) -> None:
    write_tree(repo.root, {"d/real/x.txt": "x", "d/sub/file.txt": "v1"})
    repo.commit(["d"], name="d")
    import shutil

    shutil.rmtree(repo.root / "d/sub")
    os.symlink("real", repo.root / "d/sub")  # a link inside the tree, committed as v2
    repo.commit(["d"], name="d")
    repo.checkout("d@v1")
    assert not (repo.root / "d/sub").is_symlink()
    assert (repo.root / "d/sub/file.txt").read_text() == "v1"
    assert (repo.root / "d/real/x.txt").read_text() == "x"
    assert sorted(os.listdir(repo.root / "d/real")) == ["x.txt"]


def test_corrupt_object_is_reported_with_the_versions_using_it(repo: Repo) -> None:
    write_tree(repo.root, {"d/a.txt": "precious"})
    repo.commit(["d"], name="d")
    found = repo.catalog.find_object(repo.store.put(b"x") and _oid_of(repo, "precious"))
    assert found is not None and found.pack is not None
    pack_path = Path(repo.store.path(found.pack))
    pack_path.chmod(0o644)
    data = bytearray(pack_path.read_bytes())
    data[found.offset or 0] ^= 0xFF
    pack_path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"corrupt.*used by d@v1"):
        repo.checkout("d", to=repo.root.parent / "out")
    assert not (repo.root.parent / "out" / "a.txt").exists()


def _oid_of(repo: Repo, text: str) -> str:
    from dvlin.objects.hashing import hash_bytes

    return hash_bytes(repo.config.hash, text.encode())


def test_link_modes_never_let_an_edit_corrupt_the_store(repo: Repo) -> None:
    big = os.urandom(200_000)  # over the pack threshold: a loose object, so it can be linked
    write_tree(repo.root, {"d/big.bin": big})
    repo.commit(["d"], name="d")
    for mode in ("hardlink", "symlink", "reflink"):
        out = repo.root.parent / f"out-{mode}"
        result = repo.checkout("d", to=out, link=mode)  # type: ignore[arg-type]
        assert (out / "big.bin").read_bytes() == big
        assert result.link == mode
        if os.geteuid() == 0 and mode != "reflink":
            assert result.link_fallbacks == 1  # root ignores read-only bits: it gets a copy
        try:
            with open(out / "big.bin", "r+b") as f:
                f.write(b"oops")
        except PermissionError:
            assert os.geteuid() != 0
        # Whatever happened to the workspace file, the store still has the committed bytes.
        again = repo.root.parent / f"again-{mode}"
        repo.checkout("d", to=again)
        assert (again / "big.bin").read_bytes() == big


def test_file_symlinked_into_the_store_counts_as_that_file(repo: Repo) -> None:
    # What `checkout --link symlink` leaves (made by hand here: root gets copies instead).
    data = os.urandom(200_000)
    write_tree(repo.root, {"d/big.bin": data})
    repo.commit(["d"], name="d")
    os.remove(repo.root / "d/big.bin")
    os.symlink(repo.store.path(_oid_of_bytes(repo, data)), repo.root / "d/big.bin")
    assert repo.status().clean
    assert not repo.commit(["d"], name="d").created


def _oid_of_bytes(repo: Repo, data: bytes) -> str:
    from dvlin.objects.hashing import hash_bytes

    return hash_bytes(repo.config.hash, data)


def test_unknown_path_in_version(repo: Repo) -> None:
    write_tree(repo.root, {"d/a.txt": "1"})
    repo.commit(["d"], name="d")
    with pytest.raises(NotFoundError):
        repo.checkout("d", ["nope"], to=repo.root.parent / "o")


def test_dry_run_previews_and_changes_nothing(repo: Repo) -> None:
    _two_versions(repo)
    (repo.root / "d/extra.txt").write_text("tracked by v3")
    repo.commit(["d"], name="d")
    (repo.root / "d/a.txt").write_text("local edit")
    before = snapshot(repo.root / "d")
    plan = repo.checkout("d@v1", dry_run=True)
    assert plan.dry_run
    assert plan.planned_writes == ("a.txt",)
    assert plan.planned_removals == ("extra.txt",)
    assert set(plan.discarded) == {"a.txt"}
    assert snapshot(repo.root / "d") == before
    done = repo.checkout("d@v1", force=True)
    assert set(done.discarded) == {"a.txt"}
    assert (repo.root / "d/a.txt").read_text() == "v1"
    assert not (repo.root / "d/extra.txt").exists()
