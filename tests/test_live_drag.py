"""Dragging the live temperature in chromium: the panel's top tokens redraw while the mouse is still
down, with no server round trip (the URL and the panel's slider keep their value), each shown
probability exact over the whole vocabulary; released, the panel's temperature and its exact trace
follow. Skipped without chromium, unless REQUIRE_BROWSER_TEST=1."""

from __future__ import annotations

import re

import pytest
import torch
from browser_helpers import browser, require_chromium, server  # noqa: F401 - fixtures

from benchmarks.harness import APP_READY, SCRIPT_IDLE
from sampling import SamplingConfig, apply, load_model

require_chromium()

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect


def shown_probabilities(frame) -> list[float]:
    return [float(value) for value in frame.locator("rect").evaluate_all("rects => rects.map(r => r.dataset.p)")]


def test_dragging_redraws_before_release_and_the_panel_follows_on_release(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1400})
    page.goto(server)
    expect(page.locator(APP_READY)).to_be_visible(timeout=60_000)
    expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=120_000)
    frame = page.frame_locator(".st-key-a_live iframe")
    expect(frame.locator("rect").first).to_be_attached(timeout=60_000)
    before = shown_probabilities(frame)
    box = frame.locator("#slider").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.45, y)  # the thumb, at T 0.9 of 0..2
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.25, y, steps=10)  # towards T 0.5, not released
    dragged = shown_probabilities(frame)
    live_temperature = float(frame.locator("#value").inner_text())
    assert live_temperature < 0.8 and dragged != before and dragged[0] > before[0], (before[:3], dragged[:3])
    assert "a_temperature=0.9" in page.url or "a_temperature" not in page.url, "no round trip before release"
    # Exact: the browser's probability is softmax(logits / T) over all 4,096 tokens.
    handle = load_model("fortune-base")
    logits = handle.next_token_logits("hello, this is my favorite").logits
    expected = torch.softmax(logits.double() / live_temperature, -1).topk(len(dragged)).values.tolist()
    assert dragged == pytest.approx(expected, rel=1e-9)
    page.mouse.up()
    page.wait_for_url(re.compile(rf"a_temperature={live_temperature:g}"), timeout=30_000)
    expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=60_000)
    entropy = page.locator("[data-testid='stMetric']").filter(has_text="Entropy (bits)").first
    trace = apply(logits, SamplingConfig(temperature=live_temperature))
    server_entropy = float(-(trace.probs.double() * trace.probs.double().clamp_min(1e-300).log2()).sum())
    expect(entropy.locator("[data-testid='stMetricValue']")).to_have_text(f"{server_entropy:.3f}", timeout=30_000)
    page.close()
