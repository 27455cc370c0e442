"""Scale benchmark: N files of 1 KiB in 1,000 folders (issue 12, "Scale targets").

For each N (``--n 20000,200000,1000000``) one run, in ``WORKDIR/nN``:

  floors   ``find data``, ``cp -r data``, ``cat`` of every file
  dvlin    first commit, clean ``status``, commit after 0.1 % of files rewritten,
           restore of the deleted tree (``checkout data@latest --to restored`` as
           run.py; the tree is renamed away rather than deleted, so removing a
           million files is not on the clock), ``ls REF --json | head -n 5``,
           ``show REF``, ``diff v1 v2`` (paths), ``fsck``, ``gc`` (a dry run)
  DVC      (with ``--dvc``) ``dvc add``, ``dvc status``, ``dvc add`` after the
           change, ``dvc checkout`` of the set-aside tree

Every command is its own child process, measured by run.py's ``Runner`` (wall
time, peak RSS from GNU ``time -v`` or ``os.wait4``) with a per-step timeout: a
hung step is killed and reported, a failing step prints its output tail and the
run goes on.  Targets are judged per N (the 1,000,000-file list from N = 1M up,
the 20,000-file ratios against DVC below it), and the curve -- microseconds per
file as N grows -- is printed at the end.

    python benchmarks/scale.py --n 200000 --dvc /tmp/dvc-venv/bin/dvc
    python benchmarks/scale.py --n 20000,200000,1000000 --dvc /tmp/dvc-venv/bin/dvc
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_data  # noqa: E402  (sibling modules, benchmarks/ is not a package)
import run as bench  # noqa: E402

MIB = gen_data.MIB
FILE_SIZE = 1024
FOLDERS = 1000
FRACTION = 0.001
MILLION = 1_000_000

# (key, label) of every dvlin step, in run order; the commands are built in Scale.dvlin_steps.
DVLIN_STEPS = ("commit", "status", "commit_change", "restore", "ls", "show", "diff", "fsck", "gc")
DVC_STEPS = ("commit", "status", "commit_change", "restore")
FLOORS = ("find", "cp", "cat")
# a pipe into head: dvlin may end by SIGPIPE (141 from the shell) once head has its lines
PIPE_OK = (0, 141)


@dataclass
class Target:
    """One target of the issue: a check on one dvlin step."""

    step: str
    text: str
    check: Callable[[ScaleRun], bool | None]
    rss_mib: float | None = None


@dataclass
class ScaleRun:
    """Figures of one N."""

    n: int
    work: Path
    m: dict[str, bench.Measurement] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rows: list[bench.Row] = field(default_factory=list)
    gen_s: float = 0.0

    def wall(self, key: str) -> float | None:
        """Wall time of a successful measurement, else None."""
        return bench.wall(self.m.get(key))


# --------------------------------------------------------------------------
# targets
# --------------------------------------------------------------------------


def vs_dvc(step: str, limit: float) -> Callable[[ScaleRun], bool | None]:
    """dvlin <= DVC * limit (None without a DVC figure)."""

    def check(r: ScaleRun) -> bool | None:
        dl, dv = r.wall(f"dvlin_{step}"), r.wall(f"dvc_{step}")
        return None if dl is None or dv is None else dl <= dv * limit

    return check


def vs_floor(step: str, floor: str, limit: float) -> Callable[[ScaleRun], bool | None]:
    """dvlin <= floor * limit."""

    def check(r: ScaleRun) -> bool | None:
        dl, fl = r.wall(f"dvlin_{step}"), r.wall(f"floor_{floor}")
        return None if dl is None or fl is None else dl <= fl * limit

    return check


def under(step: str, seconds: float) -> Callable[[ScaleRun], bool | None]:
    """dvlin < seconds."""

    def check(r: ScaleRun) -> bool | None:
        dl = r.wall(f"dvlin_{step}")
        return None if dl is None else dl <= seconds

    return check


def both(*checks: Callable[[ScaleRun], bool | None]) -> Callable[[ScaleRun], bool | None]:
    """All checks that have an answer must pass (None if none has one)."""

    def check(r: ScaleRun) -> bool | None:
        got = [c(r) for c in checks]
        known = [g for g in got if g is not None]
        return None if not known else all(known)

    return check


def info(_r: ScaleRun) -> bool | None:
    """No target at this N."""
    return None


def targets_for(n: int) -> list[Target]:
    """The issue's targets for N files (1M list from 1,000,000 up, else the 20k ratios)."""
    if n >= MILLION:
        return [
            Target("commit", "<= 120 s, <= 1 GiB", under("commit", 120), 1024),
            Target("status", "<= 3 s", under("status", 3)),
            Target("commit_change", "<= 5 s", under("commit_change", 5)),
            Target("restore", "<= 2 x cp -r", vs_floor("restore", "cp", 2)),
            Target("ls", "<= 1.5 s, <= 400 MiB", under("ls", 1.5), 400),
            Target("show", "<= 1.5 s, <= 400 MiB", under("show", 1.5), 400),
            Target("diff", "<= 1.5 s, <= 400 MiB", under("diff", 1.5), 400),
            Target("fsck", "linear (curve)", info),
            Target("gc", "linear (curve)", info),
        ]
    return [
        Target("commit", "<= dvc/6", vs_dvc("commit", 1 / 6)),
        Target("status", "<= dvc/6", vs_dvc("status", 1 / 6)),
        Target("commit_change", "<= dvc/5", vs_dvc("commit_change", 1 / 5)),
        Target(
            "restore",
            "<= dvc/5, <= 1.5 x cp -r",
            both(vs_dvc("restore", 1 / 5), vs_floor("restore", "cp", 1.5)),
        ),
        Target("ls", "(info)", info),
        Target("show", "(info)", info),
        Target("diff", "(info)", info),
        Target("fsck", "linear (curve)", info),
        Target("gc", "linear (curve)", info),
    ]


