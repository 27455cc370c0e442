"""The parallel writer of packed files materialises exactly what the sequential one does.

Random trees (odd names, empty files, executables, symlinks, empty folders, some files big
enough to be loose objects) are committed, then checked out with one writer and with several
(batches of three files, so every tree spans many batches), into new folders and in place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin import Repo
from dvlin.catalog import Version
from dvlin.errors import FileSystemError, IntegrityError
from dvlin.workspace import materialize
from tests.conftest import snapshot, write_tree

names = st.text(
    alphabet=st.characters(blacklist_characters="/\\\0", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=10,
).filter(lambda s: s not in (".", "..", ".dvlin", ".git"))
contents = st.one_of(
    st.binary(max_size=3000),
    st.just(b""),
    st.binary(max_size=64).map(lambda b: ("exec", b)),
    st.binary(min_size=1, max_size=8).map(lambda b: b * 20_000),  # a loose object
    st.just({}),
    st.sampled_from(["a", "../outside", "x/y", "ünï"]).map(lambda t: ("link", t)),
)
trees = st.dictionaries(
    st.lists(names, min_size=1, max_size=3).map(lambda parts: "/".join(parts)),
    contents,
    min_size=1,
    max_size=40,
)


def _placeable(tree: dict[str, object]) -> dict[str, object]:
    """Drop paths below a file, link or another path's leaf: what a folder can hold."""
    placed: dict[str, object] = {}
    for rel, value in sorted(tree.items()):
        parts = rel.split("/")
        above = ["/".join(parts[:i]) for i in range(1, len(parts))]
        if any(a in placed and placed[a] != {} for a in above):
            continue
        if any(p.startswith(rel + "/") for p in placed):
            continue
        placed[rel] = value
    return placed


