"""Every remote error is one line with a hint, its documented exit code, and no local change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Cli, write_tree
from tests.remote.conftest import RemoteSpec, make_bucket


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli) -> Path:
    root = tmp_path / "a"
    root.mkdir()
    monkeypatch.chdir(root)
    cli("init", ok=True)
    write_tree(root, {"data/ev/f.txt": "x\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    return root


def _config(root: Path) -> str:
    return (root / ".dvlin/config.toml").read_text()


def _one_error(text: str) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0].startswith("error: ") and len(lines) <= 2, text
    assert "Traceback" not in text


def test_remote_add_list_show_remove(work: Path, cli: Cli, tmp_path: Path) -> None:
    url = (tmp_path / "r").as_uri()
    added = json.loads(cli("remote", "add", "origin", url, "--json", ok=True).stdout)
    assert added == {
        "name": "origin",
        "url": url,
        "default": True,  # the first remote is the default
        "options": {},
        "heads": {},
        "holds": {},
        "unpushed": {},
        "behind": {},
        "no_access": {},
    }
    cli("remote", "add", "backup", "memory://elsewhere", "--default", ok=True)
    listed = json.loads(cli("remote", "list", "--json", ok=True).stdout)
    assert [(r["name"], r["default"]) for r in listed] == [("backup", True), ("origin", False)]
    shown = json.loads(cli("remote", "show", "origin", "--json", ok=True).stdout)
    assert shown["unpushed"] == {"ev": 1} and shown["heads"] == {}
    cli("push", "--remote", "origin", ok=True)
    shown = json.loads(cli("remote", "show", "origin", "--json", ok=True).stdout)
    assert shown["unpushed"] == {} and shown["heads"] == {"ev": 1}
    assert shown["holds"]["version"] == 1
    text = cli("remote", "show", "origin", ok=True).stdout
    assert "ev@v1" in text
    ran = cli("remote", "add", "origin", url)
    assert ran.exit_code == 5
    cli("remote", "remove", "origin", ok=True)
    assert "origin" not in _config(work)
    assert [r["name"] for r in json.loads(cli("remote", "list", "--json").stdout)] == ["backup"]


@pytest.mark.parametrize(
    "option",
    [
        "secret=abc",
        "key=AKIA123",
        "aws_access_key_id=AKIA123",
        "aws_secret_access_key=x",
        "token=x",
        "session_token=x",
        "client_kwargs.aws_session_token=x",
        "password=hunter2",
        "s3_additional_kwargs.SSECustomerKey=raw-key-bytes",
        "kms_master_key=x",
        "apikey=x",
        "endpoint_url=https://user:pw@example.org",
    ],
)
def test_secret_like_options_are_refused(work: Path, cli: Cli, option: str) -> None:
    before = _config(work)
    ran = cli("remote", "add", "origin", "s3://bucket/x", "--option", option)
    assert ran.exit_code == 2
    _one_error(ran.stderr)
    assert "environment" in ran.stderr
    assert _config(work) == before


def test_clone_with_a_secret_option_writes_nothing(tmp_path: Path, cli: Cli) -> None:
    ran = cli("clone", "s3://bucket/x", str(tmp_path / "b"), "--option", "secret=x")
    assert ran.exit_code == 2
    assert not (tmp_path / "b").exists()


def test_encryption_key_ids_are_not_secrets(work: Path, cli: Cli) -> None:
    cli(
        "remote", "add", "origin", "s3://bucket/x",
        "--option", "s3_additional_kwargs.ServerSideEncryption=aws:kms",
        "--option", "s3_additional_kwargs.SSEKMSKeyId=alias/dvlin",
        ok=True,
    )  # fmt: skip
    assert "SSEKMSKeyId" in _config(work)


def test_server_side_encryption_reaches_the_requests(
    work: Path, cli: Cli, moto_endpoint: str, aws_env: None
) -> None:
    import boto3

    bucket = make_bucket(moto_endpoint)
    cli(
        "remote", "add", "origin", f"s3://{bucket}/d",
        "--option", f"endpoint_url={moto_endpoint}",
        "--option", "s3_additional_kwargs.ServerSideEncryption=AES256",
        ok=True,
    )  # fmt: skip
    cli("push", ok=True)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.startswith("d/packs/") for k in keys)
    for key in keys:
        if "/packs/" in key or "/segments/" in key:
            head = s3.head_object(Bucket=bucket, Key=key)
            assert head.get("ServerSideEncryption") == "AES256", key


def test_unknown_remote(work: Path, cli: Cli) -> None:
    for args in (("push",), ("fetch",), ("pull",), ("remote", "show")):
        ran = cli(*args)
        assert ran.exit_code == 3, args
        _one_error(ran.stderr)
        assert "remote add" in ran.stderr
    cli("remote", "add", "origin", "memory://x", ok=True)
    for args in (("push", "--remote", "nope"), ("fetch", "nope"), ("remote", "remove", "nope")):
        ran = cli(*args)
        assert ran.exit_code == 3, args
        assert "'nope'" in ran.stderr and "origin" in ran.stderr


def test_unsupported_protocol(work: Path, cli: Cli) -> None:
    ran = cli("remote", "add", "origin", "ftp://host/x")
    assert ran.exit_code == 2
    assert "compare-and-swap" in ran.stderr


def test_unreachable_endpoint(
    work: Path, cli: Cli, tmp_path: Path, aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One attempt per request in botocore (its default is five, with backoff: ~13 s here);
    # what is tested is the message once the store gives up, not how long it tries.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    flags = ("--option", "endpoint_url=http://127.0.0.1:9")
    cli("remote", "add", "origin", "s3://bucket/x", *flags, ok=True)
    catalog = (work / ".dvlin/catalog.db").read_bytes()
    ran = cli("push")
    assert ran.exit_code == 2
    _one_error(ran.stderr)
    assert "cannot reach remote s3://bucket/x" in ran.stderr
    assert (work / ".dvlin/catalog.db").read_bytes() == catalog
    ran = cli("clone", "s3://bucket/x", str(tmp_path / "b"), *flags)
    assert ran.exit_code == 2
    assert not (tmp_path / "b").exists()


def test_missing_bucket(
    work: Path, cli: Cli, tmp_path: Path, moto_endpoint: str, aws_env: None
) -> None:
    flags = ("--option", f"endpoint_url={moto_endpoint}")
    cli("remote", "add", "origin", "s3://no-such-bucket-dvlin/x", *flags, ok=True)
    ran = cli("push")
    assert ran.exit_code == 3
    _one_error(ran.stderr)
    assert "bucket does not exist" in ran.stderr
    ran = cli("clone", "s3://no-such-bucket-dvlin/x", str(tmp_path / "b"), *flags)
    assert ran.exit_code == 3
    assert not (tmp_path / "b").exists()


def test_clone_of_an_empty_remote(cli: Cli, tmp_path: Path, remote: RemoteSpec) -> None:
    ran = cli("clone", remote.url, str(tmp_path / "b"), *remote.flags)
    assert ran.exit_code == 3
    assert "no dvlin remote" in ran.stderr
    assert not (tmp_path / "b").exists()


def test_permission_denied(
    work: Path, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dvlin.remote.cas as cas

    def refuse(*args: object) -> bool:
        raise PermissionError(13, "Permission denied")

    cli("remote", "add", "origin", (tmp_path / "r").as_uri(), ok=True)
    monkeypatch.setattr(cas, "put_new_local", refuse)
    ran = cli("push")
    assert ran.exit_code == 2
    _one_error(ran.stderr)
    assert "access denied" in ran.stderr
    shown = json.loads(cli("remote", "show", "--json", ok=True).stdout)
    assert shown["heads"] == {} and shown["unpushed"] == {"ev": 1}


def test_clone_into_a_file_or_a_repo_is_refused(work: Path, cli: Cli, tmp_path: Path) -> None:
    cli("remote", "add", "origin", "memory://clone-target-test", ok=True)
    cli("push", ok=True)
    (tmp_path / "afile").write_text("x")
    ran = cli("clone", "memory://clone-target-test", str(tmp_path / "afile"))
    assert ran.exit_code == 2 and "not a folder" in ran.stderr
    ran = cli("clone", "memory://clone-target-test", str(work))
    assert ran.exit_code == 5 and "already a dvlin repo" in ran.stderr


@pytest.mark.parametrize("url", ["", " ", "data/ev/f.txt", ".dvlin/r", ".", "data/remote"])
def test_a_remote_that_is_empty_a_file_or_inside_the_repo_is_refused(
    work: Path, cli: Cli, url: str
) -> None:
    before = _config(work)
    ran = cli("remote", "add", "origin", url)
    assert ran.exit_code == 2, ran.output
    _one_error(ran.stderr)
    assert _config(work) == before


def test_a_relative_folder_remote_is_kept_as_an_absolute_path(
    work: Path, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (work / "data/ev").mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(work / "data/ev")
    cli("remote", "add", "origin", "../../../r", ok=True)
    monkeypatch.chdir(work)
    cli("push", ok=True)
    assert (tmp_path / "r/refs.json").is_file()
    assert str(tmp_path / "r") in _config(work)


def test_a_remote_made_a_file_by_hand_is_one_line(work: Path, cli: Cli, tmp_path: Path) -> None:
    """A config edited by hand (or a folder replaced by a file) never gives a traceback."""
    (tmp_path / "afile").write_text("x")
    config = work / ".dvlin/config.toml"
    config.write_text(
        config.read_text() + f'\n[remotes.origin]\nurl = "{tmp_path / "afile"}"\ndefault = true\n'
    )
    for args in (("push",), ("fetch",), ("pull",), ("remote", "show")):
        ran = cli(*args)
        assert ran.exit_code == 2, (args, ran.output)
        _one_error(ran.stderr)
        assert "not a folder" in ran.stderr
    ran = cli("clone", (tmp_path / "afile").as_uri(), str(tmp_path / "b"))
    assert ran.exit_code == 2, ran.output
    _one_error(ran.stderr)
    assert not (tmp_path / "b").exists()


def test_clone_into_an_empty_name_is_refused(work: Path, cli: Cli, tmp_path: Path) -> None:
    cli("remote", "add", "origin", str(tmp_path / "r"), ok=True)
    cli("push", ok=True)
    ran = cli("clone", str(tmp_path / "r"), "")
    assert ran.exit_code == 2, ran.output
    _one_error(ran.stderr)


def test_s3_without_credentials_is_one_line(work: Path, tmp_path: Path, moto_endpoint: str) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    flags = ["--option", f"endpoint_url={moto_endpoint}"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dvlin", *args], cwd=work, env=env, capture_output=True,
            text=True, check=False,
        )  # fmt: skip

    assert run("remote", "add", "origin", "s3://bucket/x", *flags).returncode == 0
    ran = run("push")
    assert ran.returncode == 2, ran.stderr
    _one_error(ran.stderr)
    assert "credentials" in ran.stderr
    ran = run("clone", "s3://bucket/x", str(tmp_path / "b"), *flags)
    assert ran.returncode == 2, ran.stderr
    _one_error(ran.stderr)
    assert not (tmp_path / "b").exists()


def test_clone_under_a_file_is_one_line(work: Path, cli: Cli, tmp_path: Path) -> None:
    cli("remote", "add", "origin", str(tmp_path / "r"), ok=True)
    cli("push", ok=True)
    (tmp_path / "afile").write_text("x")
    ran = cli("clone", str(tmp_path / "r"), str(tmp_path / "afile/sub"))
    assert ran.exit_code == 2, ran.output
    _one_error(ran.stderr)
    assert (tmp_path / "afile").read_text() == "x"


def test_adding_a_remote_keeps_the_groups_of_the_others(
    work: Path, cli: Cli, tmp_path: Path
) -> None:
    cli("remote", "add", "origin", "memory://main", "--group", "pii=memory://pii", ok=True)
    cli("remote", "add", "backup", "memory://other", ok=True)
    assert "memory://pii" in _config(work)


@pytest.mark.parametrize(
    "options",
    [
        ("a=1", "a.b=2"),
        ("a.b=2", "a=1"),
        ("x..y=1",),
        (".x=1",),
        ("x.=1",),
        ("endpoint_url=http://a", "endpoint_url=http://b"),
    ],
)
def test_options_that_clash_or_have_empty_parts_are_refused(
    work: Path, cli: Cli, options: tuple[str, ...]
) -> None:
    before = _config(work)
    flags = [x for o in options for x in ("--option", o)]
    ran = cli("remote", "add", "origin", "s3://bucket/x", *flags)
    assert ran.exit_code == 2, ran.output
    _one_error(ran.stderr)
    assert _config(work) == before
    ran = cli("clone", "s3://bucket/x", "b", *flags)
    assert ran.exit_code == 2, ran.output
    assert not (work / "b").exists()