STEP_NAMES = {
    "commit": "first commit",
    "status": "clean status",
    "commit_change": f"commit after {FRACTION:.1%} changed",
    "restore": "restore deleted tree",
    "ls": "ls REF --json | head -n 5",
    "show": "show REF",
    "diff": "diff v1 v2 (paths)",
    "fsck": "fsck",
    "gc": "gc (dry run)",
}
FLOOR_FOR = {"commit": "cp", "restore": "cp", "status": "find", "commit_change": "find"}


def build_rows(r: ScaleRun) -> list[bench.Row]:
    """One row per dvlin step with its target and verdict."""
    rows = []
    for t in targets_for(r.n):
        dl, dv = r.m.get(f"dvlin_{t.step}"), r.m.get(f"dvc_{t.step}")
        fl = r.m.get(f"floor_{FLOOR_FOR[t.step]}") if t.step in FLOOR_FOR else None
        v, why = bench.verdict(dl, lambda t=t: t.check(r), check_rss=False)
        if dl is not None and dl.ok and t.rss_mib is not None and dl.maxrss_mib is not None:
            if dl.maxrss_mib > t.rss_mib:
                why.append(f"peak RSS {dl.maxrss_mib:.0f} MiB > {t.rss_mib:.0f} MiB")
                v = "FAIL"
            elif v == "n/a":
                v = "PASS"
        tdl, tdv = bench.wall(dl), bench.wall(dv)
        ratio = f"{tdl / tdv:.3f}" if tdl and tdv else "-"
        floor = f"{bench.fmt_m(fl)} ({fl.label})" if fl else "-"
        rows.append(
            bench.Row(
                STEP_NAMES[t.step], bench.fmt_m(dl), bench.fmt_m(dv), floor, ratio, t.text, v, why
            )
        )
    return rows


def curve(runs: list[ScaleRun]) -> list[dict[str, object]]:
    """Microseconds per file for every measured step at every N.

    ``linear`` compares each N with the previous one: the time per file may grow
    by at most 1.5x (None with one N only).
    """
    keys = [
        *(f"floor_{f}" for f in FLOORS),
        *(f"dvlin_{s}" for s in DVLIN_STEPS),
        *(f"dvc_{s}" for s in DVC_STEPS),
    ]
    out: list[dict[str, object]] = []
    for key in keys:
        per: dict[str, float | None] = {}
        label = None
        for r in runs:
            m = r.m.get(key)
            if m is None:
                continue
            label = label or m.label
            w = bench.wall(m)
            per[str(r.n)] = None if w is None else w / r.n * 1e6
        if not per:
            continue
        vals = [v for v in per.values() if v is not None]
        linear = None
        if len(vals) >= 2:
            linear = all(b <= a * 1.5 for a, b in zip(vals, vals[1:], strict=False))
        out.append({"step": key, "label": label, "us_per_file": per, "linear": linear})
    return out


# --------------------------------------------------------------------------
# one N
# --------------------------------------------------------------------------


