"""dvlin.arrow_kernels: pyarrow.compute's kernels without its import, with the same results.

The CLI test also checks the other imports a commit, a status and a switch do without
(pyarrow.parquet and pyarrow.fs, OpenSSL's _hashlib, cloudpickle, and the contracts' modules
in a repo without dvlin.toml).
"""

from __future__ import annotations

import ast
import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as real
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dvlin import arrow_kernels
from tests.column_suites import run_suites

ROOT = Path(__file__).resolve().parent.parent

texts = st.lists(
    st.one_of(st.none(), st.text(max_size=8), st.text(min_size=200, max_size=400)), max_size=30
)
ints = st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), max_size=30)

# (name, args from a string column s, an int column n, a bool column b)
CASES: list[tuple[str, Callable[[Any, Any, Any], tuple[tuple[Any, ...], dict[str, Any]]]]] = [
    ("equal", lambda s, n, b: ((s, "a"), {})),
    ("not_equal", lambda s, n, b: ((n, 3), {})),
    ("less", lambda s, n, b: ((s[:-1], s[1:]) if len(s) else (s, s), {})),
    ("greater", lambda s, n, b: ((n, 0), {})),
    ("is_null", lambda s, n, b: ((s,), {})),
    ("is_valid", lambda s, n, b: ((n,), {})),
    ("invert", lambda s, n, b: ((b,), {})),
    ("and_", lambda s, n, b: ((b, b), {})),
    ("or_", lambda s, n, b: ((b, pa.scalar(False)), {})),
    ("and_kleene", lambda s, n, b: ((b, b), {})),
    ("fill_null", lambda s, n, b: ((s, "x"), {})),
    ("fill_null", lambda s, n, b: ((n, 7), {})),
    ("is_in", lambda s, n, b: ((s,), {"value_set": pa.array(["a", "", None], pa.string())})),
    ("index_in", lambda s, n, b: ((s,), {"value_set": s.drop_null()})),
    ("unique", lambda s, n, b: ((s,), {})),
    ("sum", lambda s, n, b: ((n,), {})),
    ("any", lambda s, n, b: ((b,), {})),
    ("all", lambda s, n, b: ((b,), {"skip_nulls": False})),
    ("cast", lambda s, n, b: ((s, pa.binary()), {})),
    ("cast", lambda s, n, b: ((n, pa.float64()), {})),
    ("take", lambda s, n, b: ((s, pa.array(range(len(s) - 1, -1, -1), pa.int64())), {})),
    ("match_substring_regex", lambda s, n, b: ((s, "^a|b$"), {"ignore_case": True})),
    ("match_substring", lambda s, n, b: ((s,), {"pattern": "/"})),
    ("sort_indices", lambda s, n, b: ((s,), {"sort_keys": [("", "ascending")]})),
    ("binary_slice", lambda s, n, b: ((s.cast(pa.binary()), 0, -1), {})),
    ("if_else", lambda s, n, b: ((b, s, None), {})),
    ("indices_nonzero", lambda s, n, b: ((b,), {})),
    ("index", lambda s, n, b: ((s, "a"), {})),
    ("index", lambda s, n, b: ((n, 3), {"start": 1})),
]


