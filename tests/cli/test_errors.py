"""Every bad input ends in one `error:` line, a hint and a documented exit code — never a traceback."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from dvlin.errors import ExitCode
from tests.conftest import Cli, write_tree

DOCUMENTED = {int(c) for c in ExitCode}


@pytest.fixture
def work(work: Path, cli: Cli) -> Path:
    """The shared initialised repo (conftest), with this module's starting state."""
    root = work
    write_tree(root, {"d/a.txt": "a\n", "d/b.txt": "b\n"})
    cli("commit", "d", "-m", "first", "--tag", "t1", ok=True)
    return root


def _assert_error(ran, code: ExitCode, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert ran.exit_code == code, ran.output
    lines = ran.stderr.splitlines()
    assert lines[0].startswith("error: "), ran.stderr
    assert lines[0][len("error: ") :][:1].islower() or not lines[0][7:8].isalpha(), lines[0]
    assert any(line.startswith("hint: ") for line in lines), ran.stderr
    assert len(lines) <= 2, ran.stderr
    for needle in needles:
        assert needle in ran.stderr
    assert "Traceback" not in ran.output


BAD = [
    # click's own usage errors come through the same one place
    (["bogus"], ExitCode.USAGE, "no such command 'bogus'", "see dvlin --help"),
    (["--bogus"], ExitCode.USAGE, "no such option: --bogus", "see dvlin --help"),
    (["commit"], ExitCode.USAGE, "missing argument", "see dvlin commit --help"),
    (["commit", "d", "--bogus"], ExitCode.USAGE, "no such option", "see dvlin commit --help"),
    (["log", "-n", "x"], ExitCode.USAGE, "'x' is not a valid int", "see dvlin log --help"),
    (["log", "-n", "-3"], ExitCode.USAGE, "-3", "see dvlin log --help"),
    (["log", "-n", "0"], ExitCode.USAGE, "0", "see dvlin log --help"),
    (["model", "bogus"], ExitCode.USAGE, "no such command", "see dvlin model --help"),
    (["model", "list", "--bogus"], ExitCode.USAGE, "no such option", "dvlin model list --help"),
    (["audit", "verify", "--bogus"], ExitCode.USAGE, "no such option", "audit verify --help"),
    # refs
    (["show", "d@"], ExitCode.USAGE, "ref 'd@' has no version after @"),
    (["show", "@v1"], ExitCode.USAGE, "has no asset name before @"),
    (["checkout", "d@"], ExitCode.USAGE, "has no version after @"),
    (["show", "d@v9"], ExitCode.NOT_FOUND, "v9"),
    (["show", "nope"], ExitCode.NOT_FOUND, "nope"),
    (["log", "nope"], ExitCode.NOT_FOUND, "nope"),
    # tags
    (["commit", "d", "--tag", "x", "--tag", "x"], ExitCode.USAGE, "'x' is given more than once"),
    (["commit", "d", "--tag", "t1"], ExitCode.CONFLICT, "tag d@t1 exists"),
    (["tag", "d", "t1"], ExitCode.CONFLICT, "t1"),
    (["tag", "nope", "x"], ExitCode.NOT_FOUND, "nope"),
    # init
    (["init"], ExitCode.CONFLICT, "already a dvlin repo"),
    (["init", "d/a.txt"], ExitCode.USAGE, "is a file, not a folder"),
    (["init", "d/a.txt/sub"], ExitCode.USAGE, "a parent of it is a file"),
    (["init", "elsewhere", "--storage", "memory://x"], ExitCode.USAGE, "memory"),
    (["init", "elsewhere", "--storage", "memory://"], ExitCode.USAGE, "memory"),
    (["init", "elsewhere", "--hash", "md5"], ExitCode.USAGE, "md5"),
    # other commands
    (["commit", "nope"], ExitCode.NOT_FOUND, "nope"),
    (["checkout", "nope"], ExitCode.NOT_FOUND, "nope"),
    (["lineage", "nope"], ExitCode.NOT_FOUND, "nope"),
    (["lineage", "d", "--depth", "-1"], ExitCode.USAGE, "-1"),
    (["hold", "nope", "--reason", "x"], ExitCode.NOT_FOUND, "nope"),
    (["release", "d", "--reason", "x"], ExitCode.NOT_FOUND, "not on hold"),
    (["model", "show", "nope"], ExitCode.NOT_FOUND, "nope"),
    (["status", "nope"], ExitCode.NOT_FOUND, "nope"),
    (["gc", "--dry-run", "--apply"], ExitCode.USAGE, "contradict"),
    # bytes that are not UTF-8 (argv keeps them as lone surrogates): refused before any command
    (["commit", "bad\udcffdir", "--name", "x"], ExitCode.USAGE, "not valid UTF-8"),
    (["status", "bad\udcffdir"], ExitCode.USAGE, "not valid UTF-8"),
    (["checkout", "d@v\udcff1"], ExitCode.USAGE, "not valid UTF-8"),
    (["checkout", "d", "--to", "out\udcff"], ExitCode.USAGE, "not valid UTF-8"),
    (["log", "d\udcff"], ExitCode.USAGE, "not valid UTF-8"),
]


@pytest.mark.parametrize(("args", "code", *("needle",)), [b[:3] for b in BAD], ids=str)
def test_bad_input(work: Path, cli: Cli, args: list[str], code: ExitCode, needle: str) -> None:
    hints = next(b[3:] for b in BAD if b[0] == args)
    _assert_error(cli(*args), code, needle, *hints)
    assert not (work / "elsewhere" / ".dvlin").exists()


@pytest.mark.parametrize("args", [b[0] for b in BAD], ids=str)
def test_bad_input_with_json_prints_an_error_object(work: Path, cli: Cli, args: list[str]) -> None:
    ran = cli(*args, "--json")
    assert ran.exit_code in DOCUMENTED - {0}
    doc = json.loads(ran.stdout)
    assert doc["exit_code"] == ran.exit_code
    assert doc["error"] and doc["error"][0].islower() or not doc["error"][0].isalpha()
    assert set(doc) >= {"error", "hint", "exit_code", "kind"}


def test_bare_group_still_shows_its_help(work: Path, cli: Cli) -> None:
    ran = cli("model")
    assert "Commands:" in ran.output
    assert "Traceback" not in ran.output


def test_memory_storage_still_works_from_python(tmp_path: Path) -> None:
    from dvlin import Repo

    with Repo.init(tmp_path / "r", storage="memory://dvlin-test-errors") as repo:
        assert repo.config.storage == "memory://dvlin-test-errors"


def test_a_file_removed_during_commit(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dvlin.ops import commit as commit_module

    write_tree(work, {"e/keep.txt": "k", "e/gone.txt": "g"})
    real_scan = commit_module.scan_columns

    def scan_then_remove(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = real_scan(*args, **kwargs)
        (work / "e" / "gone.txt").unlink()
        return found

    monkeypatch.setattr(commit_module, "scan_columns", scan_then_remove)
    _assert_error(
        cli("commit", "e"), ExitCode.CONFLICT, "e/gone.txt was removed while it was being committed"
    )
    assert [a["name"] for a in json.loads(cli("ls", "--json").stdout)] == ["d"]


def test_a_big_file_removed_during_commit(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dvlin.objects.ingest import CHUNK_MIN_FILE
    from dvlin.ops import commit as commit_module

    write_tree(work, {"e/big.bin": os.urandom(CHUNK_MIN_FILE)})
    real_scan = commit_module.scan_columns

    def scan_then_remove(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = real_scan(*args, **kwargs)
        (work / "e" / "big.bin").unlink()
        return found

    monkeypatch.setattr(commit_module, "scan_columns", scan_then_remove)
    _assert_error(cli("commit", "e"), ExitCode.CONFLICT, "big.bin was removed")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "no space left on device"),
        (errno.EACCES, "permission denied"),
        (errno.EROFS, "the repo is read-only"),
    ],
)
def test_a_failing_object_write_names_the_path(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    from dvlin.objects import store as store_module

    def refuse(fd: int, tmp: str, *args: object, **kwargs: object) -> None:
        os.close(fd)
        os.unlink(tmp)
        raise OSError(code, os.strerror(code), tmp)

    monkeypatch.setattr(store_module, "write_and_publish", refuse)
    write_tree(work, {"d/c.txt": "new\n" * 100})
    ran = cli("commit", "d")
    _assert_error(ran, ExitCode.USAGE, words, str(work / ".dvlin" / "objects"))
    assert len(json.loads(cli("log", "d", "--json").stdout)) == 1


def test_an_unreadable_file_names_its_path(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dvlin.objects import ingest_io

    real_open = os.open

    def os_open(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).endswith("secret.txt"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    write_tree(work, {"d/secret.txt": "s"})
    monkeypatch.setattr(ingest_io.os, "open", os_open)
    _assert_error(
        cli("commit", "d"), ExitCode.USAGE, "cannot read", "secret.txt", "permission denied"
    )


@pytest.mark.parametrize("command", ["status", "commit"])
def test_an_entry_of_a_folder_that_may_be_listed_but_not_searched_names_its_path(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    # A folder with read but no execute permission: its names list, each lstat is refused
    # (as root the kernel allows it, so the refusal is made here). One line, exit 2, not a
    # traceback.
    real_stat = os.stat

    def refusing_stat(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path) == "g1" or str(path).endswith("/locked/g1"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    write_tree(work, {"d/locked/g1": "1", "d/open/f1": "1"})
    monkeypatch.setenv("DVLIN_SCAN_WORKERS", "1")
    monkeypatch.setattr(os, "stat", refusing_stat)
    ran = cli(command, *(["d"] if command == "commit" else []))
    _assert_error(ran, ExitCode.USAGE, "cannot read", "locked/g1", "permission denied")


def test_a_full_disk_on_the_catalog(work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from dvlin.catalog import catalog as catalog_module

    def full(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(catalog_module.Catalog, "insert_version", full)
    write_tree(work, {"d/c.txt": "new"})
    _assert_error(cli("commit", "d"), ExitCode.USAGE, "no space left on device", "catalog.db")


def test_a_damaged_catalog_is_an_integrity_error(work: Path, cli: Cli) -> None:
    (work / ".dvlin" / "catalog.db").write_bytes(b"this is not sqlite" * 100)
    _assert_error(cli("log"), ExitCode.INTEGRITY, "catalog.db")


HOSTILE = "evil\x1b[31m\nname.txt"


def test_user_text_is_quoted_in_every_text_output(work: Path, cli: Cli) -> None:
    """An escape sequence or newline in a file name or message never reaches the terminal."""
    (work / "d" / HOSTILE).write_text("x")
    cli("commit", "d", "-m", "msg\x1b[2J\nsecond line", "--meta", "k=v\x07", ok=True)
    (work / "d" / HOSTILE).write_text("changed")
    quoted = '"evil\\033[31m\\nname.txt"'
    outputs = {
        "ls d": cli("ls", "d").stdout,
        "status": cli("status").stdout,
        "show": cli("show", "d").stdout,
        "log": cli("log").stdout,
    }
    for name, text in outputs.items():
        assert "\x1b" not in text and "\x07" not in text, name
    assert quoted in outputs["ls d"]
    assert quoted in outputs["status"]
    assert '"msg\\033[2J\\nsecond line"' in outputs["show"]
    assert '"msg\\033[2J\\nsecond line"' in outputs["log"]
    assert len([line for line in outputs["ls d"].splitlines() if "name.txt" in line]) == 1
    # --json carries the exact strings
    files = json.loads(cli("ls", "d", "--json").stdout)
    assert HOSTILE in [f["path"] for f in files]
    assert json.loads(cli("show", "d", "--json").stdout)["message"] == "msg\x1b[2J\nsecond line"


def test_errors_quote_user_text(work: Path, cli: Cli) -> None:
    ran = cli("show", "no\x1b[31mpe\nx")
    assert ran.exit_code == ExitCode.NOT_FOUND
    assert "\x1b" not in ran.stderr
    assert len(ran.stderr.splitlines()) == 2  # error + hint, nothing broken in two


def test_counts_use_singular_for_one(work: Path, cli: Cli) -> None:
    write_tree(work, {"one/a.txt": "a"})
    assert " 1 file " in cli("commit", "one", ok=True).stdout
    assert "checked 2 versions" in cli("fsck").stdout
    import re

    assert re.search(r"✓ \d+ entries|✓ 1 entry,", cli("audit", "verify").stdout)
    assert "1 entries" not in cli("audit", "verify").stdout
    assert "1 versions" not in cli("fsck").stdout


@pytest.mark.parametrize(
    ("code", "words"), [(errno.ENOSPC, "no space left"), (errno.EROFS, "read-only")]
)
def test_a_failing_checkout_write_names_the_path(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, code: int, words: str
) -> None:
    real_open = os.open
    out = tmp_path / "out"

    def os_open(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        # A new folder is written into a staging folder beside it (".out.dvlin-…").
        mine = str(path).startswith(str(tmp_path)) and not str(path).startswith(str(work))
        if mine and flags & os.O_CREAT:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    ran = cli("checkout", "d", "--to", str(out))
    _assert_error(ran, ExitCode.USAGE, words, str(out) + "/")
    assert ".dvlin-" not in ran.stderr and not out.exists()
    assert not [n for n in os.listdir(tmp_path) if ".dvlin-" in n]


def test_a_folder_that_cannot_be_read(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_scandir, real_open = os.scandir, os.open

    def scandir(path):  # type: ignore[no-untyped-def]
        if str(path).endswith("/d"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    def open_(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).endswith("/d") and flags & os.O_DIRECTORY:  # the walk opens its folders
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "open", open_)
    for args in (["commit", "d"], ["status"]):
        _assert_error(cli(*args), ExitCode.USAGE, "cannot read", str(work / "d"), "permission")


def test_an_unreadable_policy_or_config_file(work: Path, cli: Cli) -> None:
    (work / "dvlin.toml").mkdir()
    _assert_error(cli("check"), ExitCode.USAGE, "dvlin.toml")
    (work / "dvlin.toml").rmdir()
    (work / "dvlin.toml").write_bytes(b"\xff\xfe[")
    _assert_error(cli("check"), ExitCode.USAGE, "dvlin.toml is not UTF-8")
    (work / "dvlin.toml").unlink()
    (work / ".dvlin" / "config.toml").write_bytes(b"\xff\xfe[")
    _assert_error(cli("log"), ExitCode.USAGE, "config.toml is not UTF-8")


def test_a_file_removed_while_its_folder_is_listed(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removed between the folder listing and its stat: simply not part of the snapshot."""
    from dvlin.workspace import scan as scan_module

    write_tree(work, {"e/keep.txt": "k", "e/gone.txt": "g"})
    real_scandir = os.scandir

    class Listing(list):  # type: ignore[type-arg]
        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    def scandir(path):  # type: ignore[no-untyped-def]
        with real_scandir(path) as it:
            entries = Listing(it)
        gone = work / "e" / "gone.txt"
        if gone.exists():
            gone.unlink()
        return entries

    real_listdir = os.listdir

    def listdir(path):  # type: ignore[no-untyped-def]
        names = real_listdir(path)  # the walk lists a folder, then stats each name
        gone = work / "e" / "gone.txt"
        if "gone.txt" in names and gone.exists():
            gone.unlink()
        return names

    with monkeypatch.context() as m:
        m.setattr(scan_module.os, "scandir", scandir)
        m.setattr(scan_module.os, "listdir", listdir)
        cli("commit", "e", ok=True)
    assert [f["path"] for f in json.loads(cli("ls", "e", "--json").stdout)] == ["keep.txt"]


@pytest.mark.parametrize(
    ("url", "code", "needle"),
    [
        ("file://d/a.txt/store", ExitCode.USAGE, "not a directory"),
        ("s3://Bad_Bucket!/x", ExitCode.USAGE, "the storage location cannot be created"),
    ],
)
def test_init_with_a_storage_that_cannot_be_made_leaves_nothing(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, url: str, code: ExitCode, needle: str
) -> None:
    # Credentials in the environment: botocore then refuses the bucket name without asking
    # the network for any.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    _assert_error(cli("init", "elsewhere", "--storage", url), code, needle)
    assert not (work / "elsewhere").exists()


def test_an_argument_that_is_not_utf8_is_refused_in_one_line(work: Path) -> None:
    import subprocess
    import sys

    ran = subprocess.run(
        [sys.executable, "-m", "dvlin", "commit", b"bad\xffdir", "--name", "x"],
        cwd=work,
        capture_output=True,
    )
    assert ran.returncode == ExitCode.USAGE
    lines = ran.stderr.decode().splitlines()
    assert lines[0] == "error: argument b'bad\\xffdir' is not valid UTF-8"
    assert lines[1].startswith("hint: ") and len(lines) == 2
