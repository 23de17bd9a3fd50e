"""Dragging the live samplers in chromium: the panel's top tokens redraw while the mouse is still
down, with no server round trip (the URL and the panel's sliders keep their values), each shown
probability that of the engine's trace at the dragged value; released, the panel's control and its
exact trace follow. Temperature, then top_p. Skipped without chromium, unless REQUIRE_BROWSER_TEST=1."""

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
PROMPT = "hello, this is my favorite"


def shown_probabilities(frame) -> list[float]:
    return [float(value) for value in frame.locator("rect").evaluate_all("rects => rects.map(r => r.dataset.p)")]


def metric(page, name: str):
    return page.locator("[data-testid='stMetric']").filter(has_text=name).first.locator("[data-testid='stMetricValue']")


def drag(page, frame, name: str, start: float, end: float) -> None:
    """Press on ``name``'s thumb (at ``start`` of its width) and move to ``end``, not released."""
    box = frame.locator(f"#{name}").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end, y, steps=10)


@pytest.fixture
def panel(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1400})
    page.goto(server)
    expect(page.locator(APP_READY)).to_be_visible(timeout=60_000)
    expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=120_000)
    frame = page.frame_locator(".st-key-a_live iframe")
    expect(frame.locator("rect").first).to_be_attached(timeout=60_000)
    yield page, frame
    page.close()


def test_dragging_the_temperature_redraws_before_release_and_the_panel_follows(panel):
    page, frame = panel
    before = shown_probabilities(frame)
    drag(page, frame, "temperature", 0.45, 0.25)  # from T 0.9 of 0..2 towards 0.5
    dragged = shown_probabilities(frame)
    live_temperature = float(frame.locator("#temperature-value").inner_text())
    assert live_temperature < 0.8 and dragged != before and dragged[0] > before[0], (before[:3], dragged[:3])
    assert "a_temperature=0.9" in page.url or "a_temperature" not in page.url, "no round trip before release"
    # Exact: the browser's probability is softmax(logits / T) over all 4,096 tokens.
    logits = load_model("fortune-base").next_token_logits(PROMPT).logits
    expected = torch.softmax(logits.double() / live_temperature, -1).topk(len(dragged)).values.tolist()
    assert dragged == pytest.approx(expected, rel=1e-9)
    page.mouse.up()
    page.wait_for_url(re.compile(rf"a_temperature={live_temperature:g}"), timeout=30_000)
    expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=60_000)
    trace = apply(logits, SamplingConfig(temperature=live_temperature))
    server_entropy = float(-(trace.probs.double() * trace.probs.double().clamp_min(1e-300).log2()).sum())
    expect(metric(page, "Entropy (bits)")).to_have_text(f"{server_entropy:.3f}", timeout=30_000)


def test_dragging_top_p_cuts_the_tail_before_release_as_the_engine_does(panel):
    page, frame = panel
    before = shown_probabilities(frame)
    drag(page, frame, "top_p", 0.995, 0.45)  # from 1 (off) towards 0.45
    dragged = shown_probabilities(frame)
    top_p = float(frame.locator("#top_p-value").inner_text())
    assert top_p < 0.7 and "a_top_p" not in page.url, "no round trip before release"
    logits = load_model("fortune-base").next_token_logits(PROMPT).logits
    trace = apply(logits, SamplingConfig(temperature=0.9, top_p=top_p))  # panel A's temperature
    kept = int(trace.kept.sum())
    assert kept < len(dragged) and dragged[0] > before[0] and dragged[kept:] == [0.0] * (len(dragged) - kept), \
        (kept, before[:3], dragged[:3])
    assert dragged == pytest.approx(trace.probs.double().topk(len(dragged)).values.tolist(), rel=1e-5, abs=1e-12)
    assert f"{kept:,} tokens kept" in frame.locator("#figure").inner_text()
    page.mouse.up()
    page.wait_for_url(re.compile(rf"a_top_p={top_p:g}"), timeout=30_000)
    expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=60_000)
    expect(metric(page, "Tokens kept")).to_have_text(f"{kept:,}", timeout=30_000)


def test_values_between_the_sliders_steps_are_shown_as_the_panel_has_them(server, browser):
    """A temperature and a top_p from the URL that no slider step gives: the live view computes at
    them, as the panel does, until a slider moves."""
    page = browser.new_page(viewport={"width": 1500, "height": 1400})
    page.goto(f"{server}/?a_temperature=0.93&a_top_p=0.937")
    expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=120_000)
    frame = page.frame_locator(".st-key-a_live iframe")
    expect(frame.locator("#temperature-value")).to_have_text("0.93", timeout=60_000)
    expect(frame.locator("#top_p-value")).to_have_text("0.937")
    logits = load_model("fortune-base").next_token_logits(PROMPT).logits
    trace = apply(logits, SamplingConfig(temperature=0.93, top_p=0.937))
    expect(metric(page, "Tokens kept")).to_have_text(f"{int(trace.kept.sum()):,}")
    figure = frame.locator("#figure").inner_text()
    assert f"entropy {metric(page, 'Entropy (bits)').inner_text()} bits, {int(trace.kept.sum()):,} tokens kept" in figure
    assert shown_probabilities(frame) == pytest.approx(trace.probs.double().topk(10).values.tolist(), rel=1e-5)
    page.close()