def _outcome(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as e:  # the same error, class and message, is the same result
        return ("error", type(e), str(e))


@settings(max_examples=40, deadline=None)
@given(strings=texts, numbers=ints)
def test_every_kernel_dvlin_uses_gives_what_pyarrow_compute_gives(
    strings: list[str | None], numbers: list[int | None]
) -> None:
    n = min(len(strings), len(numbers))
    s = pa.array(strings[:n], pa.string())
    k = pa.array(numbers[:n], pa.int64())
    b = real.is_valid(k) if n % 2 else real.greater(k, 0)
    for name, make in CASES:
        args, kwargs = make(s, k, b)
        ours = _outcome(arrow_kernels.lookup(name), args, kwargs)
        theirs = _outcome(getattr(real, name), args, kwargs)
        assert ours[0] == theirs[0], (name, ours, theirs)
        if ours[0] == "ok":
            assert ours[1].equals(theirs[1]), (name, ours[1], theirs[1])
        else:
            assert ours[1:] == theirs[1:], name


def test_options_positionally_by_keyword_or_as_options_give_the_same_result() -> None:
    values = pa.array(["a/b", "c", None, "A/"])
    pattern = arrow_kernels.lookup("match_substring_regex")
    expected = real.match_substring_regex(values, "a", ignore_case=True)
    assert pattern(values, "a", ignore_case=True).equals(expected)
    assert pattern(values, pattern="a", ignore_case=True).equals(expected)
    options = arrow_kernels.lookup("MatchSubstringOptions")("a", ignore_case=True)
    assert pattern(values, options=options).equals(expected)
    with pytest.raises(TypeError, match="both an 'options' argument"):
        pattern(values, "a", options=options)
    with pytest.raises(TypeError, match="takes 1 positional argument"):
        arrow_kernels.lookup("is_null")()


def test_an_expression_argument_builds_an_expression_as_pyarrow_compute_does() -> None:
    field = real.field("x")
    ours = arrow_kernels.lookup("is_in")(field, value_set=pa.array([1, 2]))
    assert ours.equals(real.is_in(field, value_set=pa.array([1, 2])))


def test_names_it_does_not_build_come_from_the_real_module() -> None:
    assert arrow_kernels.lookup("field") is real.field  # real is already imported here
    if hasattr(real, "utf8_zfill"):  # a kernel whose options class the stand-in cannot find
        assert arrow_kernels.lookup("utf8_zfill") is real.utf8_zfill
    assert arrow_kernels.lookup("SortOptions") is real.SortOptions
    assert arrow_kernels.lookup("call_function") is real.call_function
    with pytest.raises(AttributeError):
        arrow_kernels.lookup("no_such_kernel_anywhere")


# Runs the dvlin command like the console script, then says what it imported.
_CLI = """
import atexit, sys
from dvlin.cli import main
from dvlin import arrow_kernels
sys.argv = ["dvlin", *sys.argv[1:]]

def said() -> None:  # atexit: main() ends the process itself once the command is over
    heavy = [m for m in ("cloudpickle", "pyarrow.parquet", "pyarrow.fs", "_hashlib", "secrets",
                                 "dvlin.ops.check", "dvlin.policy.config")
             if m in sys.modules]
    print("real compute:", arrow_kernels.real_imported(), "heavy:", heavy,
          "pyarrow:", "pyarrow" in sys.modules, file=sys.stderr)

atexit.register(said)
main()
"""


def _dvlin(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DVLIN_AUTHOR": "Test <t@example.org>"}
    return subprocess.run(
        [sys.executable, "-c", _CLI, *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _private_writer_fits() -> bool:
    """True when this pyarrow's own Parquet writer takes the options manifests are written with."""
    from pyarrow._parquet import ParquetWriter

    from dvlin.objects import manifest_io

    try:
        writer = ParquetWriter(
            io.BytesIO(), pa.schema([("a", pa.int8())]), **manifest_io._WRITER_OPTIONS
        )
    except TypeError:
        return False
    writer.close()
    return True


def test_commit_status_and_switch_run_without_the_real_pyarrow_compute(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for i in range(3000):  # a few thousand files: the column paths, not the small-tree ones
        (data / f"d{i % 7}").mkdir(parents=True, exist_ok=True)
        (data / f"d{i % 7}" / f"f{i:05}.bin").write_bytes(b"%d" % i * (1 + i % 5))
    (data / "odd name ü\t.txt").write_bytes(b"odd")
    assert _dvlin(tmp_path, "init").returncode == 0
    first = _tree(data)
    # No OpenSSL, no pyarrow.parquet nor fs: unless this pyarrow's private Parquet writer
    # refuses the options spelled out for pyarrow 26; then the public one writes manifests.
    writes = set() if _private_writer_fits() else {"pyarrow.parquet", "pyarrow.fs"}

    def lean(stderr: str, *, allowed: set[str] = writes) -> bool:
        line = next(x for x in stderr.splitlines() if x.startswith("real compute:"))
        heavy = set(ast.literal_eval(line.split("heavy: ", 1)[1].split(" pyarrow:")[0]))
        return line.startswith("real compute: False ") and heavy <= allowed

    done = _dvlin(tmp_path, "commit", "data")
    assert done.returncode == 0, done.stderr
    assert lean(done.stderr) and "pyarrow: True" in done.stderr  # used, not the real pc
    (data / "d2" / "f00002.bin").write_bytes(b"touched")  # status has columns to compare
    done = _dvlin(tmp_path, "status")
    assert done.returncode == 0, done.stderr
    assert "~ d2/f00002.bin" in done.stdout and lean(done.stderr, allowed=set()), done.stderr
    for i in range(0, 3000, 100):  # with f00002 above: 31 changed
        (data / f"d{i % 7}" / f"f{i:05}.bin").write_bytes(b"changed %d" % i)
    (data / "d1" / "f00001.bin").unlink()
    second = _dvlin(tmp_path, "commit", "data")
    assert second.returncode == 0, second.stderr
    assert lean(second.stderr)
    assert "~31" in second.stdout and "-1" in second.stdout, second.stdout
    back = _dvlin(tmp_path, "checkout", "data@v1")
    assert back.returncode == 0, back.stderr
    assert lean(back.stderr)
    assert _tree(data) == first
    status = _dvlin(tmp_path, "status")
    assert "clean at data@v1" in status.stdout, status.stdout + status.stderr


def test_the_python_api_keeps_the_real_pyarrow_compute() -> None:
    code = (
        "import dvlin, dvlin.api, pyarrow.compute as pc\n"
        "print(hasattr(pc, '_make_global_functions'), 'Parameters' in pc.equal.__doc__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


@pytest.mark.slow
def test_the_column_kernels_agree_with_their_references_on_the_stand_in() -> None:
    # The property tests of the kernels, the checkout plan and the commit's columns, in a
    # process whose pyarrow.compute is the stand-in: its kernels against the references.
    run_suites(
        "from dvlin import arrow_kernels\n"
        "arrow_kernels.install()\n"
        "import pyarrow.compute as pc\n"
        "assert arrow_kernels.installed() and pc._dvlin_standin\n",
        extra=["tests/workspace/test_statcache.py"],
    )


def test_the_commit_looks_for_the_contracts_file_the_policy_reads() -> None:
    from dvlin.ops import refs
    from dvlin.policy import config

    assert refs.POLICY_FILE == config.POLICY_FILE
