"""Ids read from outside are parsed once: a malformed one is an integrity error (exit 4)."""

from __future__ import annotations

import pytest

from dvlin.errors import ExitCode
from dvlin.ids import (
    MalformedIdError,
    check_oids,
    check_version_ids,
    parse_oid,
    parse_version_id,
)

XXH = "0123456789abcdef0123456789abcdef"
SHA = XXH * 2


def test_well_formed_ids_come_back_as_they_are() -> None:
    assert parse_oid(XXH, "xxh3-128") == XXH
    assert parse_oid(SHA, "sha256") == SHA
    assert parse_oid(SHA, "blake3") == SHA
    assert parse_version_id(XXH) == XXH


@pytest.mark.parametrize(
    ("text", "algorithm"),
    [
        (SHA, "xxh3-128"),  # another algorithm's length
        (XXH, "sha256"),
        (XXH.upper(), "xxh3-128"),
        (XXH[:-1] + "g", "xxh3-128"),
        (XXH[:-1] + "\n", "xxh3-128"),
        ("../../etc/passwd", "xxh3-128"),
        ("", "xxh3-128"),
    ],
)
def test_a_malformed_oid_is_an_integrity_error_naming_it(text: str, algorithm: str) -> None:
    with pytest.raises(MalformedIdError) as caught:
        parse_oid(text, algorithm)
    assert caught.value.exit_code == ExitCode.INTEGRITY
    assert caught.value.message == f"malformed object id {text!r} for {algorithm}"
    assert caught.value.text == text


@pytest.mark.parametrize("text", [SHA, XXH[:31], XXH.upper(), "v3", XXH[:-1] + "\n"])
def test_a_malformed_version_id_is_an_integrity_error(text: str) -> None:
    with pytest.raises(MalformedIdError) as caught:
        parse_version_id(text)
    assert caught.value.exit_code == ExitCode.INTEGRITY
    assert caught.value.message == f"malformed version id {text!r}"


@pytest.mark.parametrize(
    "bad",
    [
        XXH[:-1],
        XXH + "0",
        XXH.upper(),
        XXH[:16] + "\n" + XXH[:15],  # the right length, with the separator inside
        XXH[:-1] + "é",
        "",
    ],
)
@pytest.mark.parametrize("where", [0, 1, 2])
def test_checking_many_ids_names_the_first_malformed_one(bad: str, where: int) -> None:
    texts = [XXH, XXH[::-1], XXH]
    texts.insert(where, bad)
    with pytest.raises(MalformedIdError) as caught:
        check_oids(texts, "xxh3-128")
    assert caught.value.text == bad
    with pytest.raises(MalformedIdError) as caught:
        check_version_ids(texts)
    assert caught.value.text == bad


def test_checking_many_well_formed_ids_passes() -> None:
    check_oids([], "xxh3-128")
    check_oids([XXH, XXH[::-1]], "xxh3-128")
    check_oids([SHA], "sha256")
    check_version_ids([XXH] * 3)
    with pytest.raises(MalformedIdError):
        check_oids([XXH], "sha256")
