"""The HTML audit report in a real browser: headless Chromium renders it, screenshots it, and
neither runs a script nor sends a request while doing so.

Skipped, with the reason, where no Chromium is installed (``.ci/run`` installs Debian's
``chromium`` where ``apt-get`` exists). ``DVLIN_CHROMIUM`` names another binary.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.ops.report import report
from dvlin.render.report import render
from tests.audit.reportdata import HOSTILE, HOSTILE_COLUMN, build

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 1200, 2400


def _browser() -> str:
    for name in (os.environ.get("DVLIN_CHROMIUM"), "chromium", "chromium-browser"):
        if name and (found := shutil.which(name)):
            return found
    pytest.skip("no Chromium found (apt-get install chromium, or set DVLIN_CHROMIUM)")


def _run(page: Path, tmp: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    """Chromium headless on ``page``, isolated: its own profile, background services off, and
    every host name resolving nowhere (a request would fail, and still show in the net log)."""
    profile = tmp / f"profile-{len(list(tmp.iterdir()))}"
    cmd = [
        _browser(),
        "--headless",
        "--no-sandbox",  # tests run as root in containers
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
        *mode,
        page.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _page_requests(net_log: Path) -> list[str]:
    """URLs the page asked for. Chromium's own services (update checks, time sync) start
    requests with no initiating origin; a document's requests name its origin (``null`` for a
    file:// page)."""
    doc = json.loads(net_log.read_text(encoding="utf-8"))
    start = doc["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        e["params"]["url"]
        for e in doc["events"]
        if e["type"] == start
        and "url" in e.get("params", {})
        and e["params"].get("initiator") != "not an origin"
    ]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
def page(repo: Repo, tmp_path: Path) -> Path:
    build(repo)
    with Repo.open(repo.root) as r:
        text = render(report(r), "html")
    out = tmp_path / "audit.html"
    out.write_text(text, encoding="utf-8")
    return out


def test_chromium_renders_the_report(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    _run(page, tmp_path, f"--screenshot={shot}")
    assert _png_size(shot) == (WIDTH, HEIGHT)
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><title>blank</title>", encoding="utf-8")
    blank_shot = tmp_path / "blank.png"
    _run(blank, tmp_path, f"--screenshot={blank_shot}")
    # Text, tables and the lineage graph compress far worse than an empty page.
    assert shot.stat().st_size > 10 * blank_shot.stat().st_size

    dom = _run(page, tmp_path, "--dump-dom").stdout
    for heading in (
        "1. Audit chain",
        "2. Inventory",
        "3. Versions and contracts",
        "4. Overrides",
        "5. Holds, expiries and gc",
        "6. Models and lineage",
        "7. Drift",
        "chain intact",
    ):
        assert heading in dom, heading
    assert "<svg" in dom and "raw@v1" in dom and "m@v1" in dom
    # Hostile strings are text in the rendered document, not elements.
    assert "<script" not in dom and "<img" not in dom
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in dom
    assert HOSTILE not in dom and HOSTILE_COLUMN.replace("<", "&lt;").replace(">", "&gt;") in dom


def test_no_request_leaves_the_page(page: Path, tmp_path: Path) -> None:
    log = tmp_path / "net.json"
    _run(page, tmp_path, f"--log-net-log={log}", "--dump-dom")
    assert _page_requests(log) == []

    # The same check sees a request when a page makes one (so the empty list above means it).
    control = tmp_path / "control.html"
    control.write_text('<img src="http://127.0.0.1:9/x.png"><p>x</p>', encoding="utf-8")
    control_log = tmp_path / "control.json"
    _run(control, tmp_path, f"--log-net-log={control_log}", "--dump-dom")
    assert _page_requests(control_log) == ["http://127.0.0.1:9/x.png"]


def test_the_content_security_policy_stops_scripts_and_requests(page: Path, tmp_path: Path) -> None:
    """Defence in depth: were escaping ever bypassed, the report's own policy still forbids
    scripts and network. Planted markup runs in a control page without the policy only."""
    planted = (
        "<script>document.documentElement.setAttribute('data-ran', 'yes')</script>"
        '<img src="http://127.0.0.1:9/y.png">'
    )
    text = page.read_text(encoding="utf-8").replace("<body>", "<body>" + planted, 1)
    hostile = tmp_path / "planted.html"
    hostile.write_text(text, encoding="utf-8")
    log = tmp_path / "planted.json"
    dom = _run(hostile, tmp_path, f"--log-net-log={log}", "--dump-dom").stdout
    assert 'data-ran="yes"' not in dom and _page_requests(log) == []

    bare = tmp_path / "bare.html"
    bare.write_text(text.replace("Content-Security-Policy", "X-Nothing", 1), encoding="utf-8")
    bare_log = tmp_path / "bare.json"
    bare_dom = _run(bare, tmp_path, f"--log-net-log={bare_log}", "--dump-dom").stdout
    assert 'data-ran="yes"' in bare_dom and _page_requests(bare_log) == ["http://127.0.0.1:9/y.png"]
