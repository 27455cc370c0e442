"""Writer: files appear whole or not at all, and every copy made in a link mode is counted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.objects.manifest import Entry
from dvlin.workspace import pending
from dvlin.workspace.materialize import Writer
from tests.conftest import write_tree


def _entries(repo: Repo) -> list[Entry]:
    from dvlin.ops.manifests import load_entries

    latest = repo.catalog.latest_version("d")
    assert latest is not None
    return [e for e in load_entries(repo, latest).values() if e.type == "file"]


@pytest.fixture
def mixed(repo: Repo) -> Repo:
    """Two packed small files, one loose 200 KB file and one executable loose file."""
    write_tree(
        repo.root,
        {
            "d/s1.txt": "small",
            "d/s2.txt": "small too",
            "d/big.bin": os.urandom(200_000),
            "d/run.sh": ("exec", os.urandom(200_000)),
        },
    )
    repo.commit(["d"], name="d")
    return repo


@pytest.mark.parametrize("link", ["hardlink", "symlink", "reflink"])
def test_every_copy_in_a_link_mode_is_counted(mixed: Repo, tmp_path: Path, link: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    writer = Writer(mixed.store, str(out), link=link)  # type: ignore[arg-type]
    files = _entries(mixed)
    writer.write_all(files, lambda e: None)
    assert writer.fallbacks["packed"] == 2
    assert writer.fallbacks["executable"] == 1
    assert sum(writer.fallbacks.values()) >= 3  # big.bin too, where links cannot be made
    for e in files:
        assert (out / e.path).read_bytes() == mixed.store.get(e.pack or e.oid or "")[
            (e.offset or 0) : (e.offset or 0) + e.size
        ]


def test_copy_mode_counts_nothing(mixed: Repo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    writer = Writer(mixed.store, str(out), link="copy")
    writer.write_all(_entries(mixed), lambda e: None)
    assert not writer.fallbacks


def test_an_interrupted_write_leaves_nothing_under_the_real_name(
    mixed: Repo, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    writer = Writer(mixed.store, str(out), link="copy")
    files = _entries(mixed)

    def stop(e: Entry) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        writer.write_all(files, stop)
    names = os.listdir(out)
    assert len(names) == 1 and not any(pending.is_temporary_name(n) for n in names)
    written = next(e for e in files if e.path == names[0])
    assert (out / names[0]).stat().st_size == written.size


def _created_names(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spy on ``os.open``: the names of the files opened for creation."""
    created: list[str] = []
    real_open = os.open

    def spy(path: str, flags: int, *args: int, **kwargs: int) -> int:
        if flags & os.O_CREAT:
            created.append(os.path.basename(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    return created


def test_new_files_are_written_under_a_temporary_name(
    mixed: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    files = _entries(mixed)
    created = _created_names(monkeypatch)
    Writer(mixed.store, str(out), link="copy").write_all(files, lambda e: None)
    assert len(created) == 4 and all(pending.is_temporary_name(n) for n in created)
    assert sorted(os.listdir(out)) == sorted(e.path for e in files)


def test_files_in_a_folder_it_created_still_go_through_a_temporary_name(
    mixed: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new folder inside a visible target is seen at once: a killed writer must not leave a
    # short file under a file's name there either (only a staging folder is exempt).
    out = tmp_path / "out"
    out.mkdir()
    files = [e._replace(path=f"new/{e.path}") for e in _entries(mixed)]
    created = _created_names(monkeypatch)
    writer = Writer(mixed.store, str(out), link="copy", record=True)
    writer.write_all(files, lambda e: None)
    assert len(created) == len(files) and all(pending.is_temporary_name(n) for n in created)
    assert sorted(os.listdir(out / "new")) == sorted(e.path[4:] for e in files)
    for e, size, mtime_ns, inode in writer.written:
        st = os.lstat(out / e.path)
        assert (size, mtime_ns, inode) == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert len(writer.written) == len(files)


def test_a_fresh_root_writes_under_the_files_own_names(
    mixed: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    files = [e._replace(path=f"new/{e.path}") for e in _entries(mixed)]
    created = _created_names(monkeypatch)
    Writer(mixed.store, str(out), link="copy", fresh_root=True).write_all(files, lambda e: None)
    assert sorted(created) == sorted(e.path.rpartition("/")[2] for e in files)


def test_a_fresh_root_never_overwrites(mixed: Repo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    files = _entries(mixed)
    (out / files[0].path).write_bytes(b"appeared meanwhile")
    with pytest.raises(FileExistsError):
        Writer(mixed.store, str(out), link="copy", fresh_root=True).write_all(files, lambda e: None)
    assert (out / files[0].path).read_bytes() == b"appeared meanwhile"


def test_ctrl_c_in_a_fresh_folder_leaves_no_partial_file(
    mixed: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    files = [e for e in _entries(mixed) if e.path == "big.bin"]

    def interrupted(fd: int, data: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Writer(mixed.store, str(out), link="copy", fresh_root=True).write_all(files, lambda e: None)
    assert os.listdir(out) == []


def test_remove_never_creates_folders(tmp_path: Path) -> None:
    from dvlin.workspace.folders import remove

    gone = [Entry("a/b/c.txt", "file", 0o644, 1, "0" * 32), Entry("a/b", "dir", 0o755, 0, None)]
    assert remove(str(tmp_path), gone) == 0
    assert os.listdir(tmp_path) == []
