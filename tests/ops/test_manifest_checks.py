"""Reads skip validating a manifest the catalog records as checked, and only then: the bytes
must still hash to the oid, come from the same store file, and have passed this validator."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.catalog import Version
from dvlin.objects.manifest import VALIDATOR, Entry, Manifest, to_parquet
from dvlin.ops.manifests import load_manifest
from tests.conftest import Cli, forge_version, write_tree

OID = "1" * 32


def _versions(repo: Repo) -> tuple[Version, Version]:
    write_tree(repo.root, {"d/a.txt": "1"})
    repo.commit(["d"], name="d")
    write_tree(repo.root, {"d/a.txt": "2", "d/b.txt": "b"})
    repo.commit(["d"], name="d")
    v1, v2 = repo.catalog.version_by_number("d", 1), repo.catalog.version_by_number("d", 2)
    assert v1 is not None and v2 is not None
    return v1, v2


def _checks(repo: Repo) -> dict[str, int]:
    rows = repo.catalog.conn.execute("SELECT oid, validator FROM manifest_checks")
    return {oid: validator for oid, validator in rows}


def _count_validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = Manifest.validate

    def counted(self: Manifest, algorithm: str) -> None:
        calls.append(len(self))
        real(self, algorithm)

    monkeypatch.setattr(Manifest, "validate", counted)
    return calls


def _forge(repo: Repo, entries: list[Entry]) -> Version:
    forged: Version = forge_version(repo, entries)
    return forged


def _record(repo: Repo, oid: str, validator: int) -> None:
    """A record for ``oid`` naming the store file as it is now (what a read would record)."""
    from dvlin.ops.manifests import _identity

    path = repo.store.local_path(oid)
    assert path is not None
    file = _identity(os.stat(path))
    with repo.catalog.transaction():
        repo.catalog.record_manifest_check(
            oid, validator=validator, file=file, checked_at="2026-01-01T00:00:00Z"
        )


def test_a_commit_records_its_manifest_and_reads_skip_validating_it(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1, v2 = _versions(repo)
    assert _checks(repo) == {v1.manifest: VALIDATOR, v2.manifest: VALIDATOR}
    calls = _count_validations(monkeypatch)
    assert sorted(e.path for e in load_manifest(repo, v2).entries()) == ["a.txt", "b.txt"]
    assert calls == []


@pytest.mark.parametrize("args", [("diff", "d@v1", "d@v2"), ("ls", "d@v2"), ("checkout", "d@v2")])
@pytest.mark.parametrize("swap", ["other-manifest", "hostile"])
def test_a_manifest_file_swapped_under_objects_is_refused_with_exit_4(
    repo: Repo, cli: Cli, args: tuple[str, ...], swap: str
) -> None:
    v1, v2 = _versions(repo)
    cli("checkout", "d@v1", ok=True)
    assert cli("diff", "d@v1", "d@v2").exit_code == 0  # read, and recorded as checked
    path = Path(repo.store.path(v2.manifest))
    if swap == "other-manifest":
        data = Path(repo.store.path(v1.manifest)).read_bytes()
    else:
        data = to_parquet([Entry("../escaped", "file", 0o644, 1, OID)])
    os.chmod(path, 0o644)
    path.write_bytes(data)
    ran = cli(*args)
    assert ran.exit_code == 4, ran.output
    assert v2.manifest in ran.stderr
    assert not (repo.root.parent / "escaped").exists()


def test_a_record_names_the_store_file_a_new_file_is_validated_again(repo: Repo, cli: Cli) -> None:
    """Bytes that hash to the oid but sit in another file (fetched again after a gc, say)
    are validated again: with a non-cryptographic hash a colliding file could differ."""
    _versions(repo)
    hostile = _forge(repo, [Entry("../escaped", "file", 0o644, 1, OID)])
    with repo.catalog.transaction():
        repo.catalog.record_manifest_check(
            hostile.manifest, validator=VALIDATOR, file="0:0:0:0:0", checked_at="x"
        )
    ran = cli("ls", "d@v3")
    assert ran.exit_code == 4, ran.output
    assert "not a safe relative path" in ran.stderr


@pytest.mark.parametrize("validator", [VALIDATOR - 1, VALIDATOR])
def test_a_record_from_another_validator_version_is_ignored(
    repo: Repo, cli: Cli, monkeypatch: pytest.MonkeyPatch, validator: int
) -> None:
    _versions(repo)
    hostile = _forge(repo, [Entry("../escaped", "file", 0o644, 1, OID)])
    _record(repo, hostile.manifest, validator)
    # A validator bump (the rules changed) must send every manifest through them again.
    monkeypatch.setattr("dvlin.ops.manifests.VALIDATOR", VALIDATOR + 1)
    ran = cli("ls", "d@v3")
    assert ran.exit_code == 4, ran.output
    assert "not a safe relative path" in ran.stderr


def test_the_record_is_what_a_read_trusts(repo: Repo, cli: Cli) -> None:
    """The other side of the tests above: a record of this validator for this very file is
    trusted (the catalog is the repo's own; fsck still checks, see below)."""
    _versions(repo)
    hostile = _forge(repo, [Entry("../escaped", "file", 0o644, 1, OID)])
    _record(repo, hostile.manifest, VALIDATOR)
    assert cli("ls", "d@v3").exit_code == 0


def test_fsck_validates_a_manifest_the_catalog_records_as_checked(repo: Repo, cli: Cli) -> None:
    _versions(repo)
    hostile = _forge(repo, [Entry("../escaped", "file", 0o644, 1, OID)])
    _record(repo, hostile.manifest, VALIDATOR)
    ran = cli("fsck")
    assert ran.exit_code == 4, ran.output
    assert "manifest: manifest path '../escaped' is not a safe relative path" in ran.output


def test_a_read_validates_an_unrecorded_manifest_once(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manifest stored without a record (fetched, or from before records) is validated on
    its first read, whole even when the reader asks for some columns, and then recorded."""
    from dvlin.objects.manifest import DIFF_COLUMNS

    _versions(repo)
    rows = [Entry(f"f{i:05d}", "file", 0o644, 1, OID, pack="2" * 32, offset=i) for i in range(5000)]
    big = _forge(repo, rows)
    calls = _count_validations(monkeypatch)
    first = load_manifest(repo, big, columns=DIFF_COLUMNS)
    again = load_manifest(repo, big, columns=DIFF_COLUMNS)
    assert calls == [5000]
    assert first.partial and again.partial and first == again
    assert _checks(repo)[big.manifest] == VALIDATOR
    assert load_manifest(repo, big) == Manifest.from_entries(rows)
    assert calls == [5000]


def test_a_partial_read_checks_the_columns_it_did_not_return(repo: Repo, cli: Cli) -> None:
    """A malformed pack oid is in no column ``diff`` reads, but the first read checks it."""
    _versions(repo)
    rows = [Entry(f"f{i:05d}", "file", 0o644, 1, OID, pack="2" * 32, offset=i) for i in range(5000)]
    rows[7] = rows[7]._replace(pack="not-an-oid")
    _forge(repo, rows)
    ran = cli("diff", "d@v2", "d@v3")
    assert ran.exit_code == 4, ran.output
    assert "malformed oid" in ran.stderr


def test_a_fetched_manifest_is_validated_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    monkeypatch.chdir(a)
    cli("init", ok=True)
    write_tree(a, {"data/ev/a.txt": "1\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", str(tmp_path / "remote"), ok=True)
    cli("push", ok=True)
    cli("clone", str(tmp_path / "remote"), str(b), ok=True)
    write_tree(a, {"data/ev/b.txt": "2\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("push", ok=True)
    monkeypatch.chdir(b)
    cli("fetch", ok=True)
    calls = _count_validations(monkeypatch)
    with Repo.open(b) as clone:
        v2 = clone.catalog.version_by_number("ev", 2)
        assert v2 is not None
        assert _checks(clone).get(v2.manifest) is None
        assert [e.path for e in load_manifest(clone, v2).entries()] == ["a.txt", "b.txt"]
        assert [e.path for e in load_manifest(clone, v2).entries()] == ["a.txt", "b.txt"]
        assert _checks(clone)[v2.manifest] == VALIDATOR
    assert calls == [2]
    assert cli("diff", "ev@v1", "ev@v2").exit_code == 0
    assert calls == [2]


def test_a_store_that_is_not_local_validates_every_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    repo = Repo.init(tmp_path / "w", storage="memory://valid-checks")
    monkeypatch.chdir(repo.root)
    try:
        write_tree(repo.root, {"d/a.txt": "1"})
        repo.commit(["d"], name="d")
        v1 = repo.catalog.version_by_number("d", 1)
        assert v1 is not None
        calls = _count_validations(monkeypatch)
        load_manifest(repo, v1)
        load_manifest(repo, v1)
        assert calls == [1, 1]
        assert _checks(repo) == {}
    finally:
        repo.close()


def test_a_read_only_or_busy_catalog_records_nothing_and_does_not_wait(repo: Repo) -> None:
    from dvlin.catalog import db as catalog_module
    from dvlin.catalog.catalog import Catalog

    v1, _ = _versions(repo)
    path = repo.root / ".dvlin" / "catalog.db"
    conn = catalog_module._connect_read_only(path, timeout=1)
    read_only = Catalog(conn, path, read_only=True)
    try:
        assert not read_only.record_manifest_check("a" * 32, validator=1, file="f", checked_at="t")
    finally:
        read_only.close()
    # Another writer holds the catalog (a long commit): a reader gives up at once.
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        assert not repo.catalog.record_manifest_check(
            "b" * 32, validator=1, file="f", checked_at="t"
        )
        assert [e.path for e in load_manifest(repo, v1).entries()] == ["a.txt"]
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert repo.catalog.conn.execute("PRAGMA busy_timeout").fetchone()[0] > 1000
    assert "a" * 32 not in _checks(repo) and "b" * 32 not in _checks(repo)


def test_an_old_catalog_gains_the_table_and_works(repo: Repo, cli: Cli) -> None:
    from dvlin.catalog.schema import SCHEMA_VERSION

    v1, v2 = _versions(repo)
    repo.close()
    conn = sqlite3.connect(repo.root / ".dvlin" / "catalog.db")
    conn.execute("DROP TABLE manifest_checks")
    conn.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    ran = cli("diff", "d@v1", "d@v2")
    assert ran.exit_code == 0, ran.output
    with Repo.open(repo.root) as again:
        assert again.catalog.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert _checks(again) == {v1.manifest: VALIDATOR, v2.manifest: VALIDATOR}


@pytest.fixture
def soon(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every manifest read by load_manifest_soon goes through its thread."""
    monkeypatch.setattr("dvlin.ops.manifests.READ_BESIDE_FROM", 0)


@pytest.mark.usefixtures("soon")
def test_a_manifest_read_in_a_thread_is_the_one_load_manifest_reads(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dvlin.ops.manifests import load_manifest_soon

    _versions(repo)
    rows = [Entry(f"f{i:05d}", "file", 0o644, 1, OID, pack="2" * 32, offset=i) for i in range(5000)]
    big = _forge(repo, rows)
    calls = _count_validations(monkeypatch)
    # Not recorded yet: validated (in the calling thread) and recorded; then trusted.
    assert load_manifest_soon(repo, big)() == Manifest.from_entries(rows)
    assert calls == [5000] and _checks(repo)[big.manifest] == VALIDATOR
    assert load_manifest_soon(repo, big)() == load_manifest(repo, big)
    assert calls == [5000]


@pytest.mark.usefixtures("soon")
@pytest.mark.parametrize("swap", ["hostile", "unreadable", "missing"])
def test_a_manifest_read_in_a_thread_is_refused_as_load_manifest_refuses_it(
    repo: Repo, swap: str
) -> None:
    from dvlin.errors import IntegrityError
    from dvlin.ops.manifests import load_manifest_soon

    _, v2 = _versions(repo)
    hostile = _forge(repo, [Entry("../escaped", "file", 0o644, 1, OID)])
    version = hostile if swap == "hostile" else v2
    path = Path(repo.store.path(version.manifest))
    if swap == "unreadable":
        os.chmod(path, 0o644)
        path.write_bytes(b"not parquet")
    elif swap == "missing":
        path.unlink()
    with pytest.raises(IntegrityError) as soon:
        load_manifest_soon(repo, version)()
    with pytest.raises(IntegrityError) as now:
        load_manifest(repo, version)
    assert soon.value.message == now.value.message
    assert (soon.value.exit_code, now.value.exit_code) == (4, 4)


@pytest.mark.usefixtures("soon")
def test_a_commit_reading_its_parent_in_a_thread_refuses_a_hostile_parent(
    repo: Repo, cli: Cli
) -> None:
    _versions(repo)
    _forge(repo, [Entry("../escaped", "file", 0o644, 1, OID)])
    write_tree(repo.root, {"d/c.txt": "c"})
    ran = cli("commit", "d", "--name", "d")
    assert ran.exit_code == 4, ran.output
    assert "not a safe relative path" in ran.stderr


def test_work_in_a_thread_answers_once_its_thread_has_ended() -> None:
    import threading

    from dvlin.errors import IntegrityError
    from dvlin.ops.manifests import in_thread

    started = threading.Event()

    def work() -> int:
        started.set()
        return 7

    answer = in_thread(work, "test-work")
    assert answer() == 7 and answer() == 7 and started.is_set()
    assert not any(t.name == "test-work" for t in threading.enumerate())

    def fails() -> int:
        raise IntegrityError("manifest is unreadable: test")

    with pytest.raises(IntegrityError, match="unreadable: test"):
        in_thread(fails, "test-fails")()
