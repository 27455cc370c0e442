"""The unit of work: lock, one transaction, and the audit entries of what changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.audit.change import UnauditedChangeError
from dvlin.audit.log import entries, verify
from dvlin.audit.records import RecordRef, hold_record, tag_record
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


def test_arrivals_get_one_entry_per_record_added_altered_or_removed(repo: Repo) -> None:
    vid = _version(repo)
    with repo.change("tag", "d@old") as tx:
        repo.catalog.insert_tag("d", "old", vid, created_at=utc_now(), author=author())
        tx.audit(record=("tag", "d@old"))
    with repo.change("hold", "d@v1") as tx:
        repo.catalog.conn.execute(
            "INSERT INTO holds (version, reason, author, created_at) VALUES (?, 'r', 'a', 't')",
            (vid,),
        )
        tx.audit(record=("hold", vid))
    before = len(entries(repo.catalog))
    with repo.change("fetch", "origin") as tx:
        start = tx.snapshot()
        repo.catalog.insert_tag("d", "new", vid, created_at=utc_now(), author=author())
        repo.catalog.conn.execute("UPDATE holds SET reason = 'other' WHERE version = ?", (vid,))
        repo.catalog.conn.execute("DELETE FROM tags WHERE name = 'old'")
        tx.audit(details={"segment": "s1"})
        tx.audit_arrivals(start, details={"segment": "s1"})
    added = entries(repo.catalog)[before:]
    assert [(e.action, e.target) for e in added] == [("fetch", "origin")] * 4
    assert added[0].record is None and added[0].details == {"segment": "s1"}
    by_record = {e.details["record"]: e.record for e in added[1:]}
    assert by_record == {
        "hold on d@v1": hold_record(repo.catalog, vid),
        "tag d@new": tag_record(repo.catalog, "d", "new"),
        "tag d@old": RecordRef("tag", "d@old", None),
    }
    assert tx.records == [e.record for e in added[1:]]
    assert verify(repo.catalog).ok


def test_arrivals_cover_rows_that_are_no_record(repo: Repo) -> None:
    """What the remote holds is bookkeeping: a fetch that brought no record needs no entry."""
    before = len(entries(repo.catalog))
    with repo.change("fetch", "origin") as tx:
        start = tx.snapshot()
        repo.catalog.conn.execute(
            "INSERT INTO remote_segments (remote, segment, seq, applied) VALUES ('origin', 's1', 1, 1)"
        )
        tx.audit_arrivals(start)
    assert tx.entries == [] and len(entries(repo.catalog)) == before


def test_arrivals_are_accounted_for_once_per_unit(repo: Repo) -> None:
    with pytest.raises(RuntimeError, match="twice"):
        with repo.change("fetch", "origin") as tx:
            start = tx.snapshot()
            tx.audit_arrivals(start)
            tx.audit_arrivals(start)


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

    The remote verbs too: records a fetch or a rebase brings are accounted for by
    ``tx.audit_arrivals``, never by a hand-written append.
    """
    import dvlin.ops

    found = []
    for path in sorted(Path(dvlin.ops.__file__).parent.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for needle in (
            "audit.append(",
            "import append",
            "append_to(",
            "append_changes(",
            "import log as audit",
        ):
            if needle in text:
                found.append(f"{path.name}: {needle}")
    assert found == []


def test_remote_verbs_write_the_catalog_only_in_units_of_work() -> None:
    """push, fetch, rebase, remote gc and remote remove change the catalog inside repo.change.

    Only the index of objects fetched on demand (a cache, written by commands that may hold
    no lock) keeps a transaction of its own.
    """
    import dvlin.ops

    remote = ("push", "pull", "fetch", "clone", "rebase", "remote")
    found = []
    for path in sorted(Path(dvlin.ops.__file__).parent.glob("*.py")):
        if not path.stem.startswith(remote):
            continue
        count = path.read_text(encoding="utf-8").count(".transaction()")
        if count:
            found.append(f"{path.name}: {count}")
    assert found in ([], ["fetch.py: 1"], ["pull.py: 1"])


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
