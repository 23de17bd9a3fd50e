"""The live samplers' numbers, computed by the browser's own code (`app/components/live_samplers/
view.js`, run in chromium) and checked against the engines' pipelines (llama.cpp's own samplers
where llama-cpp-python is installed, as in CI): on the bundled model and SmolLM2, for every engine
order, for random settings of temperature, top_k, top_p and min_p, the browser keeps the same
tokens as the engine and gives each shown token its probability and the distribution its entropy;
where it defers (a cut past the tokens it holds, a cut between tied tokens) that is so. Skipped
without chromium, unless REQUIRE_BROWSER_TEST=1."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from browser_helpers import browser, require_chromium  # noqa: F401 - fixture

from app import live
from sampling import SamplingConfig, apply, load_model
from sampling.fetch import fetched_models
from sampling.metrics import drawn_distribution, entropy

require_chromium()

COMPONENT = Path(live.__file__).parent / "components" / "live_samplers" / "index.html"
ORDERS = ("transformers", "vllm", "llama.cpp")


@pytest.fixture(scope="module")
def view(browser):
    """``view(data, chain, engine, cases)``: the browser's `liveView` for each case's values."""
    page = browser.new_page()
    page.goto(COMPONENT.as_uri())

    def run(data: dict, chain: list[str], engine: str, cases: list[dict]) -> list[dict]:
        args = {**data, "rows": [str(token) for token in data["top_ids"]], "chain": chain, "engine": engine}
        return page.evaluate("([args, cases]) => cases.map(values => liveView(args, decode(args.logits, Float32Array), decode(args.ids, Int32Array), values))",
                             [args, cases])

    yield run
    page.close()


def random_settings(rng: random.Random) -> dict:
    """Values the sliders can take, each stage often off."""
    return {"temperature": rng.choice([0.0, 0.05, 0.5, 0.9, 1.0, 1.5, 2.0, round(rng.randrange(41) * 0.05, 2)]),
            "top_k": rng.choice([0, 0, 1, 3, 40, 200, rng.randrange(201)]),
            "top_p": rng.choice([1.0, 1.0, 0.5, 0.9, 0.95, 0.99, round(rng.randrange(1, 101) * 0.01, 2)]),
            "min_p": rng.choice([0.0, 0.0, 0.05, 0.1, 0.5, round(rng.randrange(101) * 0.01, 2)])}


def check_against_the_engine(view, logits: torch.Tensor, order: str, sent: int, settings: list[dict]) -> dict:
    """Every case the browser computes agrees with the engine's trace; returns how many deferred, by reason."""
    data = live.browser_data(logits, sent, for_llama_cpp=order == "llama.cpp")
    config = SamplingConfig(order=order)
    chain, folded, others = live.live_chain(config)
    assert not folded and not others
    results = view(data, chain, "llama.cpp" if order == "llama.cpp" else order, settings)
    deferred = {"tail": 0, "tie": 0}
    ids = data["top_ids"]
    for values, result in zip(settings, results, strict=True):
        trace = apply(logits, SamplingConfig(order=order, **values))
        if result["deferred"]:
            stage, reason = result["deferred"]["stage"], result["deferred"]["reason"]
            deferred[reason] += 1
            kept = trace.stage(stage).kept.sum().item() if trace.stage(stage) else None
            if reason == "tail":  # the engine keeps more than the browser holds
                assert kept is not None and kept > sent, (order, values, result["deferred"], kept)
            continue
        probs = drawn_distribution(trace.probs)
        assert result["kept"] == int(trace.kept.sum()), (order, values, result["kept"], int(trace.kept.sum()))
        shown = [row["p"] for row in result["rows"]]
        assert shown == pytest.approx(probs[ids].tolist(), rel=1e-4, abs=1e-9), (order, values)
        assert result["bits"] == pytest.approx(entropy(probs, bits=True).item(), abs=1e-4), (order, values)
    return deferred


@pytest.mark.parametrize("order", ORDERS)
def test_the_browser_keeps_what_each_engine_keeps_on_the_bundled_model(view, order):
    logits = load_model("fortune-base").next_token_logits("hello, this is my favorite").logits
    rng = random.Random(order)
    settings = [random_settings(rng) for _ in range(300)]
    deferred = check_against_the_engine(view, logits, order, live.LIVE_TOKENS, settings)
    assert deferred["tail"] == 0  # the bundled model's 4,096 tokens are all sent


