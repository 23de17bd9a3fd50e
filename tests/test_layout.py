"""The first screen in chromium at 1500×1000, 1280×800 and 400×900, in English and 中文: both
panels' top-tokens charts and key figures on it (at 1500 and 1280), A's and B's charts at the same
heights whatever group either panel has open, nothing cut off, no "nan", "None" or tuple text, and
the worked-arithmetic table whole in its panel at 1280. Skipped without chromium, unless
REQUIRE_BROWSER_TEST=1."""

from __future__ import annotations

import json
import re

import pytest
from browser_helpers import browser, require_chromium, server  # noqa: F401 - fixtures

from benchmarks.harness import APP_READY, SCRIPT_IDLE

require_chromium()

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

CHART = "[data-testid='stVegaLiteChart']"
VISIBLE_ROWS = 200
"""At least this many pixels of each top-tokens chart (its first eight tokens) on the first screen."""
CUT_TEXT = """() => [...document.querySelectorAll(
    "[data-testid='stMain'] :is(h1, h2, h3, [data-testid='stMetricLabel'] p, [data-testid='stMetricValue'] div, " +
    "[data-testid='stWidgetLabel'] p, button p, [data-testid='stCaptionContainer'] p, [data-testid='stMarkdownContainer'] p)")]
    .filter(element => element.scrollWidth > element.clientWidth + 1).map(element => element.innerText)"""
ELLIPSIS_IN_CHARTS = """() => [...document.querySelectorAll("[data-testid='stVegaLiteChart'] svg text")]
    .map(text => text.textContent).filter(text => text.includes("…"))"""


def chart_tops(page) -> list[float]:
    return [page.locator(CHART).nth(index).bounding_box()["y"] for index in range(6)]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width,height", [(1500, 1000), (1280, 800), (400, 900)])
def test_the_first_screen_holds_both_charts_lines_up_and_reads_whole(server, browser, lang, width, height):
    page = browser.new_page(viewport={"width": width, "height": height})
    # B with a repetition penalty: the longest stage name heads a column of its stage chart.
    page.goto(f"{server}/?lang={lang}&b_repetition_penalty=1.3")
    expect(page.locator(APP_READY)).to_be_visible(timeout=60_000)
    expect(page.locator(CHART)).to_have_count(6, timeout=120_000)
    expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=120_000)
    charts = page.locator(CHART)
    if width >= 1280:
        for index in (0, 3):  # A's and B's top-tokens charts, the page scrolled to the top
            box = charts.nth(index).bounding_box()
            assert box["y"] + VISIBLE_ROWS <= height, (lang, width, index, box)
        metrics = page.locator("[data-testid='stMetric']")  # each panel's four come first
        assert all(metrics.nth(index).bounding_box()["y"] + 60 < height for index in range(8)), \
            "the key figures of both panels on the first screen"
        tops = chart_tops(page)
        assert tops[:3] == pytest.approx(tops[3:], abs=1)
        # A group opened in one panel, another in the other: the charts stay side by side.
        page.locator(".st-key-a_more button[role='radio']").nth(0).click()
        expect(page.locator(".st-key-a_top_k")).to_be_visible(timeout=30_000)
        page.locator(".st-key-b_more button[role='radio']").nth(2).click()
        expect(page.locator(".st-key-b_mirostat")).to_be_visible(timeout=30_000)
        expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=60_000)
        tops = chart_tops(page)
        assert tops[:3] == pytest.approx(tops[3:], abs=1), (lang, width, tops)
    for index in range(6):
        charts.nth(index).scroll_into_view_if_needed()
        expect(charts.nth(index).locator("svg")).to_be_visible(timeout=60_000)
    assert page.evaluate(CUT_TEXT) == [], (lang, width)
    assert page.evaluate(ELLIPSIS_IN_CHARTS) == [], (lang, width)
    text = page.locator("[data-testid='stMain']").inner_text()
    assert not re.search(r"\bnan\b|\bNone\b|\(\(|\(\d+, ", text), (lang, width, re.findall(r".{30}(?:nan|None|\(\().{30}", text))
    if width == 1280:
        page.locator("[data-testid='stExpander'] summary").filter(has_text=re.compile("arithmetic|计算")).first.click()
        grid = page.locator("[data-testid='stDataFrame'] .dvn-scroller").first
        expect(grid).to_be_visible(timeout=30_000)
        widths = grid.evaluate("element => [element.scrollWidth, element.clientWidth]")
        assert widths[0] <= widths[1] + 1, ("the arithmetic table scrolls sideways", lang, widths)
    page.close()


UPLOADER_WORDS = """() => [...document.querySelectorAll(".st-key-study_upload :is(button p, " +
    "[data-testid='stFileUploaderDropzoneInstructions'] span)")].map(element => {
      const own = getComputedStyle(element), after = getComputedStyle(element, "::after");
      return own.fontSize === "0px" ? after.content.replace(/^"|"$/g, "") : element.innerText; })"""


@pytest.mark.parametrize("lang, words", [("en", ["Upload", "25MB per file • PARQUET, CSV"]),
                                         ("zh", ["上传", "每个文件不超过 25MB • PARQUET, CSV"])])
@pytest.mark.parametrize("width,height", [(1500, 1000), (1280, 800), (400, 900)])
def test_the_study_view_reads_whole_and_its_uploader_speaks_the_page_language(server, browser, lang, words,
                                                                               width, height):
    """Streamlit writes the uploader's button and limit in English: in 中文 the page draws its own."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{server}/?view=study&lang={lang}")
    expect(page.locator(APP_READY)).to_be_visible(timeout=60_000)
    expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=120_000)
    expect(page.locator(".st-key-study_upload")).to_be_visible(timeout=60_000)
    expected = json.dumps(json.dumps(words, ensure_ascii=False, separators=(",", ":")))
    page.wait_for_function(f"() => JSON.stringify(({UPLOADER_WORDS})()) === {expected}", timeout=30_000)
    assert page.evaluate(CUT_TEXT) == [], (lang, width)
    text = page.locator("[data-testid='stMain']").inner_text()
    assert not re.search(r"\bnan\b|\bNone\b|\(\(|\(\d+, ", text), (lang, width)
    if lang == "zh":
        answer = page.locator("[data-testid='stAlertContainer']").first.inner_text()
        assert " to " not in answer and "至" in answer, answer
    page.close()
