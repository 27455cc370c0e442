"""The unit of work: lock, one transaction, and the audit entries of what changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.audit.change import UnauditedChangeError
from dvlin.audit.log import entries
from dvlin.audit.records import tag_record
from dvlin.identity import author, utc_now


def _version(repo: Repo) -> str:
    (repo.root / "d").mkdir()
    (repo.root / "d" / "a.txt").write_text("a")
    return repo.commit(["d"]).version.id  # type: ignore[union-attr]


def test_entry_carries_the_digest_of_the_record_as_read_back(repo: Repo) -> None:
    vid = _version(repo)
    with repo.change("tag", "d@t1") as tx:
        repo.catalog.insert_tag("d", "t1", vid, created_at=utc_now(), author=author())
        tx.audit(record=("tag", "d@t1"), details={"version": vid})
    last = entries(repo.catalog)[-1]
    assert (last.action, last.target, last.details) == ("tag", "d@t1", {"version": vid})
    assert last.record == tag_record(repo.catalog, "d", "t1")
    assert last.record is not None and last.record.digest is not None
    assert tx.records == [last.record]


def test_rows_changed_without_an_entry_roll_back(repo: Repo) -> None:
    vid = _version(repo)
    before = len(entries(repo.catalog))
    with pytest.raises(UnauditedChangeError, match="without an audit entry"):
        with repo.change("tag", "d@t1"):
            repo.catalog.insert_tag("d", "t1", vid, created_at=utc_now(), author=author())
    assert repo.catalog.tag("d", "t1") is None
    assert len(entries(repo.catalog)) == before


def test_a_failed_block_appends_nothing_and_keeps_nothing(repo: Repo) -> None:
    vid = _version(repo)
    before = len(entries(repo.catalog))
    with pytest.raises(KeyError):
        with repo.change("tag", "d@t1") as tx:
            repo.catalog.insert_tag("d", "t1", vid, created_at=utc_now(), author=author())
            tx.audit(record=("tag", "d@t1"))
            raise KeyError("boom")
    assert repo.catalog.tag("d", "t1") is None
    assert len(entries(repo.catalog)) == before


def test_a_block_that_changes_nothing_needs_no_entry(repo: Repo) -> None:
    before = len(entries(repo.catalog))
    with repo.change("gc", "") as tx:
        pass
    assert tx.entries == [] and len(entries(repo.catalog)) == before


def test_the_lock_is_reentrant_within_one_repo(repo: Repo, tmp_path: Path) -> None:
    with repo.lock(), repo.lock():
        pass
    with repo.lock(), repo.change("gc", ""):
        pass
    # released: another Repo object (another open file description) can take it at once
    with Repo.open(repo.root) as other, other.lock(timeout=0):
        pass


def test_verbs_append_audit_entries_only_through_the_unit_of_work() -> None:
    """No verb opens its own transaction to append an entry: repo.change does it for all.

    The remote verbs (push, pull, clone, rebase, remote*) record fetched records with
    append_changes and are left to their own issue.
    """
    import dvlin.ops

    remote = {"push.py", "pull.py", "clone.py", "rebase.py"}
    found = []
    for path in sorted(Path(dvlin.ops.__file__).parent.glob("*.py")):
        if path.name in remote or path.name.startswith("remote"):
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("audit.append(", "import append", "append_to("):
            if needle in text:
                found.append(f"{path.name}: {needle}")
    assert found == []


def test_another_thread_waits_for_the_lock(repo: Repo) -> None:
    import threading

    from dvlin.errors import ConflictError

    failures: list[BaseException] = []

    def take() -> None:
        try:
            with repo.lock(timeout=0.2):
                pass
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            failures.append(exc)

    with repo.lock():
        t = threading.Thread(target=take)
        t.start()
        t.join()
    assert len(failures) == 1 and isinstance(failures[0], ConflictError)
