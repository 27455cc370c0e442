"""dvlin.toml: validated against the shipped JSON Schema; errors name file, key path, expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dvlin.errors import ExitCode, UsageError
from dvlin.policy.config import load_policy, parse_duration, parse_size, policy_file_schema
from tests.conftest import Cli
from tests.policy.conftest import write_policy

GOOD = """
[assets.events]
kind = "dataset"
path = "data/events"
owner = "data-platform@acme.example"
compatibility = "forward"
[assets.events.quality]
min_rows = 1000
not_null = ["event_id", "ts"]
unique = ["event_id", ["user", "ts"]]
max_null_fraction = { country = 0.05 }
range = { amount = [0, 100000] }
allowed = { channel = ["web", "app", "store"] }
fresh_within = { ts = "2d" }

[assets.support_embeddings]
kind = "embeddings"
path = "data/embeddings"
[assets.support_embeddings.quality]
dim = 384
dtype = "float32"
finite = true
unit_norm = { tolerance = 1e-3 }
"""


def test_the_issue_example_loads(tmp_path: Path) -> None:
    write_policy(tmp_path, GOOD)
    policy = load_policy(tmp_path)
    events = policy.assets["events"]
    assert events.compatibility == "forward"
    assert events.quality.unique == (("event_id",), ("user", "ts"))
    assert events.quality.fresh_within == {"ts": 2 * 86400}
    assert events.quality.range == {"amount": (0, 100000)}
    emb = policy.assets["support_embeddings"].quality
    assert (emb.dim, emb.dtype, emb.finite, emb.unit_norm) == (384, "float32", True, 1e-3)


def test_no_file_means_no_policies(tmp_path: Path) -> None:
    assert load_policy(tmp_path).assets == {}


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (
            "[assets.e.quality]\nmin_row = 3\n",
            ["assets.e.quality.min_row", "unknown key", "min_rows"],
        ),
        (
            '[assets.e.quality]\nmin_rows = "many"\n',
            ["assets.e.quality.min_rows", "expected integer", "'many'"],
        ),
        ('[assets.e]\ncompatibility = "sideways"\n', ["assets.e.compatibility", "'forward'"]),
        ('[assets.e.quality]\nfresh_within = { ts = "2 days" }\n', ["fresh_within.ts"]),
        ("[assets.e.quality]\nrange = { x = [5] }\n", ["assets.e.quality.range.x"]),
        ("[assets.e.quality]\nrange = { x = [5, 1] }\n", ["range.x", "min <= max"]),
        ('[assets.e.quality]\npattern = { x = "(" }\n', ["pattern.x", "regular expression"]),
        ("[assets.e\n", ["dvlin.toml", "TOML"]),
        ("[asset.e]\n", ["asset", "unknown key", "assets"]),
    ],
)
def test_malformed_policy_is_a_usage_error(tmp_path: Path, text: str, needles: list[str]) -> None:
    write_policy(tmp_path, text)
    with pytest.raises(UsageError) as info:
        load_policy(tmp_path)
    message = info.value.message + " " + (info.value.hint or "")
    assert str(tmp_path / "dvlin.toml") in message
    for n in needles:
        assert n in message


def test_malformed_record_schema_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps({"properties": {"x": {"type": "integr"}}}))
    write_policy(tmp_path, '[assets.e]\nschema = "s.json"\n')
    with pytest.raises(UsageError) as info:
        load_policy(tmp_path)
    assert "assets.e.schema" in info.value.message
    assert "properties/x/type" in info.value.message
    (tmp_path / "s.json").write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_policy(tmp_path)
    write_policy(tmp_path, '[assets.e]\nschema = "missing.json"\n')
    with pytest.raises(UsageError, match="missing.json does not exist"):
        load_policy(tmp_path)


def test_units() -> None:
    assert parse_duration("90s") == 90 and parse_duration("1.5h") == 5400
    assert parse_duration("1w") == 7 * 86400
    assert parse_size("10 MiB") == 10 * 2**20 and parse_size("2KB") == 2000
    assert parse_size(7) == 7


def test_the_shipped_schema_is_a_valid_2020_12_schema() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(policy_file_schema())


def test_cli_exit_2_with_key_path(repo, cli: Cli) -> None:  # type: ignore[no-untyped-def]
    write_policy(repo.root, '[assets.e.quality]\nnot_null = "id"\n')
    (repo.root / "d").mkdir()
    (repo.root / "d/a.csv").write_text("id\n1\n")
    for args in (("check",), ("policy", "show", "e"), ("commit", "d", "--name", "e")):
        r = cli(*args)
        assert r.exit_code == ExitCode.USAGE, r.output
        assert "assets.e.quality.not_null" in r.stderr and "expected array" in r.stderr
    assert cli("log", "--json", ok=True).stdout.strip() == "[]"


def test_policy_show(repo, cli: Cli) -> None:  # type: ignore[no-untyped-def]
    write_policy(repo.root, GOOD)
    doc = json.loads(cli("policy", "show", "events", "--json", ok=True).stdout)
    assert doc["asset"] == "events" and doc["compatibility"] == "forward"
    assert doc["quality"]["fresh_within"] == {"ts": "2d"}
    assert doc["quality"]["unique"] == [["event_id"], ["user", "ts"]]
    text = cli("policy", "show", "support_embeddings", ok=True).stdout
    assert "[assets.support_embeddings.quality]" in text and "dim = 384" in text
    everything = json.loads(cli("policy", "show", "--json", ok=True).stdout)
    assert [d["asset"] for d in everything] == ["events", "support_embeddings"]
    r = cli("policy", "show", "nope")
    assert r.exit_code == ExitCode.NOT_FOUND and "no policy" in r.stderr
