"""The custom order as cards to drag (`app/sampler_chain.py`), in chromium: a card dragged with the
mouse, or with a finger on a phone, or moved with the arrow keys, sets the panel's order, the URL
and the panel's figures, as the engine computes them with that order; a card dragged down is left
out; each card shows the tokens kept after it. Crafted values are ignored. Skipped without
chromium, unless REQUIRE_BROWSER_TEST=1 (the checks of `apply_order` always run)."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from browser_helpers import browser, require_chromium, server  # noqa: F401 - fixtures

from app import sampler_chain
from benchmarks.harness import APP_READY, SCRIPT_IDLE
from sampling import SamplingConfig, apply, load_model
from sampling.engines.llama_cpp import DEFAULT_SAMPLERS

PROMPT = "hello, this is my favorite"


@pytest.mark.parametrize("sent, expected", [
    ({"order": ["temperature", "top_p"], "change": 1}, "temperature,top_p"),
    ({"order": [], "change": 2}, ""),
    ({"order": ["temperature", "temperature"], "change": 1}, "top_k,top_p"),
    ({"order": ["temperature", "<b>x</b>"], "change": 1}, "top_k,top_p"),
    ({"order": "temperature,top_p"}, "top_k,top_p"),
    ({"order": [3]}, "top_k,top_p"),
    (["temperature"], "top_k,top_p"),
    (None, "top_k,top_p"),
])
def test_a_dragged_order_is_taken_only_when_it_names_each_sampler_once(monkeypatch, sent, expected):
    session = {"a_chain": sent, "a_samplers": "top_k,top_p"}
    monkeypatch.setattr(sampler_chain.st, "session_state", session)
    sampler_chain.apply_order("a")
    assert session["a_samplers"] == expected


require_chromium()
playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect


def open_cards(browser, server, size: tuple[int, int], query: str, **context):
    """A page on panel A's custom order with its llama.cpp group open; its cards' frame."""
    page = browser.new_context(viewport={"width": size[0], "height": size[1]}, **context).new_page()
    page.goto(f"{server}/?a_order=custom&a_top_p=0.9{query}")
    expect(page.locator(APP_READY)).to_be_visible(timeout=60_000)
    expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=120_000)
    page.locator(".st-key-a_more button").filter(has_text="llama.cpp").click()
    expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=60_000)
    page.locator(".st-key-a_chain iframe").scroll_into_view_if_needed()
    frame = page.frame_locator(".st-key-a_chain iframe")
    expect(frame.locator(".card").first).to_be_visible(timeout=60_000)
    return page, frame


def chain_in_url(page) -> list[str]:
    page.wait_for_url(re.compile(r"a_samplers="), timeout=30_000)
    expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=60_000)
    return unquote(re.search(r"a_samplers=([^&]*)", page.url).group(1)).split(",")


def centre(box: dict, dx: float = 0.5) -> tuple[float, float]:
    return box["x"] + box["width"] * dx, box["y"] + box["height"] / 2


def kept_figure(page):
    return page.locator("[data-testid='stMetric']").filter(has_text="Tokens kept").first \
        .locator("[data-testid='stMetricValue']")


def test_dragging_a_card_sets_the_order_and_the_panel_follows(server, browser):
    page, frame = open_cards(browser, server, (1280, 800), "")
    logits = load_model("fortune-base").next_token_logits(PROMPT).logits
    default = apply(logits, SamplingConfig(order="custom", temperature=0.9, top_p=0.9), llama_cpp="port")
    top_p_card = frame.locator(".card[data-name=top_p]")
    expect(top_p_card).to_contain_text(f"{int(default.kept.sum()):,} kept")
    page.mouse.move(*centre(frame.locator(".card[data-name=temperature]").bounding_box()))
    page.mouse.down()
    page.mouse.move(*centre(frame.locator(".card[data-name=top_k]").bounding_box(), 0.2), steps=8)
    page.mouse.up()
    order = chain_in_url(page)
    assert order == ["penalties", "dry", "top_n_sigma", "temperature", "top_k", "typ_p", "top_p", "min_p", "xtc"]
    moved = apply(logits, SamplingConfig(order="custom", samplers=tuple(order), temperature=0.9, top_p=0.9),
                  llama_cpp="port")
    kept = int(moved.kept.sum())
    assert kept < int(default.kept.sum())  # T 0.9 before top_p sharpens what top_p adds up
    expect(kept_figure(page)).to_have_text(f"{kept:,}", timeout=30_000)
    expect(top_p_card).to_contain_text(f"{kept:,} kept")
    # Dragged down into the left-out list: xtc no longer runs.
    page.mouse.move(*centre(frame.locator(".card[data-name=xtc]").bounding_box()))
    page.mouse.down()
    page.mouse.move(*centre(frame.locator("#off").bounding_box()), steps=8)
    page.mouse.up()
    expect(frame.locator("#off .card[data-name=xtc]")).to_be_visible(timeout=30_000)
    page.wait_for_url(re.compile(r"a_samplers=[^&]*min_p(&|$)"), timeout=30_000)
    assert "xtc" not in chain_in_url(page)
    page.close()


def test_the_keys_move_leave_out_and_bring_back_the_focused_card(server, browser):
    page, frame = open_cards(browser, server, (1280, 800), "")
    frame.locator(".card[data-name=temperature]").focus()
    for _ in range(3):
        frame.locator(".card[data-name=temperature]").press("ArrowLeft")
    page.wait_for_url(re.compile(r"a_samplers=[^&]*typ_p%2Ctemperature%2Ctop_p"), timeout=30_000)
    assert chain_in_url(page)[:6] == [*DEFAULT_SAMPLERS[:5], "temperature"]
    frame.locator(".card[data-name=dry]").press("Delete")  # left out
    page.wait_for_url(re.compile(r"a_samplers=penalties%2Ctop_n_sigma"), timeout=30_000)
    assert "dry" not in chain_in_url(page)
    frame.locator("#off .card[data-name=dry]").press("Enter")  # and back, at the end
    page.wait_for_url(re.compile(r"a_samplers=[^&]*xtc%2Cdry"), timeout=30_000)
    page.close()


def test_a_finger_drags_a_card_on_a_phone(server, browser):
    page, frame = open_cards(browser, server, (400, 900), "", has_touch=True, is_mobile=True)
    touch = page.context.new_cdp_session(page)
    start = centre(frame.locator(".card[data-name=temperature]").bounding_box())
    end = centre(frame.locator(".card[data-name=penalties]").bounding_box(), 0.2)
    touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": start[0], "y": start[1]}]})
    for step in range(1, 9):
        x, y = (start[i] + (end[i] - start[i]) * step / 8 for i in range(2))
        touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    assert chain_in_url(page)[0] == "temperature"
    page.close()
