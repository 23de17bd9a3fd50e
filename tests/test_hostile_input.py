"""Nothing a visitor types, links or uploads, and nothing a tokenizer or model produces, reaches the
page as markup: per channel (URL value, URL key, prompt, token text, file name), in AppTest and in
headless chromium; and nothing of it runs as a formula in the CSV."""

from __future__ import annotations

import io
import re
from urllib.parse import urlencode, urlparse

import pandas as pd
import pytest
from apptest_helpers import new_app
from browser_helpers import require_chromium
from hostile_model import HOSTILE_TOKENS, build_hostile_model

from app.html import safe_markdown
from app.tables import HEADER_LINES, continuations_csv, distribution_csv
from sampling import SamplingConfig, apply, load_model
from sampling.study import ResultsFileError, read_results

PAYLOADS = HOSTILE_TOKENS + ["x" * 80_000]  # six of them stay under Streamlit's 512 kB query limit
MARKUP = re.compile(r"\]\(|<[a-z/]|\$|:red\[|:material/|https?://")


def outside_code_spans(markdown: str) -> str:
    return re.sub(r"(`+) .*? \1", "", markdown)


@pytest.fixture(scope="module")
def hostile_model(tmp_path_factory):
    return str(build_hostile_model(tmp_path_factory.mktemp("hostile") / "hostile-model"))


def notices(at) -> list[str]:
    return [element.value for kind in (at.warning, at.info, at.error, at.caption) for element in kind]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda payload: payload[:20])
def test_url_values_and_keys_are_shown_only_as_short_text(payload):
    at = new_app()
    at.query_params.update({"view": payload, "lang": payload, "a_order": payload, "model": payload,
                            "top_n": payload, payload: "1"})
    at.run()
    assert not at.exception
    warnings = [element.value for kind in (at.warning, at.error) for element in kind]
    # Five refused values and the unknown key; the model, typed freely on a local run, is refused
    # by its loader instead (and cut to its last 200 characters first when longer).
    assert 6 <= len(warnings) <= 7
    for warning in warnings:
        assert not MARKUP.search(outside_code_spans(warning)), warning
        assert len(warning) < 600, "a preview, not the whole value"


def test_safe_markdown_keeps_values_inside_code_spans():
    for payload in PAYLOADS:
        rendered = safe_markdown("Value {value} and {value} again.", value=payload + "`` ```")
        assert not MARKUP.search(outside_code_spans(rendered)), rendered


def test_prompt_and_token_text_reach_the_page_escaped(monkeypatch, hostile_model):
    monkeypatch.setenv("SAMPLING_ALLOWED_MODELS", hostile_model)
    at = new_app()
    at.query_params.update({"prompt": " ".join(HOSTILE_TOKENS)})
    at.run()
    assert not at.exception
    bodies = [element.proto.body for element in at.get("html")]
    assert len(bodies) >= 2  # the prompt's tokens and the continuations
    for body in bodies:
        assert not re.search(r"<(img|b|script|a)[ >]", body), body
    assert any("&lt;img" in body for body in bodies), "the token is there, escaped"
    for notice in notices(at):
        assert not MARKUP.search(outside_code_spans(notice)), notice


def test_file_names_are_shown_as_text():
    upload = io.BytesIO(b"not, a, results, file\n1,2,3,4\n")
    upload.name = "[x](https://evil.example).csv"
    with pytest.raises(ResultsFileError) as refused:
        read_results(upload)
    shown = safe_markdown("{reason}", 300, reason=str(refused.value))
    assert not MARKUP.search(outside_code_spans(shown))


def test_csv_cells_cannot_run_as_formulas(hostile_model):
    handle = load_model(hostile_model)
    logits = handle.next_token_logits("x").logits
    distributions = distribution_csv(apply(logits, SamplingConfig(temperature=0.5)), handle.labels, "a").decode()
    generation = handle.generate("x", SamplingConfig(temperature=2.0), n=4, max_new_tokens=8, seed=1)
    generated = continuations_csv(generation, "a").decode()
    for table in (distributions, generated):
        frame = pd.read_csv(io.StringIO(table), skiprows=HEADER_LINES, keep_default_na=False, dtype=str)
        for column in ("label",):
            for cell in frame[column]:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    frame = pd.read_csv(io.StringIO(distributions), skiprows=HEADER_LINES, keep_default_na=False)
    assert {"'=HYPERLINK(\"http://evil.example\",\"x\")", "'+cmd|'␣/C␣calc'!A0", "'-2+3", "'@SUM(1+1)"} <= set(frame["label"])
    assert pd.api.types.is_float_dtype(frame["logit"]) and (frame["logit"] < 0).any()


def test_in_chromium_no_link_image_formula_colour_or_beacon_comes_from_outside_text(hostile_model):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    from benchmarks.harness import CHROMIUM, CHROMIUM_ARGS, SCRIPT_IDLE, streamlit_server

    params = {"lang": "![x](http://127.0.0.1:9/px.png)", "a_order": ":red[**SESSION EXPIRED**]",
              "top_n": ":material/warning: call 555", "[click me](https://evil.example)": "1",
              "prompt": " ".join(HOSTILE_TOKENS)}
    hostile_file = {"name": "[results](https://evil.example) $x$.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n"}
    requested: list[str] = []
    with streamlit_server(extra_env={"SAMPLING_ALLOWED_MODELS": f"{hostile_model},fortune-base"}) as server, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"{server.url}/?{urlencode(params)}")
        expect(page.locator("[data-testid='stVegaLiteChart'] svg")).to_have_count(6, timeout=120_000)
        expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=120_000)
        assert_plain(page)
        page.goto(f"{server.url}/?view=study")
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(hostile_file)
        expect(page.locator("[data-testid='stAlert']").filter(has_text="evil.example")).to_be_visible(timeout=60_000)
        assert_plain(page)
        browser.close()
    beacons = [url for url in requested if urlparse(url).hostname == "evil.example" or urlparse(url).port == 9]
    assert not beacons, beacons


def assert_plain(page) -> None:
    main = page.locator("[data-testid='stMain']")
    for selector in ("a[href*='evil.example']", "img[src*='px.png']", "img[src='x']", ".katex",
                     "[data-testid='stAlert'] [data-testid='stIconMaterial']", "[data-testid='stAlert'] a",
                     "[data-testid='stAlert'] img", "[data-testid='stAlert'] span[style*='color']", "b"):
        assert main.locator(selector).count() == 0, selector
