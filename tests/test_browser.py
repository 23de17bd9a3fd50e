"""The page as a visitor sees it: the real `streamlit run` server driven by Debian's chromium.

At 1500, 1280 and 400 px: every top token labelled in both token charts, grey rows for removed
tokens, the same rank axis in both cumulative charts, metrics never cut at 1280 and above; a slider
that redraws a chart; the real download button; and in 中文 no chart or notice text left in English.
Playwright never downloads a browser here: it launches /usr/bin/chromium. Without chromium the
tests skip, unless REQUIRE_BROWSER_TEST=1 (set by .ci/run, which installs chromium).
"""

from __future__ import annotations

import io
import os
import re

import pandas as pd
import pytest
from browser_helpers import browser, require_chromium, server  # noqa: F401 - fixtures

from app import tables
from app.charts import REMOVED_ROW_COLOR
from benchmarks.harness import APP_READY, ROOT, SCRIPT_IDLE, streamlit_server
from sampling import SamplingConfig, apply, load_model

SCREENSHOT = ROOT / "docs" / "screenshot.png"

require_chromium()

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

CHART = "[data-testid='stVegaLiteChart']"
# Words a 中文 page may keep in Latin letters: parameter and engine names, units and model names.
ALLOWED_LATIN = re.compile(
    r"top_p|top_k|min_p|typical_p|epsilon_cutoff|eta_cutoff|temperature|repetition_penalty|frequency_penalty|"
    r"presence_penalty|penalty_last_n|top_n_sigma|top-n-sigma|XTC|xtc_\w+|dynatemp_\w+|DRY|dry_\w+|mirostat\w*|logit_bias|samplers|--samplers|custom|"
    r"transformers|vLLM|vllm|llama\.cpp|"
    r"llama-cpp-python|logits?|softmax|KL|JS|BLEU|self-BLEU|distinct-[\dn]|CSV|hub|gpt2|Qwen[\w./-]*|fortune-\w+|"
    r"keyboard_(?:double_)?arrow_(?:right|down|up|left)|"  # the names of Streamlit's icons, drawn as glyphs
    r"poems-zh|code-py|bible-kjv|fortunes(-zh)?|Debian|Python|Tang|Song|torch\.sort|std::partial_sort|id|bits?|"
    r"nats?|BOS|EOS|GPU|CPU|Triton|FlashInfer|PyTorch|transformers \d[\d.]*|Computed by|raw|T|"
    r"smollm2|gemma3|SmolLM2[\w.-]*|Gemma|GGUF|python|-m|sampling\.fetch"
)


def open_page(browser, url: str, width: int, height: int = 2400):
    page = browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
    page.goto(url)
    expect(page.locator(APP_READY)).to_be_visible(timeout=60_000)
    expect(page.locator(CHART)).to_have_count(6, timeout=120_000)
    expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=120_000)
    for index in range(6):  # charts are drawn when they come into view
        chart = page.locator(CHART).nth(index)
        chart.scroll_into_view_if_needed()
        expect(chart.locator("svg")).to_be_visible(timeout=60_000)
    page.locator("h1").first.scroll_into_view_if_needed()  # the first screen again
    return page


def svg_texts(chart) -> list[str]:
    return chart.locator("svg text").evaluate_all("texts => texts.map(text => text.textContent)")


def expected_top_labels(top_n: int = 20) -> list[str]:
    handle = load_model("fortune-base")
    trace = apply(handle.next_token_logits("hello, this is my favorite").logits, SamplingConfig())
    return tables.top_tokens(trace, handle.labels, top_n)["label"].tolist()


