"""Model work that is priced before it starts and stops between steps once nobody waits for it,
and short work that never waits behind long work."""

import threading
import time

import pytest

from app.slots import ModelSlots
from sampling import Limits, SamplingConfig, load_model
from sampling.limits import WorkCancelled, work_units


def test_generate_stops_within_a_step_once_cancelled():
    """Cancelled while the second forward pass runs: it stops at that pass's first layer."""
    handle = load_model("fortune-small")
    forward = handle.model.forward
    calls, layers_run = [], []

    def counting(*args, **kwargs):
        calls.append(1)
        return forward(*args, **kwargs)

    def layer_ran(module, inputs, output):
        layers_run.append(len(calls))

    hooks = [layer.register_forward_hook(layer_ran) for layer in handle.model.transformer.h]
    handle.model.forward = counting
    try:
        with pytest.raises(WorkCancelled):
            handle.generate("hello", SamplingConfig(), n=4, max_new_tokens=200, seed=0,
                            cancelled=lambda: len(calls) >= 2)
    finally:
        handle.model.forward = forward
        for hook in hooks:
            hook.remove()
    assert len(calls) == 2, "the prompt's pass ran, the next one was stopped"
    assert layers_run.count(2) == 0, "not one layer of the cancelled pass ran"
    assert handle.generate("hello", SamplingConfig(), n=1, max_new_tokens=3).continuations, "the model still works"


def test_a_request_beyond_its_work_budget_is_refused_before_it_starts_and_says_what_fits():
    handle = load_model("fortune-small")  # vocabulary 4,096
    limited = load_model("fortune-small", limits=Limits(max_work=work_units({"top_p"}, 4, 50, 4096)))
    config = SamplingConfig(top_p=0.9)
    assert len(limited.generate("hello", config, n=4, max_new_tokens=50).continuations) == 4
    with pytest.raises(ValueError, match="ask for at most 50 tokens per sample"):
        limited.generate("hello", config, n=4, max_new_tokens=51)
    # Without a sorting stage the same budget buys five times the tokens.
    assert len(limited.generate("hello", SamplingConfig(temperature=0.7), n=4, max_new_tokens=200)
               .continuations) == 4
    assert handle.limits.max_work is None


def test_the_page_budget_refuses_16_x_200_on_gemmas_vocabulary_and_takes_it_on_smollm2s():
    from app.settings import read_settings

    limits = read_settings({}).limits
    assert work_units({"top_p"}, 16, 200, 49_152) <= limits.max_work < work_units({"top_p"}, 16, 200, 262_144)


def test_short_work_never_waits_behind_long_work():
    """The page gives prompt passes a lane of their own: with the long lane full, a short call runs."""
    long_lane, short_lane = ModelSlots(1), ModelSlots(1)
    release, started = threading.Event(), threading.Event()

    def long_work():
        with long_lane.hold("long-session"):
            started.set()
            release.wait(10)

    thread = threading.Thread(target=long_work)
    thread.start()
    started.wait(5)
    began = time.monotonic()
    with short_lane.hold("newcomer"):
        waited = time.monotonic() - began
    release.set()
    thread.join()
    assert long_lane.full is False and waited < 1.0


def test_the_page_uses_two_lanes():
    from app import slots

    assert slots.shared_slots(2, "short") is not slots.shared_slots(2, "long")
    assert slots.shared_slots(2, "short") is slots.shared_slots(2, "short")
