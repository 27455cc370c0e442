"""Remotes against S3 (moto's server, its own process), side by side with ``dvc push/pull``.

Requests are counted from the server's access log, so both tools are counted the same way
(a LIST is a GET on the bucket with ``list-type`` or ``prefix`` in the query).

    python benchmarks/bench_remote.py [--files 20000] [--size 1024] [--big-mib 1024] \
        [--dvc /tmp/dvcvenv/bin/dvc] [--workdir /tmp/bench-remote] [--json-out figures.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_REQUEST = re.compile(r'"(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP/1\.[01]" (\d+)')


@dataclass
class Figure:
    """One measured step."""

    tool: str
    step: str
    seconds: float
    requests: int
    lists: int
    by_method: dict[str, int]

    def row(self) -> str:
        methods = " ".join(f"{m} {n}" for m, n in sorted(self.by_method.items()))
        return (
            f"| {self.tool} | {self.step} | {self.seconds:.2f} s | {self.requests:,} | "
            f"{self.lists} | {methods} |"
        )


class Server:
    """``python -m moto.server`` on a free loopback port, with its access log in a file."""

    def __init__(self, workdir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "moto.log"
        self._log = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)

    def mark(self) -> int:
        """How many requests the server has logged so far."""
        time.sleep(0.3)  # let the server flush its log
        return len(self._requests())

    def _requests(self) -> list[tuple[str, str, str]]:
        return _REQUEST.findall(self.log.read_text(errors="replace"))

    def since(self, mark: int) -> tuple[int, int, dict[str, int]]:
        """Requests, LIST requests and requests per method after ``mark``."""
        time.sleep(0.3)
        found = self._requests()[mark:]
        by_method: dict[str, int] = {}
        lists = 0
        for method, path, _ in found:
            by_method[method] = by_method.get(method, 0) + 1
            query = path.partition("?")[2]
            if method == "GET" and ("list-type" in query or "prefix=" in query):
                lists += 1
        return len(found), lists, by_method

    def bucket(self, name: str) -> None:
        import boto3

        boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        ).create_bucket(Bucket=name)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        self._log.close()


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(
    server: Server, tool: str, step: str, cmd: list[str], cwd: Path, env: dict[str, str]
) -> Figure:
    mark = server.mark()
    seconds = run(cmd, cwd, env)
    n, lists, by_method = server.since(mark)
    figure = Figure(tool, step, seconds, n, lists, by_method)
    print(figure.row(), flush=True)
    return figure


def make_files(folder: Path, count: int, size: int, seed: int = 20261130) -> None:
    rng = random.Random(seed)
    for i in range(count):
        sub = folder / f"d{i % 100:02}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:06}.bin").write_bytes(rng.randbytes(size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--big-mib", type=int, default=1024, help="0 skips the large file")
    parser.add_argument("--dvc", help="path to a dvc executable (its own venv, with dvc-s3)")
    parser.add_argument("--workdir", default="/tmp/bench-remote")
    parser.add_argument("--json-out")
    parser.add_argument("--only-big", action="store_true", help="only the large-file steps")
    args = parser.parse_args()

    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": str(ROOT),
        "DVLIN_AUTHOR": "Bench <bench@example.org>",
        "DVLIN_NO_TTY": "1",
    }
    server = Server(work)
    figures: list[Figure] = []
    try:
        print("| tool | step | time | requests | LIST | by method |")
        print("|---|---|---|---|---|---|")
        server.bucket("dvlin-bench")
        if not args.only_big:
            figures += small_files(server, args, work, env)
            if args.dvc:
                figures += dvc_steps(server, args, work, env)
        if args.big_mib:
            figures += big_file(server, args, work, env)
    finally:
        server.stop()
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps([f.__dict__ for f in figures], indent=2) + "\n", encoding="utf-8"
        )


DVLIN = [sys.executable, "-m", "dvlin"]


def small_files(
    server: Server, args: argparse.Namespace, work: Path, env: dict[str, str]
) -> list[Figure]:
    """dvlin: first push, no-op push, push of one new file, clone + checkout."""
    repo = work / "dvlin-a"
    repo.mkdir()
    make_files(repo / "data/ev", args.files, args.size)
    run([*DVLIN, "init"], repo, env)
    run([*DVLIN, "commit", "data/ev", "--name", "ev"], repo, env)
    url = "s3://dvlin-bench/remote"
    opt = ["--option", f"endpoint_url={server.endpoint}"]
    run([*DVLIN, "remote", "add", "origin", url, *opt], repo, env)
    figures = [
        measure(server, "dvlin", "first push", [*DVLIN, "push"], repo, env),
        measure(server, "dvlin", "no-op push", [*DVLIN, "push"], repo, env),
    ]
    (repo / "data/ev/new.bin").write_bytes(b"one more file\n")
    run([*DVLIN, "commit", "data/ev", "--name", "ev"], repo, env)
    figures.append(measure(server, "dvlin", "push one new file", [*DVLIN, "push"], repo, env))
    clone = [*DVLIN, "clone", url, str(work / "dvlin-b"), *opt]
    figures.append(measure(server, "dvlin", "clone + checkout", clone, work, env))
    return figures


def dvc_steps(
    server: Server, args: argparse.Namespace, work: Path, env: dict[str, str]
) -> list[Figure]:
    """DVC on the same data and server: push, no-op push, one new file, fresh pull."""
    server.bucket("dvc-bench")
    d = work / "dvc-a"
    d.mkdir()
    make_files(d / "data/ev", args.files, args.size)
    dvc = [args.dvc]
    run([*dvc, "init", "--no-scm", "-q"], d, env)
    run([*dvc, "remote", "add", "-d", "s3", "s3://dvc-bench/remote"], d, env)
    run([*dvc, "remote", "modify", "s3", "endpointurl", server.endpoint], d, env)
    run([*dvc, "add", "data/ev", "-q"], d, env)
    figures = [
        measure(server, "dvc", "first push", [*dvc, "push", "-q"], d, env),
        measure(server, "dvc", "no-op push", [*dvc, "push", "-q"], d, env),
    ]
    (d / "data/ev/new.bin").write_bytes(b"one more file\n")
    run([*dvc, "add", "data/ev", "-q"], d, env)
    figures.append(measure(server, "dvc", "push one new file", [*dvc, "push", "-q"], d, env))
    fresh = work / "dvc-b"
    fresh.mkdir()
    shutil.copytree(d / ".dvc", fresh / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp"))
    (fresh / "data").mkdir()
    shutil.copy(d / "data/ev.dvc", fresh / "data/ev.dvc")
    figures.append(measure(server, "dvc", "fresh pull", [*dvc, "pull", "-q"], fresh, env))
    return figures


def big_file(
    server: Server, args: argparse.Namespace, work: Path, env: dict[str, str]
) -> list[Figure]:
    """One large file: dvlin push and clone, against s3fs copying it directly."""
    big = work / "dvlin-big"
    blob = big / "data/big/blob.bin"
    blob.parent.mkdir(parents=True)
    with open(blob, "wb") as f:
        rng = random.Random(1)
        for _ in range(args.big_mib):
            f.write(rng.randbytes(1 << 20))
    opt = ["--option", f"endpoint_url={server.endpoint}"]
    url = "s3://dvlin-bench/big"
    run([*DVLIN, "init"], big, env)
    run([*DVLIN, "commit", "data/big", "--name", "big"], big, env)
    run([*DVLIN, "remote", "add", "origin", url, *opt], big, env)
    mib = args.big_mib
    figures = [
        measure(server, "dvlin", f"push {mib} MiB file", [*DVLIN, "push"], big, env),
        measure(
            server,
            "dvlin",
            f"clone {mib} MiB file",
            [*DVLIN, "clone", url, str(work / "dvlin-big-b"), *opt],
            work,
            env,
        ),
    ]
    # The floor: s3fs copying the same file (multipart, 32 MiB parts like dvlin's packs).
    put = (
        "import s3fs,sys; fs=s3fs.S3FileSystem(endpoint_url=sys.argv[1]); "
        "fs.put_file(sys.argv[2], 'dvlin-bench/s3fs-copy/blob.bin', chunksize=32 << 20)"
    )
    get = (
        "import s3fs,sys; fs=s3fs.S3FileSystem(endpoint_url=sys.argv[1]); "
        "fs.get_file('dvlin-bench/s3fs-copy/blob.bin', sys.argv[2])"
    )
    for step, code, target in (
        (f"put_file {mib} MiB", put, str(blob)),
        (f"get_file {mib} MiB", get, str(work / "copy.bin")),
    ):
        try:
            figures.append(
                measure(
                    server,
                    "s3fs",
                    step,
                    [sys.executable, "-c", code, server.endpoint, target],
                    work,
                    env,
                )
            )
        except subprocess.CalledProcessError:
            print(f"| s3fs | {step} | failed (moto) | | | |", flush=True)
    return figures


if __name__ == "__main__":
    main()