class Scale:
    """Runs every step for one N in its own folder."""

    def __init__(
        self,
        a: argparse.Namespace,
        n: int,
        work: Path,
        dvlin: list[str] | None,
        dvc: list[str] | None,
        env: dict[str, str],
    ) -> None:
        self.a, self.n, self.dvlin, self.dvc, self.env = a, n, dvlin, dvc, env
        self.r = ScaleRun(n, work)
        (work / "logs").mkdir(parents=True, exist_ok=True)
        self.runner = bench.Runner(work / "logs", a.timeout, a.verbose)

    @property
    def dl(self) -> Path:
        """dvlin's repository (its workspace holds ``data``)."""
        return self.r.work / "dvlin"

    @property
    def dv(self) -> Path:
        """DVC's repository."""
        return self.r.work / "dvc"

    def say(self, msg: str) -> None:
        """Progress on stderr."""
        self.runner.say(f"[n={self.n}] {msg}")

    def run(
        self,
        key: str,
        label: str,
        cmd: list[str],
        cwd: Path,
        repeat: int = 1,
        ok_rc: tuple[int, ...] = (0,),
    ) -> bench.Measurement:
        """Measure one command; an exit code in ``ok_rc`` counts as success."""
        m = self.runner.measure(label, cmd, cwd, self.env, repeat, ok_rc)
        self.r.m[key] = m
        return m

    def dvlin_cmd(self, args: str) -> list[str]:
        """The dvlin command line for ``args``."""
        assert self.dvlin is not None
        return [*self.dvlin, *shlex.split(args)]

    # -- steps -------------------------------------------------------------
    def generate(self) -> None:
        """Write the tree into dvlin's workspace (and copy it for DVC), unmeasured."""
        t = time.perf_counter()
        self.dl.mkdir(parents=True)
        gen_data.make_tree(self.dl / "data", self.n, FOLDERS, self.a.seed, FILE_SIZE)
        self.r.gen_s = time.perf_counter() - t
        self.say(f"generated {self.n} files of {FILE_SIZE} B in {self.r.gen_s:.1f} s")
        if self.dvc:
            self.dv.mkdir()
            bench.copy_tree(self.dl / "data", self.dv / "data")

    def floors(self) -> None:
        """find, cp -r and cat of the tree."""
        d = self.dl
        self.run("floor_find", "find data", ["sh", "-c", "find data > /dev/null"], d)
        self.run("floor_cp", "cp -r data", ["cp", "-r", "data", str(self.r.work / "floor-copy")], d)
        self.set_aside(self.r.work / "floor-copy")
        self.run(
            "floor_cat",
            "cat all files",
            ["sh", "-c", "find data -type f -exec cat {} + > /dev/null"],
            d,
        )

    def dvlin_steps(self) -> None:
        """Every dvlin step in order; a failure is recorded and the next step runs."""
        if not self.dvlin:
            return
        d, r = self.dl, self.a.repeat
        self.run("dvlin_init", "dvlin init", self.dvlin_cmd("init"), d)
        self.run("dvlin_commit", "dvlin commit data", self.dvlin_cmd("commit data --name data"), d)
        self.run("dvlin_status", "dvlin status", self.dvlin_cmd("status"), d, repeat=r)
        changed = gen_data.modify_tree(
            d / "data", self.n, FOLDERS, FRACTION, self.a.seed, 1, FILE_SIZE
        )
        self.say(f"rewrote {len(changed)} files in dvlin's workspace")
        self.run(
            "dvlin_commit_change",
            "dvlin commit data (after change)",
            self.dvlin_cmd("commit data --name data"),
            d,
        )
        self.set_aside(d / "data")
        self.run(
            "dvlin_restore",
            "dvlin checkout data@latest --to restored",
            self.dvlin_cmd("checkout data@latest --to restored"),
            d,
        )
        self.verify("dvlin_restore", d / "restored")
        self.set_aside(d / "restored")
        ls = f"{shlex.join(self.dvlin_cmd('ls data@v2 --json'))} | head -n 5"
        self.run(
            "dvlin_ls",
            "dvlin ls data@v2 --json | head -n 5",
            ["bash", "-c", f"set -o pipefail; {ls}"],
            d,
            repeat=r,
            ok_rc=PIPE_OK,
        )
        self.run("dvlin_show", "dvlin show data@v2", self.dvlin_cmd("show data@v2"), d, repeat=r)
        self.run(
            "dvlin_diff",
            "dvlin diff data@v1 data@v2",
            self.dvlin_cmd("diff data@v1 data@v2"),
            d,
            repeat=r,
        )
        self.run("dvlin_fsck", "dvlin fsck", self.dvlin_cmd("fsck"), d)
        self.run("dvlin_gc", "dvlin gc (dry run)", self.dvlin_cmd("gc"), d)

    def dvc_steps(self) -> None:
        """dvc add / status / add after the change / checkout of the deleted tree."""
        if not self.dvc:
            return
        d, dvc = self.dv, self.dvc
        self.run("dvc_init", "dvc init --no-scm", [*dvc, "init", "--no-scm"], d)
        bench.configure_dvc(dvc, d, self.env, self.r.work / "dvc-site-cache")
        self.run("dvc_commit", "dvc add data", [*dvc, "add", "data"], d)
        self.run("dvc_status", "dvc status", [*dvc, "status"], d, repeat=self.a.repeat)
        gen_data.modify_tree(d / "data", self.n, FOLDERS, FRACTION, self.a.seed, 1, FILE_SIZE)
        self.run("dvc_commit_change", "dvc add data (after change)", [*dvc, "add", "data"], d)
        self.set_aside(d / "data")
        self.run("dvc_restore", "dvc checkout", [*dvc, "checkout"], d)
        self.verify("dvc_restore", d / "data")

    def set_aside(self, path: Path) -> None:
        """Take a tree out of the way by renaming it; it is deleted with the rest of this N.

        A rename is instant, so deleting a million files is not on the clock between
        steps (for the measured command the tree is gone either way).
        """
        if not path.exists():
            return
        trash = self.r.work / "trash"
        trash.mkdir(exist_ok=True)
        path.rename(trash / f"{len(list(trash.iterdir()))}-{path.name}")

    def verify(self, key: str, root: Path) -> None:
        """Check a restored tree: the full file list, and the bytes of a sample.

        The expected bytes are regenerated (the tree is a pure function of the seed),
        so no reference copy is kept.  The sample is every changed file plus every
        k-th file (``--verify full``: every file).
        """
        m = self.r.m.get(key)
        if m is None or not m.ok or self.a.verify == "none":
            return
        ok, why = verify_tree(root, self.n, self.a.seed, full=self.a.verify == "full")
        m.note = (m.note + " " if m.note else "") + (
            f"verified: {why}" if ok else f"WRONG RESULT: {why}"
        )
        self.say(f"verify {key}: {'ok' if ok else 'FAILED'} ({why})")

    def run_all(self) -> ScaleRun:
        """Generate, measure, judge; the folder is removed afterwards unless --keep."""
        try:
            self.generate()
            self.floors()
            self.dvlin_steps()
            self.dvc_steps()
        except KeyboardInterrupt:
            self.r.notes.append("interrupted: figures are partial")
            raise
        except Exception as exc:  # a harness bug must not lose the other steps and Ns
            self.r.notes.append(f"harness error, later steps skipped: {exc!r}")
            self.say(f"harness error: {exc!r}")
        finally:
            self.r.rows = build_rows(self.r)
            if not self.a.keep:
                self.say("removing this N's trees and stores")
                subs = ("dvlin", "dvc", "trash", "floor-copy", "dvc-site-cache")
                subprocess.run(["rm", "-rf", *(str(self.r.work / x) for x in subs)], check=False)
                bench.deleted_now()
        return self.r


