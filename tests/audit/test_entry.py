"""The entry format: canonical bytes, a stable JSON round trip, and per-clone chains."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from dvlin import Repo
from dvlin.audit.entry import PAYLOAD_FIELDS, AuditEntry, genesis
from dvlin.audit.records import RecordRef, digest
from dvlin.audit.verify import verify
from tests.conftest import write_tree

_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))
_details = st.dictionaries(st.text(min_size=1, max_size=6), _values, max_size=6)


def _entry(details: dict[str, object]) -> AuditEntry:
    return AuditEntry(
        seq=1,
        at="2026-03-01T00:00:00.000000Z",
        actor="A <a@example.org>",
        action="tag",
        target="d@rel",
        outcome="ok",
        reason=None,
        details=details,
        prev=genesis("r"),
        hash="",
        clone="r",
        record=RecordRef("tag", "d@rel", "0" * 64),
        salts={name: "ab" * 16 for name in PAYLOAD_FIELDS},
    )


@given(_details, st.randoms())
def test_hashes_do_not_depend_on_key_order(details: dict[str, object], rnd: object) -> None:
    items = list(details.items())
    rnd.shuffle(items)  # type: ignore[attr-defined]
    shuffled = dict(items)
    assert _entry(details).compute_hash() == _entry(shuffled).compute_hash()
    assert digest("tag", details) == digest("tag", shuffled)


@given(_details)
def test_json_round_trip(details: dict[str, object]) -> None:
    e = _entry(details)
    back = AuditEntry.from_dict(json.loads(json.dumps(e.to_dict())))
    assert back == e and back.compute_hash() == e.compute_hash()


def test_each_clone_chains_from_its_own_genesis(repo: Repo) -> None:
    write_tree(repo.root, {"d/a.txt": "1"})
    repo.commit(["d"], name="d")
    with repo.catalog.transaction():
        repo.catalog.set_meta("repo_id", "another-clone")
    result = verify(repo.catalog)
    assert result.first_bad_seq == 1  # the entry belongs to the first clone's chain
