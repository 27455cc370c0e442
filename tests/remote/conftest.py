"""Remote fixtures: the session's moto S3 server, and a remote URL per backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest


@pytest.fixture(scope="session")
def moto_endpoint(s3_endpoint: str) -> str:
    """moto's S3 server on a loopback port chosen by the OS: the session's one (conftest)."""
    return s3_endpoint


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials in the environment, where a real user keeps theirs."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "FSSPEC_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


def make_bucket(endpoint: str) -> str:
    """A new empty bucket on the moto server."""
    import boto3

    name = f"dvlin-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@dataclass
class RemoteSpec:
    """A remote URL, the options it needs, and the CLI flags that pass them."""

    kind: str
    url: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def flags(self) -> list[str]:
        """``--option K=V`` for each option."""
        return [x for k, v in self.options.items() for x in ("--option", f"{k}={v}")]


@pytest.fixture(params=["memory", "file", "s3"])
def remote(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RemoteSpec]:
    """A fresh, empty remote on memory://, a file:// folder, or S3 (moto)."""
    if request.param == "memory":
        path = f"dvlin-remote-{uuid.uuid4().hex}"
        yield RemoteSpec("memory", f"memory://{path}")
        import fsspec

        fs = fsspec.filesystem("memory")
        if fs.exists(path):
            fs.rm(path, recursive=True)
    elif request.param == "file":
        yield RemoteSpec("file", (tmp_path_factory.mktemp("remote") / "r").as_uri())
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        request.getfixturevalue("aws_env")
        bucket = make_bucket(endpoint)
        yield RemoteSpec("s3", f"s3://{bucket}/dvlin", {"endpoint_url": endpoint})


def remote_fs(spec: RemoteSpec):  # type: ignore[no-untyped-def]
    """The remote's fsspec filesystem and root folder (to read or damage files in tests)."""
    from fsspec.core import url_to_fs

    return url_to_fs(spec.url, **spec.options)
