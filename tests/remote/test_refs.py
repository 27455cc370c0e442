"""refs.json read from a remote: ids in it are parsed, a malformed one is corruption (exit 4)."""

from __future__ import annotations

import json

import pytest

from dvlin.errors import ExitCode
from dvlin.remote.errors import RemoteCorruptError
from dvlin.remote.refs import Head, Refs, _checksum

VID = "0123456789abcdef0123456789abcdef"
SID = "fedcba9876543210fedcba9876543210"


def _signed(body: dict[str, object]) -> bytes:
    """``body`` with a valid checksum: only the ids can make it wrong."""
    return json.dumps({**body, "checksum": _checksum(body)}).encode()


def _body(**changes: object) -> dict[str, object]:
    body = json.loads(Refs("xxh3-128", {"ev": Head(VID, 1)}, (SID, f"grp:{SID}")).to_bytes())
    del body["checksum"]
    return {**body, **changes}


def test_well_formed_refs_parse() -> None:
    refs = Refs.parse(_signed(_body()), url="file:///r")
    assert refs.heads == {"ev": Head(VID, 1)}
    assert refs.segments == (SID, f"grp:{SID}")
    assert refs.chunker == ""  # none recorded: an older dvlin made the remote


def test_the_chunker_round_trips_and_refs_without_one_keep_their_old_bytes() -> None:
    plain = Refs("xxh3-128", {"ev": Head(VID, 1)}, (SID,))
    assert "chunker" not in json.loads(plain.to_bytes())  # what an older dvlin wrote and reads
    recorded = Refs("xxh3-128", {"ev": Head(VID, 1)}, (SID,), chunker="fastcdc-2020")
    assert Refs.parse(recorded.to_bytes(), url="file:///r") == recorded
    # An older dvlin checks the checksum over the whole body, the key it does not know included.
    body = json.loads(recorded.to_bytes())
    assert body.pop("checksum") == _checksum(body)


@pytest.mark.parametrize(
    ("changes", "bad"),
    [
        ({"heads": {"ev": {"version": "../v1", "number": 1}}}, "malformed version id '../v1'"),
        ({"heads": {"ev": {"version": VID.upper(), "number": 1}}}, "malformed version id"),
        ({"segments": [SID[:-2]]}, f"malformed object id {SID[:-2]!r} for xxh3-128"),
        ({"segments": ["grp:../../x"]}, "malformed object id '../../x'"),
        ({"hash": "sha256"}, f"malformed object id {SID!r} for sha256"),
    ],
)
def test_a_malformed_id_in_refs_is_a_corrupt_remote(changes: dict[str, object], bad: str) -> None:
    with pytest.raises(RemoteCorruptError) as caught:
        Refs.parse(_signed(_body(**changes)), url="file:///r")
    assert caught.value.exit_code == ExitCode.INTEGRITY
    assert caught.value.message.startswith("remote file:///r: refs.json is corrupt (")
    assert bad in caught.value.message


@pytest.mark.parametrize(
    ("recorded", "taken"),
    [
        ("", "fastcdc-2016"),  # a remote made before chunkers were recorded
        ("fastcdc-2016", "fastcdc-2016"),
        ("fastcdc-2020", "fastcdc-2020"),
        ("fastcdc-2031", "fastcdc-2020"),  # a newer dvlin's: this one's default
    ],
)
def test_the_chunker_a_clone_takes(recorded: str, taken: str) -> None:
    from dvlin.ops.clone import _chunker

    assert _chunker(recorded) == taken
