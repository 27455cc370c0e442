"""`dvlin stats`, `dvlin diff` and drift rules through the CLI: exit codes, output, audit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dvlin.errors import ExitCode
from tests.conftest import Cli
from tests.policy.conftest import write_policy, write_table

DRIFT_POLICY = """
[drift]
psi_medium = 0.1
psi_high = 0.25

[assets.events]
path = "data/events"
[assets.events.drift]
max_psi = 0.25
max_null_increase = 0.02
max_row_change = "20%"
"""


def _events(root: Path, *, shift: float = 0.0, rows: int = 5000, nulls: int = 0) -> None:
    rng = np.random.default_rng(int(shift * 10) + rows)
    amount = rng.normal(10 + shift, 1, rows).tolist()
    for i in range(nulls):
        amount[i] = None
    write_table(
        root / "data/events/part",
        {"event_id": list(range(rows)), "amount": amount, "<b>col</b>": ["[red]x[/red]"] * rows},
    )


def test_stats_and_diff_print_and_emit_json(work: Path, cli: Cli) -> None:
    _events(work)
    cli("commit", "data/events", "--name", "events", ok=True)
    _events(work, shift=3.0, rows=5500)
    cli("commit", "data/events", "--name", "events", ok=True)
    text = cli("stats", "events@v2", ok=True).stdout
    assert "part.parquet (parquet, 5,500 rows)" in text
    assert "<b>col</b>" in text and "[red]x[/red] (5,500)" in text  # user text, never markup
    doc = json.loads(cli("stats", "events@v2", "--json", ok=True).stdout)
    amount = next(c for c in doc["files"][0]["columns"] if c["name"] == "amount")
    assert amount["count"] == 5500 and len(amount["quantiles"]) == 101

    text = cli("diff", "events@v1", "events@v2", ok=True).stdout
    assert "files: +0 −0 ~1" in text
    assert "rows 5,000 → 5,500 (+10.0%)" in text
    assert "amount PSI" in text and "high" in text
    doc = json.loads(cli("diff", "events@v1", "events@v2", "--json", "--key", "event_id").stdout)
    rows = doc["rows"]["part.parquet"]
    assert (rows["added"], rows["removed"], rows["changed"]) == (500, 0, 5000)
    assert doc["tables"][0]["columns"][1]["drift"] == "high"


def test_errors_are_one_line_with_exit_codes(work: Path, cli: Cli) -> None:
    _events(work)
    cli("commit", "data/events", "--name", "events", ok=True)
    r = cli("stats", "nope")
    assert r.exit_code == ExitCode.NOT_FOUND and "unknown asset 'nope'" in r.stderr
    r = cli("diff", "events@v1", "--key", "event_id")
    assert r.exit_code == ExitCode.USAGE and "needs a table that changed" in r.stderr
    _events(work, shift=1.0)
    r = cli("diff", "events@v1", "--key", "missing")
    assert r.exit_code == ExitCode.USAGE
    assert "key column 'missing' is not in events@v1:part.parquet" in r.stderr
    r = cli("diff", "events@v1", "--key", ",")
    assert r.exit_code == ExitCode.USAGE and "--key expects column names" in r.stderr
    r = cli("diff", "events@v1", "--path", "nowhere")
    assert r.exit_code == ExitCode.NOT_FOUND
    r = cli("diff", "events@v1")  # the workspace, by default
    assert r.exit_code == 0 and "events@v1 → workspace" in r.stdout


def test_drift_rules_refuse_and_force_reason_overrides_with_audit(work: Path, cli: Cli) -> None:
    write_policy(work, DRIFT_POLICY)
    _events(work)
    r = cli("commit", "data/events", "--name", "events", ok=True)
    _events(work, shift=0.05, rows=5100)
    cli("commit", "data/events", "--name", "events", ok=True)  # small drift: allowed

    _events(work, shift=3.0, rows=7000, nulls=500)
    r = cli("check", "--json")
    assert r.exit_code == ExitCode.CHECK_FAILED
    failed = {x["rule"] for x in json.loads(r.stdout)["assets"][0]["results"] if not x["passed"]}
    assert failed == {"max_psi", "max_null_increase", "max_row_change"}
    r = cli("commit", "data/events", "--name", "events")
    assert r.exit_code == ExitCode.CHECK_FAILED and "3 rules failed for events" in r.stderr
    assert "max_psi" in r.output and "part.parquet:amount" in r.output
    r = cli("commit", "data/events", "--name", "events", "--force", "--reason", "new market")
    assert r.exit_code == 0, r.output
    shown = json.loads(cli("show", "events", "--json", ok=True).stdout)
    assert shown["override"]["reason"] == "new market" and shown["override"]["failed"] == 3
    rule = next(c for c in shown["checks"] if c["rule"] == "max_row_change")
    assert rule["found"] == "5,100 → 7,000 rows (+1,900, 37.3%)"
    log = json.loads(cli("audit", "log", "--json", ok=True).stdout)
    entries = log["entries"] if isinstance(log, dict) else log
    override = [e for e in entries if e["action"] == "contract-override"]
    assert override and override[-1]["reason"] == "new market"


def test_policy_show_lists_drift_rules(work: Path, cli: Cli) -> None:
    write_policy(work, DRIFT_POLICY)
    text = cli("policy", "show", "events", ok=True).stdout
    assert "[assets.events.drift]" in text and 'max_row_change = "20%"' in text
    doc = json.loads(cli("policy", "show", "events", "--json", ok=True).stdout)
    assert doc["drift"] == {"max_psi": 0.25, "max_null_increase": 0.02, "max_row_change": "20%"}


def test_a_malformed_drift_rule_is_a_usage_error(work: Path, cli: Cli) -> None:
    write_policy(work, '[assets.events.drift]\nmax_row_change = "lots"\n')
    r = cli("check")
    assert r.exit_code == ExitCode.USAGE and "assets.events.drift.max_row_change" in r.stderr
    write_policy(work, "[assets.events.drift]\nmax_psy = 0.2\n")
    r = cli("check")
    assert r.exit_code == ExitCode.USAGE and "did you mean 'max_psi'" in r.stderr