def _commit_afresh(repo: Repo, work: Path, tree: dict[str, object]) -> Version:
    """Commit ``tree`` (made placeable) as asset ``prop`` from an emptied ``work`` folder."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    write_tree(work, _placeable(tree))
    return repo.commit(["prop"], name="prop").version


def _threads(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    monkeypatch.setattr(materialize, "WRITER_THREADS", n)
    monkeypatch.setattr(materialize, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(materialize, "_BATCH", 3)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=trees, other=trees)
def test_parallel_checkout_matches_the_sequential_one_property(
    repo: Repo, tree: dict[str, object], other: dict[str, object]
) -> None:
    work = repo.root / "prop"
    first = _commit_afresh(repo, work, tree)
    expected = snapshot(work)
    second = _commit_afresh(repo, work, other)

    outs = {}
    with pytest.MonkeyPatch.context() as mp:
        for n in (1, 2, 3):
            _threads(mp, n)
            out = repo.root.parent / f"out-{first.id[:8]}-{n}"
            shutil.rmtree(out, ignore_errors=True)
            repo.checkout(first.id, to=out)
            outs[n] = snapshot(out)
            # In place, over the other version: temporary names renamed over existing paths.
            repo.checkout(second.id, force=True)
            repo.checkout(first.id, force=True)
            assert snapshot(work) == expected, n
            assert repo.status().clean
            shutil.rmtree(out)
    assert outs[1] == outs[2] == outs[3] == expected


def _from_table(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    """Every restore into a new folder through ``Writer.write_table``, in small pieces."""
    from dvlin.ops import checkout

    _threads(monkeypatch, threads)
    monkeypatch.setattr(checkout, "RESTORE_FROM_TABLE", 0)
    monkeypatch.setattr(materialize, "_ROWS", 2)
    monkeypatch.setattr(materialize, "_DROP_EVERY", 1)  # a mapped pack's pages dropped often


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=trees, other=trees)
def test_a_restore_from_the_table_matches_one_from_entries_property(
    repo: Repo, tree: dict[str, object], other: dict[str, object]
) -> None:
    work = repo.root / "prop"
    first = _commit_afresh(repo, work, tree)
    # The second version keeps the first's packed blobs and packs new ones under "m": its
    # rows interleave packs, so the writers' lanes are reordered by pack.
    shutil.rmtree(work / "m", ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (work / "m").unlink()
    (work / "m").mkdir()
    write_tree(work / "m", _placeable(other))
    second = repo.commit(["prop"], name="prop").version
    expected = snapshot(work)
    for version in (first, second):
        out = repo.root.parent / f"out-{version.id[:8]}"
        shutil.rmtree(out, ignore_errors=True)
        reference = repo.checkout(version.id, to=out)
        wanted = snapshot(out)
        shutil.rmtree(out)
        for n in (1, 2, 3):
            with pytest.MonkeyPatch.context() as mp:
                _from_table(mp, n)
                result = repo.checkout(version.id, to=out, link="hardlink")
                again = repo.checkout(version.id, to=str(out) + "-copy")
            assert snapshot(out) == snapshot(Path(str(out) + "-copy")) == wanted, n
            assert (again.written, again.bytes_written, again.planned_writes) == (
                reference.written,
                reference.bytes_written,
                reference.planned_writes,
            )
            assert result.written == reference.written
            shutil.rmtree(out)
            shutil.rmtree(str(out) + "-copy")
    assert snapshot(work) == expected


def _packed_repo(repo: Repo, files: int = 300) -> dict[str, bytes]:
    tree = {f"d/s{i % 7}/f{i:04d}.bin": os.urandom(100 + i) for i in range(files)}
    write_tree(repo.root, tree)
    repo.commit(["d"], name="d")
    return {rel.removeprefix("d/"): data for rel, data in tree.items()}


@pytest.mark.parametrize("table", [False, True], ids=["entries", "table"])
def test_a_corrupt_blob_stops_every_writer_with_one_error(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, table: bool
) -> None:
    tree = _packed_repo(repo)
    _from_table(monkeypatch, 2) if table else _threads(monkeypatch, 2)
    from dvlin.ops.manifests import load_entries

    v1 = repo.catalog.version_by_number("d", 1)
    assert v1 is not None
    entry = load_entries(repo, v1)["s3/f0150.bin"]
    assert entry.pack is not None and entry.offset is not None
    path = repo.store.local_path(entry.pack)
    assert path is not None
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(entry.offset)
        f.write(b"\xff" * 8)
    out = repo.root.parent / "out"
    with pytest.raises(IntegrityError, match="is corrupt"):
        repo.checkout("d", to=out)
    import threading

    assert [t.name for t in threading.enumerate() if t.name.startswith("dvlin-writer")] == []
    # Whatever was written is whole (the failed checkout removed the folder it created).
    if out.exists():
        for folder, _, found in os.walk(out):
            for name in found:
                rel = (Path(folder) / name).relative_to(out).as_posix()
                assert (Path(folder) / name).read_bytes() == tree[rel]


@pytest.mark.parametrize("table", [False, True], ids=["entries", "table"])
def test_a_failing_write_stops_every_writer_with_one_error(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, table: bool
) -> None:
    _packed_repo(repo)
    _from_table(monkeypatch, 2) if table else _threads(monkeypatch, 2)
    real_write = os.write
    calls = 0

    def full_disk(fd: int, data: object) -> int:
        nonlocal calls
        calls += 1
        if calls == 40:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)  # type: ignore[arg-type]

    monkeypatch.setattr(materialize.os, "write", full_disk)
    out = repo.root.parent / "out"
    with pytest.raises(FileSystemError) as err:
        repo.checkout("d", to=out)
    assert err.value.exit_code == FileSystemError.exit_code
    assert "\n" not in err.value.message
    assert calls < 300  # the writers stopped; they did not write the rest
    import threading

    assert [t.name for t in threading.enumerate() if t.name.startswith("dvlin-writer")] == []
    monkeypatch.setattr(materialize.os, "write", real_write)
    repo.checkout("d", to=out)
    assert repo.status().interrupted == ()
