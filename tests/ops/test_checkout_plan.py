"""The columnar checkout plan agrees with a straightforward per-entry reference."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin.errors import NotFoundError
from dvlin.objects.hashing import Oid
from dvlin.objects.manifest import Entry, Manifest, to_parquet
from dvlin.ops.checkout_plan import CheckoutPlan, plan_checkout, select, unknown_paths, within

# Odd and hostile names: spaces, newlines, backslashes, non-ASCII (whose UTF-8 byte order is
# not the order of their first code unit), prefixes of each other, dots, dashes.
NAMES = [
    "a",
    "a b",
    "a.b",
    "a-",
    "ab",
    "é",
    "e\u0301",
    "日本",
    "😀",
    "line\nbreak",
    "back\\slash",
    ".hidden",
    ".x.dvlin-0badc0de",
    "Z",
    "-",
    "~",
]
OIDS = [Oid("0" * 32), Oid("1" * 32), Oid("f" * 32)]

paths = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map("/".join)


@st.composite
def entry(draw: st.DrawFn, path: str) -> Entry:
    kind = draw(st.sampled_from(["file", "file", "file", "dir", "link"]))
    if kind == "file":
        return Entry(
            path, "file", draw(st.sampled_from([0o644, 0o755])), 1, draw(st.sampled_from(OIDS))
        )
    if kind == "dir":
        return Entry(path, "dir", 0o755)
    return Entry(path, "link", 0o777, 0, None, draw(st.sampled_from(["x", "../y", "/abs"])))


@st.composite
def tree(draw: st.DrawFn, pool: Sequence[str]) -> dict[str, Entry]:
    chosen = draw(st.lists(st.sampled_from(list(pool)), unique=True, max_size=len(pool)))
    return {p: draw(entry(p)) for p in chosen}


@st.composite
def triples(draw: st.DrawFn) -> tuple[dict[str, Entry], ...]:
    pool = draw(st.lists(paths, unique=True, min_size=1, max_size=14))
    return tuple(draw(tree(pool)) for _ in range(4))  # every, current, synced, ours


def reference(
    wanted: dict[str, Entry],
    every: dict[str, Entry],
    current: dict[str, Entry],
    synced: dict[str, Entry],
    ours: dict[str, Entry],
) -> tuple[list[str], list[str], list[str], list[str], int]:
    """The plan as checkout computed it before it went columnar: one dict probe per entry."""
    writes = [e for p, e in wanted.items() if not e.same_content(current.get(p))]
    removals = [e for p, e in current.items() if p not in wanted]
    removals += [
        current[e.path] for e in writes if e.path in current and current[e.path].type != e.type
    ]
    unvouched = sorted(
        {e.path for e in removals if e.path not in every and e.path not in synced} - ours.keys()
    )
    touched = {e.path for e in writes} | {e.path for e in removals}
    lost = sorted(
        p
        for p in touched
        if p in current
        and current[p].type != "dir"
        and not current[p].same_content(synced.get(p))
        and not current[p].same_content(ours.get(p))
    )
    return (
        sorted(e.path for e in writes),
        sorted({e.path for e in removals}),
        lost,
        unvouched,
        len(wanted) - len(writes),
    )


def _flat(plan: CheckoutPlan) -> tuple[list[str], list[str], list[str], list[str], int]:
    return (
        sorted(e.path for e in plan.writes),
        sorted({e.path for e in plan.removals}),
        sorted(e.path for e in plan.lost),
        sorted(plan.unvouched),
        plan.unchanged,
    )


def _in(path: str, chosen: Sequence[str]) -> bool:
    return not chosen or any(path == p or path.startswith(p + "/") for p in chosen)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(triples(), st.lists(st.sampled_from(NAMES), max_size=2))
def test_columnar_plan_agrees_with_the_reference(
    trees: tuple[dict[str, Entry], ...], chosen: list[str]
) -> None:
    every, current, synced, ours = trees
    chosen = [p for p in chosen if any(_in(q, [p]) for q in every)]
    wanted = {p: e for p, e in every.items() if _in(p, chosen)}
    current = {p: e for p, e in current.items() if _in(p, chosen)}
    m_every = Manifest.from_entries(every.values())
    plan = plan_checkout(
        select(m_every, chosen),
        m_every,
        Manifest.from_entries(current.values()),
        Manifest.from_entries(synced.values()),
        Manifest.from_entries(ours.values()),
    )
    assert _flat(plan) == reference(wanted, every, current, synced, ours)
    # The entries written are the version's own, whole (storage columns included).
    assert all(e == every[e.path] for e in plan.writes)
    assert all(e == current[e.path] for e in plan.removals + plan.lost)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(triples(), st.lists(st.sampled_from(NAMES), max_size=2))
def test_a_restore_into_nothing_agrees_with_the_reference(
    trees: tuple[dict[str, Entry], ...], chosen: list[str]
) -> None:
    # Nothing in the folder, no synced version, no interrupted checkout: the plan's shortcut
    # (no kernel, no pyarrow.compute) writes the chosen rows whole, in path order.
    every = trees[0]
    chosen = [p for p in chosen if any(_in(q, [p]) for q in every)]
    wanted = {p: e for p, e in every.items() if _in(p, chosen)}
    m_every = Manifest.from_entries(every.values())
    empty = Manifest.empty()
    plan = plan_checkout(select(m_every, chosen), m_every, empty, empty, empty)
    assert _flat(plan) == reference(wanted, every, {}, {}, {})
    assert list(plan.writes) == sorted(wanted.values(), key=lambda e: e.path.encode())


@settings(max_examples=100, deadline=None)
@given(triples(), st.lists(st.sampled_from([*NAMES, "", "."]), max_size=3))
def test_selection_agrees_with_a_scan(
    trees: tuple[dict[str, Entry], ...], chosen: list[str]
) -> None:
    every = trees[0]
    manifest = Manifest.from_entries(every.values())
    stripped = [p.strip("/") for p in chosen]
    everything = not chosen or any(p in ("", ".") for p in stripped)
    inside = sorted(q for q in every if everything or _in(q, stripped))
    assert sorted(within(manifest, chosen).paths().to_pylist()) == inside  # never raises
    expected: list[str] | None = []
    for raw in chosen:  # the per-entry selection checkout made before
        p = raw.strip("/")
        if p in ("", "."):
            expected = sorted(every)
            break
        hits = [q for q in every if q == p or q.startswith(p + "/")]
        if not hits:
            expected = None
            break
        expected = sorted({*(expected or []), *hits})
    if not chosen:
        expected = sorted(every)
    if expected is None:
        with pytest.raises(NotFoundError):
            select(manifest, chosen)
        return
    assert sorted(select(manifest, chosen).paths().to_pylist()) == expected


def test_a_switch_builds_entries_only_for_changed_paths() -> None:
    v1 = [Entry(f"d{i % 7}/f{i:05d}", "file", 0o644, 1, Oid(f"{i:032x}")) for i in range(5000)]
    changed = {17, 999, 4321}
    v2 = [e._replace(oid=Oid("f" * 32)) if i in changed else e for i, e in enumerate(v1)]
    m1, m2 = Manifest.from_entries(v1), Manifest.from_entries(v2)
    plan = plan_checkout(m1, m1, m2, m2, Manifest.empty())
    assert [e.path for e in plan.writes] == sorted(v1[i].path for i in changed)
    assert plan.removals == () and plan.lost == () and plan.unchanged == 5000 - 3


def test_unknown_paths_reads_only_what_it_needs() -> None:
    old = to_parquet([Entry("a/x", "file", 0o644, 1, Oid("0" * 32)), Entry("a", "dir", 0o755)])
    new = to_parquet([Entry("b", "file", 0o644, 1, Oid("1" * 32))])
    assert unknown_paths(["b", "a/x", "c", "a/x"], [new, old]) == ["c"]
    assert unknown_paths([], [new]) == []

    def newest_first() -> Iterator[bytes]:
        yield new
        raise AssertionError("read another manifest after every path was vouched for")

    assert unknown_paths(["b"], newest_first()) == []
