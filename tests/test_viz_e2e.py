"""End to end: `aibubble viz` serves the page, and Debian's Chromium drives it like a person.

Starts the viz command (`python -m aibubble.cli.serve`, the same click command that `aibubble viz`
runs) on a free loopback port, opens the page with Playwright in /usr/bin/chromium (no browser
download), steps the model, triggers a 100x discovery, checks that the plots and the event log
change and that the page fetched nothing from the internet, and saves a screenshot in the
test's temporary folder; with AIBUBBLE_TEST_ARTIFACTS=DIR (CI keeps it) also in DIR. Nothing is
written into the user's runs/.

With AIBUBBLE_VIZ_SCREENSHOT=docs/viz.png it also rewrites the README's screenshot: the
sudden-100x scenario played into its bubble (month 46; seed 42 is in the bubble in months 45-46).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = os.environ.get("AIBUBBLE_TEST_ARTIFACTS")
# Flags verified on these machines: no sandbox, no GPU, no network chatter.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_S = 90
PAGE_LOAD_MS = 60_000
UPDATE_MS = 30_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`aibubble viz --port N --scenario sudden-100x` in a child process; yields its URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("viz") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aibubble.cli.serve", "--port", str(port), "--scenario", "sudden-100x"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the solara child goes down with it
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"aibubble viz exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no answer on {url} after {SERVER_START_S} s:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)  # viz forwards it to the solara server
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def browser_page(server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        # Tall enough that every card is on screen at once (the page scrolls inside its layout).
        page = browser.new_page(viewport={"width": 1400, "height": 2300})
        outside: list[str] = []
        failed: list[str] = []
        page.on(
            "request",
            lambda r: outside.append(r.url) if not r.url.startswith((server, "data:", "blob:")) else None,
        )
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto(server)
        page.get_by_role("button", name="Step", exact=True).wait_for(timeout=PAGE_LOAD_MS)
        try:
            yield page, outside, failed
        finally:
            browser.close()


def plot_sources(page, month: int) -> list[str]:
    """The six pictures, once all of them show `month` (they are drawn just after the month)."""
    drawn = page.locator(f'.aibubble-plot img[data-month="{month}"]')
    expect(drawn).to_have_count(6, timeout=UPDATE_MS)
    return drawn.evaluate_all("imgs => imgs.map(i => i.src)")


def event_log(page, month: int) -> str:
    """The event log's text, once it shows `month`.

    A month's cards reach the browser one by one: the status line can show month 7 while the
    log still shows month 6 for a moment (longer the busier the machine).
    """
    expect(page.locator(f'.aibubble-event-log[data-month="{month}"]')).to_have_count(1, timeout=UPDATE_MS)
    return page.locator(".aibubble-events").inner_text()


def step_to(page, month: int) -> None:
    """Press Step and wait until the status line shows `month` (other cards may still follow)."""
    page.get_by_role("button", name="Step", exact=True).click()
    page.get_by_text(f"Month {month} of").wait_for(timeout=UPDATE_MS)


def save_screenshot(page, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot))
    if not ARTIFACTS:
        return shot
    keep = Path(ARTIFACTS)
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, keep / name)
    return keep / name


def test_viz_page_steps_and_a_100x_discovery_ripples_through_plots_and_event_log(browser_page, tmp_path):
    page, outside, failed = browser_page
    page.get_by_text("Month 0 of 120").wait_for(timeout=UPDATE_MS)
    plots_before = plot_sources(page, 0)
    log_before = event_log(page, 0)

    for month in (1, 2, 3):
        step_to(page, month)
    plots_stepped = plot_sources(page, 3)
    assert all(a != b for a, b in zip(plots_before, plots_stepped, strict=True))
    assert event_log(page, 3) != log_before
    expect(page.get_by_text("Time: 3.0")).to_be_visible(timeout=UPDATE_MS)

    efficiency = page.locator('.aibubble-plot img[alt="efficiency per lab with discoveries"]')
    undiscovered = efficiency.get_attribute("src")
    page.get_by_role("button", name="100x", exact=True).click()
    page.get_by_role("button", name="Discover now").click()
    page.locator(".aibubble-events", has_text="DISCOVERY ×100").wait_for(timeout=UPDATE_MS)
    assert "Discover now" in event_log(page, 3)
    page.get_by_text("×100 open discovery by lab 0 in month 3").wait_for(timeout=UPDATE_MS)
    expect(efficiency).not_to_have_attribute("src", undiscovered, timeout=UPDATE_MS)  # its marker ...
    assert efficiency.get_attribute("data-month") == "3"  # ... drawn at once, in the same month

    for month in (4, 5, 6, 7):
        step_to(page, month)
    log = event_log(page, 7)
    assert "adopt ×100 via own lab" in log  # month 6: the discoverer runs it
    assert "adopt ×100 via publication" in log  # month 7: everyone else
    plots_after = plot_sources(page, 7)
    assert all(a != b for a, b in zip(plots_stepped, plots_after, strict=True))

    shot = save_screenshot(page, tmp_path, "viz_e2e.png")
    assert shot.stat().st_size > 50_000
    assert outside == [], f"the page fetched from outside the server: {outside}"
    assert failed == [], f"requests failed: {failed}"

    readme = os.environ.get("AIBUBBLE_VIZ_SCREENSHOT")
    if readme:
        write_readme_screenshot(page, Path(readme))


def shown_month(page) -> int:
    return int(re.search(r"Month (\d+) of", page.locator(".aibubble-now").inner_text()).group(1))


def write_readme_screenshot(page, path: Path) -> None:
    """The sudden-100x scenario from a fresh start, played into its bubble (month 46)."""
    page.get_by_role("button", name="Reset").click()
    page.get_by_text("Month 0 of 120").wait_for(timeout=UPDATE_MS)
    page.get_by_role("button", name="▶").click()
    deadline = time.monotonic() + 300
    while shown_month(page) < 38 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    page.get_by_role("button", name="❚❚").click()
    page.wait_for_timeout(1000)
    month = shown_month(page)
    assert month < 46, f"Play overshot the bubble (month {month})"
    for m in range(month + 1, 47):
        step_to(page, m)
    page.set_viewport_size({"width": 1400, "height": 1355})
    plot_sources(page, 46)
    page.wait_for_timeout(1000)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
