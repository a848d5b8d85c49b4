"""report/index.html rendered by a real headless browser, offline, at 286 features."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from pipeline.diagnostics.report import DETAIL_CHARTS, write_report
from tests.report_data import collision_figures, run_figures, wide_config

pytestmark = pytest.mark.external("headless Chromium")

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
# Debian's Chromium, started as the machine's probe starts it: no background
# traffic, and every host name unresolvable, so the page must need nothing outside.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND"]


@pytest.fixture(scope="module")
def browser() -> str:
    if BROWSER is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (.ci/run does)")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    return BROWSER


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    config = wide_config()
    write_report(str(out), config, run_figures(collision_figures(config)))
    return out / "report" / "index.html"


def _chromium(browser, tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def test_the_browser_builds_every_row_and_chart(browser, page, tmp_path):
    done = _chromium(browser, tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    table = re.search(r"<table id=\"collisions\">(.*?)</table>", dom, re.DOTALL).group(1)
    assert table.count("<tr>") == 1 + len(wide_config().features)
    assert len(re.findall(r"<svg\b", dom)) == DETAIL_CHARTS
    assert len(re.findall(r"<polyline\b", dom)) == DETAIL_CHARTS


def test_the_page_renders_to_pixels_offline(browser, page, tmp_path):
    shot = tmp_path / "page.png"
    done = _chromium(browser, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000",
                     page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and shot.stat().st_size > 10_000
