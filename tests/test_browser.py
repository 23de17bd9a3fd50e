"""End to end: the real `streamlit run` server driven by Debian's chromium through Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium. Without chromium the
test skips, unless REQUIRE_BROWSER_TEST=1 (set by .ci/run, which installs chromium).
"""

from __future__ import annotations

import re

import pytest
from browser_helpers import require_chromium

from benchmarks.harness import APP_READY, CHROMIUM, CHROMIUM_ARGS, ROOT, SCRIPT_IDLE, streamlit_server

SCREENSHOT = ROOT / "docs" / "screenshot.png"

require_chromium()

playwright_sync = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as running:
        yield running.url


def wait_for_rerun(page) -> None:
    expect = playwright_sync.expect
    expect(page.locator(APP_READY)).to_be_visible(timeout=60_000)
    expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=60_000)


def test_moving_a_slider_changes_a_chart_and_a_metric(server):
    expect = playwright_sync.expect
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 2200})
        page.goto(server)
        wait_for_rerun(page)
        charts = page.locator("[data-testid='stVegaLiteChart']")
        expect(charts).to_have_count(6, timeout=60_000)
        expect(charts.first.locator("canvas, svg").first).to_be_visible(timeout=30_000)

        entropy_a = page.locator("[data-testid='stMetric']").filter(has_text="Entropy (bits)").first
        before = entropy_a.locator("[data-testid='stMetricValue']").inner_text()
        first_chart_before = charts.first.screenshot()

        slider = page.locator(".st-key-a_temperature").get_by_role("slider")
        slider.focus()
        for _ in range(10):  # towards 0.5 in steps of 0.05; keys pressed during a rerun may be merged
            slider.press("ArrowLeft")
        page.wait_for_url(re.compile(r"a_temperature=0\.\d+"), timeout=30_000)
        expect(entropy_a.locator("[data-testid='stMetricValue']")).not_to_have_text(before, timeout=30_000)
        wait_for_rerun(page)
        moved_to = float(re.search(r"a_temperature=([0-9.]+)", page.url).group(1))
        after = entropy_a.locator("[data-testid='stMetricValue']").inner_text()
        assert moved_to < 1.0
        assert float(after) < float(before)
        assert charts.first.screenshot() != first_chart_before

        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=False)
        browser.close()