@pytest.mark.parametrize("order", ORDERS)
def test_past_the_tokens_sent_the_browser_defers_and_only_then(view, order):
    """With only 64 tokens sent, flat settings need more: deferred, each time rightly."""
    logits = load_model("fortune-base").next_token_logits("hello, this is my favorite").logits
    rng = random.Random(f"tail {order}")
    settings = [random_settings(rng) for _ in range(300)]
    deferred = check_against_the_engine(view, logits, order, 64, settings)
    assert deferred["tail"] > 10


@pytest.mark.parametrize("order", ORDERS)
def test_the_browser_keeps_what_each_engine_keeps_on_smollm2(view, order, smollm2):
    logits = smollm2.next_token_logits("The capital of France is").logits
    rng = random.Random(f"smollm2 {order}")
    check_against_the_engine(view, logits, order, live.LIVE_TOKENS, [random_settings(rng) for _ in range(150)])


@pytest.mark.skipif("gemma3" not in fetched_models(), reason="Gemma 3 is not fetched here (python -m sampling.fetch gemma3)")
@pytest.mark.parametrize("order", ORDERS)
def test_the_browser_keeps_what_each_engine_keeps_on_gemma3(view, order):
    """262,144 tokens, where the engines' float32 softmax sums to 1 only to 3e-5."""
    logits = load_model("gemma3").next_token_logits("The capital of France is").logits
    rng = random.Random(f"gemma3 {order}")
    check_against_the_engine(view, logits, order, live.LIVE_TOKENS, [random_settings(rng) for _ in range(100)])


@pytest.mark.parametrize("order, kept", [("transformers", 3), ("vllm", 3), ("llama.cpp", None)])
def test_top_k_between_tied_tokens(view, order, kept):
    """transformers and vLLM keep every token tied with the k-th; llama.cpp keeps exactly k, and
    which of the tied ones its sort keeps is its own: deferred."""
    logits = torch.tensor([3.0, 2.0, 2.0, 1.0, 0.0, -1.0])
    data = live.browser_data(logits, for_llama_cpp=order == "llama.cpp")
    chain, _, _ = live.live_chain(SamplingConfig(order=order))
    [result] = view(data, chain, order, [{"temperature": 1.0, "top_k": 2, "top_p": 1.0, "min_p": 0.0}])
    if kept is None:
        assert result["deferred"] == {"stage": "top_k", "reason": "tie"}
    else:
        assert result["deferred"] is None and result["kept"] == kept
        assert int(apply(logits, SamplingConfig(order=order, top_k=2)).kept.sum()) == kept


def test_the_engines_orders_differ_in_the_browser_as_they_do(view):
    """top_p before or after the temperature: llama.cpp cuts on the unscaled distribution."""
    logits = load_model("fortune-base").next_token_logits("hello, this is my favorite").logits
    values = {"temperature": 2.0, "top_k": 0, "top_p": 0.5, "min_p": 0.0}
    kept = {}
    for order in ORDERS:
        chain, _, _ = live.live_chain(SamplingConfig(order=order))
        [result] = view(live.browser_data(logits, for_llama_cpp=order == "llama.cpp"), chain, order, [values])
        kept[order] = result["kept"]
        assert kept[order] == int(apply(logits, SamplingConfig(order=order, **values)).kept.sum())
    assert kept["llama.cpp"] < kept["transformers"] == kept["vllm"]


@pytest.mark.parametrize("order, before", [("transformers", {}), ("vllm", {}), ("llama.cpp", {}),
                                           ("llama.cpp", {"top_k": 3})])
def test_greedy_between_tokens_tied_at_the_top(view, order, before):
    """The lowest id, as torch.argmax takes it and llama.cpp's first maximum while its candidates are
    in id order; after llama.cpp's top_k sorted them, its sort's choice: deferred."""
    logits = torch.tensor([1.0, 3.0, 3.0, 0.5, 3.0, -1.0])
    data = live.browser_data(logits, for_llama_cpp=order == "llama.cpp")
    chain, _, _ = live.live_chain(SamplingConfig(order=order))
    values = {"temperature": 0.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, **before}
    [result] = view(data, chain, order, [values])
    if before:
        assert result["deferred"] == {"stage": "temperature", "reason": "tie"}
        return
    engine = apply(logits, SamplingConfig(order=order, **values)).probs
    assert engine.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    shown = {int(token): row["p"] for token, row in zip(data["top_ids"], result["rows"], strict=True)}
    assert result["deferred"] is None and result["kept"] == 1 and shown[1] == 1.0 and sum(shown.values()) == 1.0