@pytest.mark.parametrize("width", [1500, 1280, 400])
def test_every_label_grey_rows_equal_rank_axes_and_whole_metrics(server, browser, width):
    page = open_page(browser, f"{server}/?a_top_p=0.3", width)
    charts = page.locator(CHART)
    labels = expected_top_labels()
    for index in (0, 1, 3, 4):  # both panels' top-tokens and stage charts
        shown = svg_texts(charts.nth(index))
        missing = [label for label in labels if label not in shown]
        assert not missing, (width, index, missing)
    removed = charts.nth(0).locator(f"path[fill='{REMOVED_ROW_COLOR}']").count()
    assert removed >= len(labels) - 3, removed  # top_p 0.3 keeps two or three of the top tokens
    assert charts.nth(3).locator(f"path[fill='{REMOVED_ROW_COLOR}']").count() == 0
    rank_ticks = [re.findall(r"\d+k?", " ".join(svg_texts(charts.nth(index)))) for index in (2, 5)]
    assert rank_ticks[0] == rank_ticks[1]
    if width >= 1280:
        cut = page.evaluate("""() => [...document.querySelectorAll(
            "[data-testid='stMetricLabel'] p, [data-testid='stMetricLabel'] div, [data-testid='stMetricValue'] div")]
            .filter(element => element.scrollWidth > element.clientWidth + 1).map(element => element.innerText)""")
        assert not cut, (width, cut)
    page.close()


def test_a_slider_redraws_a_chart_and_the_first_screen_is_saved(server, browser):
    page = open_page(browser, server, 1500, 1100)
    charts = page.locator(CHART)
    entropy_a = page.locator("[data-testid='stMetric']").filter(has_text="Entropy (bits)").first
    before = entropy_a.locator("[data-testid='stMetricValue']").inner_text()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=False)  # the first screen: temperature 0.9 vs 0.1
    first_chart_before = charts.first.inner_html()
    slider = page.locator(".st-key-a_temperature").get_by_role("slider")
    slider.focus()
    for _ in range(8):
        slider.press("ArrowLeft")
    page.wait_for_url(re.compile(r"a_temperature=0\.\d+"), timeout=30_000)
    expect(entropy_a.locator("[data-testid='stMetricValue']")).not_to_have_text(before, timeout=30_000)
    expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=60_000)
    assert float(entropy_a.locator("[data-testid='stMetricValue']").inner_text()) < float(before)
    assert charts.first.inner_html() != first_chart_before
    page.close()


def test_the_download_buttons_hold_what_they_promise(server, browser):
    page = open_page(browser, server, 1500)
    with page.expect_download(timeout=60_000) as download:
        page.locator(".st-key-a_download_continuations button").click()
    assert download.value.suggested_filename == "continuations-fortune-base-A-transformers-temperature0.9.csv"
    data = open(download.value.path(), "rb").read()
    assert data.decode().splitlines()[1] == '# model: "fortune-base"'
    rows = pd.read_csv(io.BytesIO(data), skiprows=tables.HEADER_LINES, keep_default_na=False)
    assert set(rows["panel"]) == {"A"} and set(rows["sample"]) == {0, 1, 2, 3} and len(rows) > 8
    with page.expect_download(timeout=60_000) as download:
        page.locator(".st-key-b_download_distribution button").click()
    assert download.value.suggested_filename == "distribution-fortune-base-B-transformers-temperature0.1.csv"
    data = open(download.value.path(), "rb").read()
    assert data.decode().splitlines()[2] == '# prompt: "hello, this is my favorite"'
    table = pd.read_csv(io.BytesIO(data), skiprows=tables.HEADER_LINES, keep_default_na=False)
    assert len(table) == 4096 and set(table["panel"]) == {"B"}
    assert table["final_prob"].sum() == pytest.approx(1.0, abs=1e-4)
    page.close()


def test_in_chinese_no_chart_or_notice_text_is_left_in_english(server, browser):
    page = open_page(browser, f"{server}/?lang=zh&a_top_p=0.5", 1500)
    selectors = ("h1", "h2", "h3", "[data-testid='stAlert']", "[data-testid='stCaptionContainer']",
                 "[data-testid='stMetricLabel']", "[data-testid='stWidgetLabel']", "[data-testid='stExpander'] summary",
                 f"{CHART} .role-axis-title text", f"{CHART} .role-legend-title text",
                 "[data-testid='stSidebar'] button", "[data-testid='stMain'] [data-testid='stButton'] button",
                 "[data-testid='stDownloadButton'] button")
    english = []
    for selector in selectors:
        for text in page.locator(selector).evaluate_all("nodes => nodes.map(node => node.textContent)"):
            rest = ALLOWED_LATIN.sub(" ", re.sub(r"[`'\"].*?[`'\"]", " ", text))
            words = re.findall(r"[A-Za-z]{3,}", rest)
            if words:
                english.append((selector, text[:80], words))
    assert not english, english
    page.close()