def verify_tree(root: Path, n: int, seed: int, *, full: bool) -> tuple[bool, str]:
    """Compare ``root`` with the expected latest version (0.1 % of files at round 1)."""
    layout = gen_data.TreeLayout(files=n, folders=FOLDERS)
    want = {layout.relpath(i): i for i in range(n)}
    if not root.is_dir():
        return False, f"{root.name} missing"
    got = {
        os.path.relpath(os.path.join(dp, f), root) for dp, _, names in os.walk(root) for f in names
    }
    if got != set(want):
        return False, (
            f"file sets differ ({len(got)} vs {n} files; "
            f"{len(got - set(want))} extra, {len(set(want) - got)} missing)"
        )
    changed = set(gen_data.pick_modified(n, FRACTION, seed, 1))
    step = 1 if full else max(1, n // 2000)
    sample = sorted(changed | set(range(0, n, step)))
    for i in sample:
        expect = gen_data.small_file_bytes(seed, i, 1 if i in changed else 0, FILE_SIZE)
        if (root / layout.relpath(i)).read_bytes() != expect:
            return False, f"contents differ: {layout.relpath(i)}"
    return True, f"{n} files present, {len(sample)} compared byte for byte"


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------


def render_curve(c: list[dict[str, object]], ns: list[int]) -> str:
    """Microseconds per file, one row per step, one column per N."""
    head = ["step", *(f"{n:,} files" for n in ns), "linear?"]
    body = []
    for row in c:
        per = row["us_per_file"]
        assert isinstance(per, dict)
        cells = [f"{per[str(n)]:.1f}" if per.get(str(n)) is not None else "-" for n in ns]
        lin = {True: "yes", False: "NO", None: "-"}[row["linear"]]  # type: ignore[index]
        body.append([str(row["label"]), *cells, lin])
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    line = lambda cells: " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(head), "-+-".join("-" * w for w in widths), *map(line, body)])


def render_text(runs: list[ScaleRun], meta: dict[str, object]) -> str:
    """Human-readable report: one table per N, then the curve."""
    out = [
        "dvlin scale benchmark -- 1 KiB files in 1,000 folders, warm page cache",
        f"dvlin: {meta['dvlin']}   dvc: {meta['dvc']}   cpus: {meta['cpus']}",
        "last tree removed by a benchmark: "
        + (
            "none noted"
            if meta.get("since_delete_s") is None
            else f"{meta['since_delete_s']} s before the start"
        ),
        "CPU stolen by the hypervisor during the run: "
        + ("not known" if meta.get("steal_s") is None else f"{meta['steal_s']} s"),
        f"cells: wall time, peak RSS (status/ls/show/diff: median of {meta['repeat']} runs; "
        f"RSS via {meta['rss_source']})",
    ]
    for r in runs:
        out += [
            "",
            f"== N = {r.n:,} files (generated in {r.gen_s:.1f} s)",
            bench.render_table(r.rows),
            "floors: "
            + "; ".join(
                f"{r.m[k].label}: {bench.fmt_m(r.m[k])}"
                for k in (f"floor_{f}" for f in FLOORS)
                if k in r.m
            ),
        ]
        for row in r.rows:
            out += [f"! {row.step}: {why}" for why in row.reasons]
        for m in r.m.values():
            if m.note and (not m.ok or "verified" in m.note):
                out.append(f"  {m.label}: {m.note}")
        out += [f"note: {x}" for x in r.notes]
    c = curve(runs)
    if c:
        out += [
            "",
            "time per file (microseconds) as N grows:",
            render_curve(c, [r.n for r in runs]),
        ]
    return "\n".join(out)


def to_json(runs: list[ScaleRun], meta: dict[str, object]) -> str:
    """All figures as JSON: meta, one entry per N, the curve."""
    return json.dumps(
        {
            "meta": meta,
            "runs": [
                {
                    "n": r.n,
                    "generate_s": r.gen_s,
                    "rows": [asdict(x) for x in r.rows],
                    "measurements": {k: asdict(m) | {"ok": m.ok} for k, m in r.m.items()},
                    "notes": r.notes,
                }
                for r in runs
            ],
            "curve": curve(runs),
        },
        indent=2,
    )


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------


def parse_n(text: str) -> list[int]:
    """'20000,200000,1e6' -> [20000, 200000, 1000000]."""
    try:
        ns = [int(float(x.replace("_", ""))) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--n wants numbers separated by commas, got {text!r}"
        ) from None
    if not ns or any(n < 1 for n in ns):
        raise argparse.ArgumentTypeError(f"--n wants positive numbers, got {text!r}")
    return sorted(set(ns))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description="dvlin at N files of 1 KiB (vs DVC and the floors).")
    p.add_argument(
        "--n",
        type=parse_n,
        default=[200_000],
        help="number(s) of files, comma-separated (default 200000)",
    )
    p.add_argument(
        "--workdir",
        help="scratch folder (must be empty or new; kept, with logs); "
        "default: a temp dir, removed after",
    )
    p.add_argument("--keep", action="store_true", help="keep every N's trees and stores")
    p.add_argument("--seed", type=int, default=gen_data.DEFAULT_SEED)
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of the short steps (status, ls, show, diff; median)",
    )
    p.add_argument(
        "--timeout", type=float, default=1800, help="seconds per step before it is killed"
    )
    p.add_argument(
        "--verify",
        choices=("sample", "full", "none"),
        default="sample",
        help="check restored trees: file list + sampled bytes (default), all bytes, off",
    )
    p.add_argument("--dvc", help="dvc command (default: $DVLIN_BENCH_DVC, else dvc on PATH)")
    p.add_argument("--dvlin", help="dvlin command (default as in run.py)")
    p.add_argument(
        "--dvc-max",
        type=int,
        default=200_000,
        help="run DVC only up to this N (default 200000; the 1M targets are against the floors)",
    )
    p.add_argument("--skip-dvc", action="store_true")
    p.add_argument("--json", action="store_true", help="print JSON instead of the tables")
    p.add_argument("--json-out", help="also write the JSON to this file")
    p.add_argument("--fail-on-miss", action="store_true", help="exit 1 if any target fails")
    p.add_argument(
        "--settle",
        type=float,
        default=bench.SETTLE_SECONDS,
        metavar="SECONDS",
        help="first wait until this long after a benchmark last removed a tree "
        "(default %(default).0f; 0: do not wait)",
    )
    p.add_argument("--verbose", action="store_true", help="echo every measured command")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one run per N, then the report."""
    a = parse_args(argv)
    try:
        a.since_delete = bench.settle(
            a.settle, lambda msg: print(f"[scale] {msg}", file=sys.stderr)
        )
    except KeyboardInterrupt:
        return 130
    a.steal_at_start = bench.cpu_steal()
    temp = a.workdir is None
    work = Path(a.workdir or tempfile.mkdtemp(prefix="dvlin-scale-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if any(work.iterdir()):
        print(f"workdir {work} is not empty; give an empty or new folder", file=sys.stderr)
        return 2
    env = bench.bench_env(work)
    notes: list[str] = []
    tools = argparse.Namespace(skip_dvlin=False, skip_dvc=a.skip_dvc, dvlin=a.dvlin, dvc=a.dvc)
    dvlin, dvc, versions = bench.resolve_tools(tools, env, notes)
    for x in notes:
        print(f"[scale] {x}", file=sys.stderr)
    need = max(a.n) * 4096 * 4  # workspace, store, restored copy, DVC or cp -r floor
    if shutil.disk_usage(work).free < need:
        notes.append(
            f"low disk: {shutil.disk_usage(work).free / MIB:.0f} MiB free, "
            f"about {need / MIB:.0f} MiB needed"
        )
    runs: list[ScaleRun] = []
    # SIGTERM, and SIGINT even in a background job (where the shell ignores it), stop the
    # run the same way: the report of what was measured is still printed and written.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    try:
        for n in a.n:
            one = Scale(a, n, work / f"n{n}", dvlin, dvc if n <= a.dvc_max else None, env)
            runs.append(one.r)
            one.run_all()
            if a.json_out:  # after each N, so a long run that dies keeps what it measured
                Path(a.json_out).write_text(to_json(runs, meta_of(a, versions, work, notes)))
    except KeyboardInterrupt:
        notes.append("interrupted: figures are partial")
    finally:
        meta = meta_of(a, versions, work, notes)
        text = to_json(runs, meta)
        if a.json_out:
            Path(a.json_out).write_text(text)
        print(text if a.json else render_text(runs, meta), flush=True)
        if temp and not a.keep:
            shutil.rmtree(work, ignore_errors=True)
            bench.deleted_now()
    failed = any(row.verdict in ("FAIL", "ERR") for r in runs for row in r.rows)
    return 1 if a.fail_on_miss and failed else 0


def _interrupt(signum: int, _frame: object) -> None:
    """Signal handler: stop the run as Ctrl-C does."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def meta_of(
    a: argparse.Namespace, versions: dict[str, str], work: Path, notes: list[str]
) -> dict[str, object]:
    """The run's context for the report."""
    return {
        "dvlin": versions.get("dvlin", "skipped"),
        "dvc": versions.get("dvc", "skipped"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "n": a.n,
        "file_size": FILE_SIZE,
        "folders": FOLDERS,
        "fraction_changed": FRACTION,
        "repeat": a.repeat,
        "timeout_s": a.timeout,
        "workdir": str(work),
        "warm_cache": True,
        "rss_source": "gnu-time" if bench.GNU_TIME else "wait4",
        "since_delete_s": None if a.since_delete is None else round(a.since_delete),
        "steal_s": bench.stolen_since(getattr(a, "steal_at_start", None)),
        "notes": notes,
    }


if __name__ == "__main__":
    sys.exit(main())
