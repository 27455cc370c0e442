"""The same round trip against a real S3 endpoint: moto's server on a loopback port."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from dvlin.repo import Repo
from tests.conftest import snapshot, write_tree

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    # Credentials and the endpoint come from the environment, as for any S3 user.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("FSSPEC_S3_ENDPOINT_URL", s3_endpoint)
    import fsspec.config
    import s3fs

    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": s3_endpoint})
    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint)
    bucket = f"dvlin-{os.getpid()}-{abs(hash(str(monkeypatch))) % 10_000}"
    if not fs.exists(bucket):
        fs.mkdir(bucket)
    return f"s3://{bucket}/objects"


def test_round_trip_through_s3(
    tmp_path: Path, s3_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Repo.init(tmp_path / "repo", storage=s3_env)
    monkeypatch.chdir(repo.root)
    write_tree(
        repo.root,
        {"d/a.txt": "hello", "d/big.bin": os.urandom(300_000), "d/e": {}, "d/l": ("link", "a.txt")},
    )
    expected = snapshot(repo.root / "d")
    first = repo.commit(["d"], name="d")
    (repo.root / "d/a.txt").write_text("changed")
    repo.commit(["d"], name="d")
    out = tmp_path / "out"
    repo.checkout(first.version.label, to=out)
    assert snapshot(out) == expected
    assert "s3" in repo.store.fs.protocol
    assert not list((repo.dvlin_dir).glob("objects"))  # nothing stored locally
    repo.close()