def test_from_a_fresh_start_the_first_screen_shows_a_real_model(browser):
    """Nothing names a model: the page's own default, the real SmolLM2 (fetched by the page itself
    when it is not there yet), fills the first screen, and both top-tokens charts read its tokens."""
    from sampling.fetch import FetchError, fetch

    try:
        fetch("smollm2", progress=lambda line: None)
    except FetchError as error:
        if os.environ.get("REQUIRE_REAL_MODELS") == "1":
            raise
        pytest.skip(f"SmolLM2 cannot be fetched here: {error}")
    handle = load_model("smollm2")
    config = SamplingConfig(temperature=0.9)
    trace = apply(handle.next_token_logits("hello, this is my favorite").logits, config)
    labels = tables.top_tokens(trace, handle.labels, 20)["label"].tolist()
    assert labels[:4] == [".", "␣color", "␣way", "␣game"]
    with streamlit_server({"SAMPLING_MODEL": None}, timeout=120) as running:
        page = open_page(browser, running.url, 1500, 1000)
        charts = page.locator(CHART)
        for index in (0, 3):
            shown = svg_texts(charts.nth(index))
            missing = [label for label in labels if label not in shown]
            assert not missing, (index, missing)
        assert page.get_by_text("stand-in").count() == 0, "a real model, not the bundled stand-in"
        page.close()


def test_a_panel_shows_the_distribution_a_llama_server_reports_beside_its_own(browser):
    """llama-server built from the vendored llama.cpp serves SmolLM2; panel A (llama.cpp order, its
    runtime) draws the server's post-sampling distribution under its own, and the two agree."""
    from benchmarks.harness import LLAMA_SERVER, llama_server
    from sampling.fetch import FetchError, fetch

    if not LLAMA_SERVER.exists():
        if os.environ.get("REQUIRE_LLAMA_SERVER") == "1":
            raise RuntimeError(f"REQUIRE_LLAMA_SERVER=1 but {LLAMA_SERVER} has not been built")
        pytest.skip("llama-server has not been built (scripts/build_llama_server.sh)")
    try:
        gguf = fetch("smollm2", progress=lambda line: None)
    except FetchError as error:
        pytest.skip(f"SmolLM2 cannot be fetched here: {error}")
    query = "?server=local&runtime=llama.cpp&a_order=llama.cpp&a_temperature=0.8&a_top_k=8"
    with llama_server(gguf) as url, streamlit_server({"SAMPLING_MODEL": "smollm2",
                                                      "SAMPLING_SERVERS": f"local=llama.cpp+{url}"}) as running:
        page = browser.new_page(viewport={"width": 1500, "height": 2400})
        page.goto(running.url + "/" + query)
        expect(page.locator(APP_READY)).to_be_visible(timeout=60_000)
        expect(page.locator(CHART)).to_have_count(7, timeout=120_000)
        expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=120_000)
        charts = page.locator(CHART)
        for index in range(7):
            charts.nth(index).scroll_into_view_if_needed()
            expect(charts.nth(index).locator("svg")).to_be_visible(timeout=60_000)
        local, reported = svg_texts(charts.nth(0)), svg_texts(charts.nth(3))
        handle = load_model("smollm2")
        labels = handle.labels(apply(handle.next_token_logits("hello, this is my favorite").logits,
                                     SamplingConfig(order="llama.cpp", temperature=0.8, top_k=8)).probs.topk(8).indices.tolist())
        assert all(label in local and label in reported for label in labels), (labels, reported)
        expect(page.get_by_text("largest difference", exact=False)).to_contain_text("largest difference 0 over")
        page.close()
