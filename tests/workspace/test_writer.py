"""Writer: files appear whole or not at all, and every copy made in a link mode is counted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.objects.files import write_and_publish
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


def test_new_files_are_written_under_a_temporary_name(
    mixed: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    opened: list[str] = []

    def spy(fd: int, tmp: str, final: str, *args: object, **kwargs: object) -> None:
        opened.append(os.path.basename(tmp))
        write_and_publish(fd, tmp, final, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("dvlin.workspace.materialize.write_and_publish", spy)
    Writer(mixed.store, str(out), link="copy").write_all(_entries(mixed), lambda e: None)
    assert len(opened) == 4 and all(pending.is_temporary_name(n) for n in opened)


def test_remove_never_creates_folders(tmp_path: Path) -> None:
    from dvlin.workspace.materialize import remove

    gone = [Entry("a/b/c.txt", "file", 0o644, 1, "0" * 32), Entry("a/b", "dir", 0o755, 0, None)]
    assert remove(str(tmp_path), gone) == 0
    assert os.listdir(tmp_path) == []
