"""Shared fixtures: repos in tmp_path, stores on memory, local and S3 (moto), a CLI runner,
and a three-stage pipeline (raw → features → model) for the lineage, run, stale and model tests."""

from __future__ import annotations

import json
import os
import stat
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from typer.testing import CliRunner

from dvlin import Repo

# CI runs the property tests on fixed examples (.ci/run sets HYPOTHESIS_PROFILE=ci): whether a
# change lands must not hang on a lucky draw. Other runs keep drawing new examples, and a
# failure they find is replayed from .hypothesis/ until it is fixed.
hypothesis_settings.register_profile("ci", derandomize=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVLIN_AUTHOR", "Test Author <test@example.org>")
    monkeypatch.setenv("DVLIN_LOCK_TIMEOUT", "20")
    monkeypatch.delenv("DVLIN_DEBUG", raising=False)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    """An initialised repo in tmp_path/repo with the default local store; the cwd is its root.

    Its parent (tmp_path) is private to the test: use it for --to folders.
    """
    r = Repo.init(tmp_path / "repo")
    monkeypatch.chdir(r.root)
    yield r
    r.close()


def _atomic_conditional_puts() -> None:
    """Make moto's conditional PUT atomic, as S3's is.

    moto checks ``If-Match`` / ``If-None-Match`` and then stores the object in two steps, with
    no lock between them, and its threaded server runs requests side by side: two pushes that
    swap the same head could both succeed there, which S3 never allows (and the concurrent-push
    tests then lose a version in the emulator only). One lock around each object PUT closes it.
    """
    import threading

    from moto.s3.responses import S3Response

    put = getattr(S3Response, "_key_response_put", None)
    if put is None or getattr(put, "_dvlin_atomic", False):
        return
    lock = threading.Lock()

    def atomic_put(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return put(self, *args, **kwargs)

    atomic_put._dvlin_atomic = True  # type: ignore[attr-defined]
    setattr(S3Response, "_key_response_put", atomic_put)  # noqa: B010


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 endpoint for the whole session: moto's server on a free loopback port."""
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    _atomic_conditional_puts()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the moto server, with dummy credentials in the environment."""
    # Credentials come from the environment, as for any S3 user; these open nothing real.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    import boto3

    bucket = f"dvlin-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    return bucket


def s3_filesystem(endpoint: str) -> Any:
    """An s3fs filesystem on ``endpoint`` (no instance cache: each test its own client)."""
    import s3fs

    return s3fs.S3FileSystem(
        client_kwargs={"endpoint_url": endpoint, "region_name": "us-east-1"},
        skip_instance_cache=True,
    )


@pytest.fixture(params=["memory", "file", "s3"])
def store_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """A store URL elsewhere: a private memory:// root, a file:// folder outside the repo, or
    a bucket on moto's S3 server (its endpoint set in fsspec's config, as a user would)."""
    if request.param == "memory":
        url = f"memory://dvlin-test-{uuid.uuid4().hex}"
        yield url
        import fsspec

        fs = fsspec.filesystem("memory")
        path = url[len("memory://") :]
        if fs.exists(path):
            fs.rm(path, recursive=True)
    elif request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        import fsspec.config
        import s3fs

        monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": endpoint})
        s3fs.S3FileSystem.clear_instance_cache()
        yield f"s3://{bucket}/objects"
        s3fs.S3FileSystem.clear_instance_cache()
    else:
        yield (tmp_path_factory.mktemp("store")).as_uri()


@pytest.fixture
def any_repo(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    """A repo whose object store is at ``store_url`` (memory, a file:// folder elsewhere, S3)."""
    root = tmp_path / "work"
    monkeypatch.chdir(tmp_path)
    r = Repo.init(root, storage=store_url)
    monkeypatch.chdir(root)
    yield r
    r.close()


@dataclass
class Ran:
    """What one CLI invocation did."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def cli() -> Cli:
    """Run ``dvlin`` in-process: ``cli("commit", "data", "--name", "x")``."""
    return Cli()


class Cli:
    """In-process CLI runner that keeps stdout and stderr apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool | None = None) -> Ran:
        from dvlin.cli import app

        result = self.runner.invoke(app, list(args), catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        ran = Ran(result.exit_code, result.stdout, result.stderr)
        if ok is True:
            assert ran.exit_code == 0, ran.output
        assert "Traceback" not in ran.output
        return ran


def write_tree(root: Path, spec: dict[str, object]) -> None:
    """Create files (bytes/str), folders ({}), links (("link", target)), exec files (("exec", b))."""
    for rel, value in spec.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(value, dict):
            path.mkdir(exist_ok=True)
        elif isinstance(value, tuple) and value[0] == "link":
            os.symlink(value[1], path)
        elif isinstance(value, tuple) and value[0] == "exec":
            path.write_bytes(value[1])
            path.chmod(0o755)
        else:
            path.write_bytes(value if isinstance(value, bytes) else str(value).encode())


def snapshot(root: Path) -> dict[str, tuple[str, object, bool]]:
    """Every path under root: (type, bytes or link target, executable) — for exact comparison."""
    result: dict[str, tuple[str, object, bool]] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".dvlin"]
        for name in dirs + files:
            full = Path(folder) / name
            rel = full.relative_to(root).as_posix()
            st = full.lstat()
            if stat.S_ISLNK(st.st_mode):
                result[rel] = ("link", os.readlink(full), False)
                if name in dirs:
                    dirs.remove(name)
            elif stat.S_ISDIR(st.st_mode):
                result[rel] = ("dir", None, False)
            else:
                result[rel] = ("file", full.read_bytes(), bool(st.st_mode & 0o111))
    return result


# -- a recorded pipeline ----------------------------------------------------------------------

# A transform script that copies its input file doubled into its output folder.
FEATURES = """
import pathlib, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
dst.mkdir(parents=True, exist_ok=True)
(dst / "features.csv").write_text(src.read_text() * 2)
print("built", dst)
"""


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli) -> Path:
    """An initialised repo (via the CLI) as the working folder."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    cli("init", ok=True)
    return root


@dataclass
class Pipeline:
    """Ids and labels of a recorded raw → features → model pipeline."""

    root: Path
    raw: str
    features: str
    model: str
    features_run: str
    train_run: str


def build_pipeline(work: Path, cli: Cli) -> Pipeline:
    """raw@v1 (commit) → build-features (dvlin run) → features@v1 → train (dvlin.track) →
    model@v1, and a hand link raw@v1 → notes@v1 (dvlin link)."""
    import dvlin

    write_tree(work, {"data/raw/events.csv": "id,amount\n1,10\n2,20\n", "make.py": FEATURES})
    cli("commit", "data/raw", "--name", "raw", ok=True)
    r = cli(
        "run", "--name", "build-features", "-i", "raw", "-o", "data/features:features",
        "--param", "window=7d", "--json", "--",
        sys.executable, "make.py", "data/raw/events.csv", "data/features",
        ok=True,
    )  # fmt: skip
    features_run = json.loads(r.stdout)["run"]["id"]
    with dvlin.track(
        "train",
        inputs=["features@v1"],
        outputs={"models/model.bin": "model"},
        params={"lr": 0.01},
        kind="model",
    ) as run:
        (work / "models").mkdir()
        (work / "models/model.bin").write_bytes(b"weights")
        run.log_metric("auc", 0.91)
    assert run.result is not None and run.result.ok
    write_tree(work, {"docs/notes.md": "hand-made from raw"})
    cli("commit", "docs/notes.md", "--name", "notes", ok=True)
    cli("link", "--from", "raw@v1", "--to", "notes@v1", ok=True)
    ids = {
        name: json.loads(cli("show", name, "--json", ok=True).stdout)["id"]
        for name in ("raw", "features", "model")
    }
    return Pipeline(work, ids["raw"], ids["features"], ids["model"], features_run, run.id)


@pytest.fixture
def pipeline(work: Path, cli: Cli) -> Pipeline:
    """The three-stage pipeline, recorded."""
    return build_pipeline(work, cli)


def kill_when_paused(
    args: list[str],
    cwd: Path,
    pause_env: str,
    marker: Path,
    *,
    before: str = "",
    command: list[str] | None = None,
) -> None:
    """Run ``python -m dvlin ARGS`` until it reaches the pause point ``pause_env``, then kill -9.

    ``before``: Python statements run in that process first (a threshold lowered, say).
    ``command``: run this instead (one that execs dvlin, so the pid killed is dvlin's);
    ``before`` is then up to it.
    """
    import signal
    import subprocess
    import time

    if command is None and before:
        run = "import runpy, sys; sys.argv = ['dvlin', *sys.argv[1:]]; runpy.run_module('dvlin', run_name='__main__')"
        command = [sys.executable, "-c", f"{before}\n{run}", *args]
    elif command is None:
        command = [sys.executable, "-m", "dvlin", *args]
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, pause_env: str(marker)},
    )
    deadline = time.monotonic() + 60
    # The pause point writes its pid into the marker, then waits: a marker with its pid
    # means the process is parked there.
    while not (marker.exists() and marker.read_text()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the pause point was never reached"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()


def forge_version(repo: Repo, entries: list[Any]) -> Any:
    """A new version of asset d pointing at a hand-made manifest (a hostile remote, say)."""
    from dataclasses import replace

    from dvlin.objects.manifest import to_parquet

    latest = repo.catalog.latest_version("d")
    assert latest is not None
    number = latest.number + 1
    forged = replace(
        latest,
        id=f"{number:x}".rjust(32, "f"),
        number=number,
        manifest=repo.store.put(to_parquet(entries)),
    )
    with repo.catalog.transaction():
        repo.catalog.insert_version(forged)
    return forged
