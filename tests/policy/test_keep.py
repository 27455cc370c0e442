"""Retention decisions: each rule alone and combined, model lineage, and the invariants."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dvlin.policy.keep import RetentionRule, TagFact, VersionFacts, decide

DAY = 86400.0
NOW = 1_000 * DAY


def chain(asset: str, n: int, *, kind: str = "dataset", step: float = DAY) -> list[VersionFacts]:
    """Versions v1..vn, version k superseded when k+1 was made (one per ``step``)."""
    start = NOW - n * step
    return [
        VersionFacts(
            f"{asset}{k}", asset, k, kind, superseded_at=None if k == n else start + k * step
        )
        for k in range(1, n + 1)
    ]


def kept(decisions: dict, prefix: str = "") -> list[str]:  # type: ignore[type-arg]
    return sorted(d.id for d in decisions.values() if d.kept and d.id.startswith(prefix))


def test_no_policy_keeps_everything() -> None:
    out = decide(chain("a", 5), {}, upstream={}, now=NOW)
    assert kept(out) == ["a1", "a2", "a3", "a4", "a5"]
    assert out["a1"].reasons == ("no retention policy",)


def test_latest_never_expires() -> None:
    out = decide(chain("a", 4), {"a": RetentionRule(keep_last=1)}, upstream={}, now=NOW)
    assert kept(out) == ["a4"] and "latest" in out["a4"].reasons


def test_keep_last() -> None:
    out = decide(chain("a", 6), {"a": RetentionRule(keep_last=3)}, upstream={}, now=NOW)
    assert kept(out) == ["a4", "a5", "a6"]


def test_keep_within_counts_from_when_superseded() -> None:
    # a1 was superseded 10 days ago, a2 5 days ago … (one version every 5 days)
    out = decide(
        chain("a", 4, step=5 * DAY), {"a": RetentionRule(keep_within=7 * DAY)}, upstream={}, now=NOW
    )
    assert kept(out) == ["a3", "a4"]
    assert out["a3"].reasons == ("keep_within",)


def test_tags_with_and_without_max_age() -> None:
    vs = chain("a", 4)
    vs[0] = VersionFacts(
        "a1", "a", 1, superseded_at=vs[0].superseded_at, tags=(TagFact("release", NOW - 100 * DAY),)
    )
    vs[1] = VersionFacts(
        "a2",
        "a",
        2,
        superseded_at=vs[1].superseded_at,
        tags=(TagFact("short", NOW - 100 * DAY, retain=30 * DAY),),
    )
    rule = RetentionRule(keep_last=1, keep_tagged=True)
    out = decide(vs, {"a": rule}, upstream={}, now=NOW)
    assert kept(out) == ["a1", "a4"]
    assert out["a1"].reasons == ("tagged release",)
    untagged_rule = RetentionRule(keep_last=1, keep_tagged=False)
    assert kept(decide(vs, {"a": untagged_rule}, upstream={}, now=NOW)) == ["a4"]


def test_holds_and_legal_hold() -> None:
    vs = chain("a", 3)
    vs[0] = VersionFacts("a1", "a", 1, superseded_at=vs[0].superseded_at, held=True)
    out = decide(vs, {"a": RetentionRule(keep_last=1)}, upstream={}, now=NOW)
    assert kept(out) == ["a1", "a3"] and out["a1"].reasons == ("hold",)
    out = decide(vs, {"a": RetentionRule(keep_last=1, legal_hold=True)}, upstream={}, now=NOW)
    assert kept(out) == ["a1", "a2", "a3"]


def test_kept_models_protect_their_data_at_any_depth() -> None:
    raw, feats = chain("raw", 3), chain("feat", 3)
    models = chain("m", 2, kind="model")
    # m1 was trained on feat1, made from raw1; m2 on feat3 ← raw3. A second-level model d1
    # (distilled from m1) is kept as latest, so m1 and everything under it stay.
    distilled = chain("d", 1, kind="model")
    upstream = {"m1": {"feat1", "raw1"}, "m2": {"feat3", "raw3"}, "d1": {"m1"}}
    rule = RetentionRule(keep_last=1)
    rules = {a: rule for a in ("raw", "feat", "m", "d")}
    out = decide(raw + feats + models + distilled, rules, upstream=upstream, now=NOW)
    assert kept(out) == ["d1", "feat1", "feat3", "m1", "m2", "raw1", "raw3"]
    assert out["raw1"].reasons == ("upstream of a kept model",)
    # Without the distilled model, m1 expires and so does its data.
    out = decide(raw + feats + models, rules, upstream=upstream, now=NOW)
    assert kept(out) == ["feat3", "m2", "raw3"]


facts = st.lists(
    st.builds(
        lambda asset, n, tagged, held, age, stage: (asset, n, tagged, held, age, stage),
        st.sampled_from(["a", "b", "m"]),
        st.integers(1, 6),
        st.booleans(),
        st.booleans(),
        st.floats(0, 200),
        st.sampled_from([None, "staging", "production", "archived"]),
    ),
    max_size=15,
)


def build(raw: list[tuple[str, int, bool, bool, float, str | None]]) -> list[VersionFacts]:
    seen: dict[tuple[str, int], VersionFacts] = {}
    for asset, n, tagged, held, age, stage in raw:
        seen[(asset, n)] = VersionFacts(
            f"{asset}{n}",
            asset,
            n,
            "model" if asset == "m" else "dataset",
            superseded_at=NOW - age * DAY,
            tags=(TagFact("t", NOW - age * DAY, retain=50 * DAY),) if tagged else (),
            held=held,
            stage=stage if asset == "m" else None,
        )
    newest = {a: max(n for (b, n) in seen if b == a) for a, _ in seen}
    return [
        v
        if v.number != newest[v.asset]
        else VersionFacts(v.id, v.asset, v.number, v.kind, None, v.tags, v.held, v.stage)
        for v in seen.values()
    ]


RULES = {
    "a": RetentionRule(keep_last=2, keep_within=30 * DAY, keep_tagged=True),
    "b": RetentionRule(keep_last=1),
    "m": RetentionRule(keep_last=1),
}


@settings(max_examples=200, deadline=None)
@given(raw=facts, seed=st.randoms(use_true_random=False))
def test_invariants(raw: list[tuple[str, int, bool, bool, float, str | None]], seed) -> None:  # type: ignore[no-untyped-def]
    vs = build(raw)
    upstream = {v.id: {"a1", "b1"} for v in vs if v.kind == "model"}
    out = decide(vs, RULES, upstream=upstream, now=NOW)
    # Order-independent.
    shuffled = list(vs)
    seed.shuffle(shuffled)
    assert decide(shuffled, RULES, upstream=upstream, now=NOW) == out
    # Idempotent: deciding again over what is left keeps what was kept.
    left = [v for v in vs if out[v.id].kept]
    again = decide(left, RULES, upstream=upstream, now=NOW)
    assert all(d.kept for d in again.values())
    # Never expires a protected version.
    newest = {v.asset: max(w.number for w in vs if w.asset == v.asset) for v in vs}
    for v in vs:
        if v.number == newest[v.asset] or v.held or v.stage in ("staging", "production"):
            assert out[v.id].kept, v
        if v.asset == "a" and v.tags and NOW - v.tags[0].tagged_at < 50 * DAY:
            assert out[v.id].kept, v
    kept_models = [v.id for v in vs if v.kind == "model" and out[v.id].kept]
    for m in kept_models:
        for up in upstream[m]:
            if up in out:
                assert out[up].kept


def test_a_staged_model_is_kept_with_its_data_at_any_depth() -> None:
    models = chain("m", 4, kind="model")
    models[0] = VersionFacts(
        "m1", "m", 1, "model", superseded_at=models[0].superseded_at, stage="production"
    )
    models[1] = VersionFacts(
        "m2", "m", 2, "model", superseded_at=models[1].superseded_at, stage="archived"
    )
    rules = {"m": RetentionRule(keep_last=1), "feat": RetentionRule(keep_last=1)}
    rules["raw"] = RetentionRule(keep_last=1)
    upstream = {"m1": {"feat1", "raw1"}, "m2": {"feat2", "raw2"}}
    facts = models + chain("feat", 3) + chain("raw", 3)
    out = decide(facts, rules, upstream=upstream, now=NOW)
    assert out["m1"].kept and out["m1"].reasons == ("stage production",)
    assert not out["m2"].kept  # archived counts for nothing
    assert out["feat1"].kept and out["raw1"].kept
    assert "upstream of a kept model" in out["raw1"].reasons
    assert not out["feat2"].kept and not out["raw2"].kept
    # With no retention policy at all the stage is still named.
    assert "stage production" in decide(models, {}, upstream={}, now=NOW)["m1"].reasons
