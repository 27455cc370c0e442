"""The two conditional writes a remote needs, per backend: create-only, and compare-and-swap.

- **create-only** (immutable files: objects, packs, record segments): S3 ``If-None-Match: *``;
  on a local folder a complete temporary file hard-linked to its name (``link`` fails if the
  name exists); in memory a process-wide lock around exists-then-write;
- **compare-and-swap** (``refs.json``): the writer presents the token of the version it read
  — S3's ETag (``If-Match: ETAG``, or ``If-None-Match: *`` when it read none), the SHA-256 of
  the bytes elsewhere; on a local folder an exclusive ``flock`` around read-compare-rename, in
  memory the same process-wide lock.

Each function makes one attempt; :class:`dvlin.remote.transport.Transport` retries and
translates errors.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import threading
import uuid
from collections.abc import Mapping
from typing import Any

MEMORY_LOCK = threading.Lock()


def token_of(data: bytes) -> str:
    """The CAS token of a ref file's bytes where the store has no ETag (file, memory)."""
    return hashlib.sha256(data).hexdigest()


# -- create-only --------------------------------------------------------------------------


def put_new_local(root: str, path: str, data: bytes) -> bool:
    """Create ``path`` under a local remote's ``root``; False when it exists."""
    if os.path.exists(path):
        return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp_dir = f"{root}/tmp"
    os.makedirs(tmp_dir, exist_ok=True)
    tmp = f"{tmp_dir}/{uuid.uuid4().hex}"
    with open(tmp, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        # link() fails if the name exists: create-only, and the name appears complete.
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


def put_new_memory(fs: Any, path: str, data: bytes) -> bool:
    """Create ``path`` on fsspec's memory filesystem; False when it exists."""
    with MEMORY_LOCK:
        if fs.exists(path):
            return False
        fs.pipe_file(path, data)
        return True


def put_new_s3(fs: Any, path: str, data: bytes) -> bool:
    """Create ``path`` on S3 with ``If-None-Match: *``; False when it exists."""
    try:
        # One request, atomic, never overwrites.
        fs.pipe_file(path, data, mode="create")
    except FileExistsError:
        return False
    return True


# -- reading with a token -----------------------------------------------------------------


def s3_get(fs: Any, path: str, byte_range: str | None = None) -> tuple[bytes, str]:
    """One GetObject through s3fs (its cat_file sends a HEAD first): the bytes and the ETag."""
    from fsspec.asyn import sync

    bucket, key, _ = fs.split_path(path)
    extra = {"Range": byte_range} if byte_range else {}

    async def get() -> tuple[bytes, str]:
        resp = await fs._call_s3("get_object", Bucket=bucket, Key=key, **extra)
        async with resp["Body"] as body:
            return bytes(await body.read()), str(resp["ETag"])

    got: tuple[bytes, str] = sync(fs.loop, get)
    return got


def botocore_get(kwargs: Mapping[str, Any], path: str) -> tuple[bytes, str] | None:
    """One GetObject through plain botocore (no s3fs): the bytes and the ETag, None if absent."""
    import botocore.session
    from botocore.exceptions import ClientError

    bucket, _, key = path.partition("/")
    session = botocore.session.get_session()
    client_kwargs = dict(kwargs.get("client_kwargs", {}))
    if "endpoint_url" in kwargs:
        client_kwargs["endpoint_url"] = kwargs["endpoint_url"]
    client = session.create_client("s3", **client_kwargs)
    try:
        resp = client.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == "NoSuchBucket":
            raise FileNotFoundError(f"the bucket {bucket} does not exist") from None
        if code in ("NoSuchKey", "404"):
            return None
        if code in ("AccessDenied", "403"):
            raise PermissionError(13, f"access denied: {code}") from None
        raise
    return bytes(resp["Body"].read()), str(resp["ETag"])


def plain_s3_kwargs(kwargs: Mapping[str, Any]) -> bool:
    """Options plain botocore reads the same way s3fs does (else s3fs reads refs.json too)."""
    if any(k.startswith("FSSPEC_S3") for k in os.environ):
        return False
    client = kwargs.get("client_kwargs", {})
    return set(kwargs) <= {"endpoint_url", "client_kwargs", "s3_additional_kwargs"} and (
        isinstance(client, Mapping) and set(client) <= {"region_name", "endpoint_url"}
    )


# -- compare-and-swap ---------------------------------------------------------------------


def swap_local(root: str, path: str, data: bytes, token: str | None) -> bool:
    """Replace ``path`` if its bytes still hash to ``token`` (None: it must not exist)."""
    import fcntl

    os.makedirs(root, exist_ok=True)
    fd = os.open(f"{root}/refs.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        # flock is released by the kernel when its holder dies, so a killed push never
        # leaves a stale lock behind.
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with open(path, "rb") as f:
                found: str | None = token_of(f.read())
        except FileNotFoundError:
            found = None
        if found != token:
            return False
        tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(tmp, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return True
    finally:
        os.close(fd)


def swap_memory(fs: Any, path: str, data: bytes, token: str | None) -> bool:
    """Replace ``path`` on the memory filesystem if it still hashes to ``token``."""
    with MEMORY_LOCK:
        current = fs.cat_file(path) if fs.exists(path) else None
        found = None if current is None else token_of(current)
        if found != token:
            return False
        fs.pipe_file(path, data)
        return True


def swap_s3(fs: Any, path: str, data: bytes, token: str | None) -> bool:
    """Replace ``path`` on S3 if its ETag is still ``token`` (None: it must not exist)."""
    from fsspec.asyn import sync

    bucket, key, _ = fs.split_path(path)
    condition = {"IfNoneMatch": "*"} if token is None else {"IfMatch": token}
    try:
        sync(fs.loop, fs._call_s3, "put_object", Bucket=bucket, Key=key, Body=data, **condition)
    except FileExistsError:
        return False
    except FileNotFoundError as exc:
        if "bucket" in str(exc).lower():
            raise
        return False
    except OSError as exc:
        # s3fs surfaces 412 Precondition Failed as a plain EINVAL.
        if exc.errno == errno.EINVAL and "pre-condition" in str(exc):
            return False
        raise
    return True
