"""The live samplers' server side: the table gives every token's exact probability at each
temperature the slider can take, llama.cpp's float32 sums are its own, and a released value sets
its control only when that slider could have sent it (the browser's side: tests/test_live_view.py)."""

import math

import numpy as np
import pytest
import torch

from app import live
from sampling import SamplingConfig, apply, load_model
from sampling.engines import llama_cpp
from sampling.metrics import entropy, temperature_table


def test_the_table_gives_exact_probabilities_and_entropies_over_the_whole_vocabulary():
    logits = load_model("fortune-base").next_token_logits("hello, this is my favorite").logits
    temperatures = torch.tensor([0.05, 0.5, 0.9, 2.0], dtype=torch.float64)
    log_z, bits = temperature_table(logits, temperatures)
    for temperature, value, entropy_bits in zip(temperatures.tolist(), log_z.tolist(), bits.tolist(), strict=True):
        trace = apply(logits, SamplingConfig(temperature=temperature))
        browser = torch.exp(logits.double() / temperature - value)  # what the browser computes per token
        assert torch.allclose(browser, trace.probs.double(), atol=1e-6)
        assert entropy_bits == pytest.approx(entropy(trace.probs.double(), bits=True).item(), abs=1e-5)
    with pytest.raises(ValueError, match="temperatures must be > 0"):
        temperature_table(logits, torch.tensor([0.0, 1.0]))


def test_llama_cpp_sums_are_those_its_softmax_divides_by():
    """The sum the browser gets for llama.cpp is the float32 one its softmax adds up one term after
    the other (the port's, which tests/test_llama_cpp_native.py holds to llama.cpp's own): every
    probability of the port is its exponential over that sum, bit for bit."""
    logits = load_model("fortune-base").next_token_logits("hello, this is my favorite").logits
    for temperature in (0.5, 1.0, 1.35, 2.0):
        candidates = llama_cpp.Candidates(np.arange(len(logits)), logits.numpy() / np.float32(temperature))
        exponentials = llama_cpp._expf(candidates.logits - candidates.logits.max())
        [entry] = live.whole_vocabulary(logits, [temperature], for_llama_cpp=True)
        assert np.array_equal(exponentials / np.float32(entry["llama_sum"]), llama_cpp._softmax(candidates))
        assert entry["llama_sum"] == pytest.approx(exponentials.astype(np.float64).sum(), rel=1e-5)
        assert entry["log_z"] == pytest.approx(torch.logsumexp(logits.double() / temperature, -1).item())
    assert live.whole_vocabulary(logits, [0.0, 1.0], for_llama_cpp=False)[0] is None


def test_removed_tokens_count_for_nothing():
    log_z, bits = temperature_table(torch.tensor([0.0, 0.0, -math.inf]), torch.tensor([1.0]))
    assert log_z.item() == pytest.approx(math.log(2)) and bits.item() == pytest.approx(1.0)


@pytest.mark.parametrize("sent, expected", [
    ({"name": "temperature", "value": 0.45, "release": 1}, {"temperature": 0.45}),
    ({"name": "temperature", "value": 0.4500001, "release": 2}, {"temperature": 0.45}),
    ({"name": "temperature", "value": 0.0, "release": 1}, {"temperature": 0.0}),
    ({"name": "temperature", "value": 2.0, "release": 1}, {"temperature": 2.0}),
    ({"name": "top_p", "value": 0.37, "release": 1}, {"top_p": 0.37}),
    ({"name": "top_k", "value": 40.0, "release": 1}, {"top_k": 40}),
    ({"name": "min_p", "value": 0.05, "release": 1}, {"min_p": 0.05}),
    ({"name": "temperature", "value": 2.5, "release": 1}, {}),
    ({"name": "top_p", "value": 0.0, "release": 1}, {}),  # below the slider's 0.01
    ({"name": "top_k", "value": 201, "release": 1}, {}),
    ({"name": "temperature", "value": -1}, {}),
    ({"name": "temperature", "value": float("nan")}, {}),
    ({"name": "temperature", "value": "hot"}, {}),
    ({"name": "temperature", "value": True}, {}),
    ({"name": "seed", "value": 3}, {}),  # not a live control
    ({"name": ["temperature"], "value": 0.5}, {}),
    (0.45, {}), (None, {}), ("temperature", {}),
])
def test_a_released_value_sets_its_control_only_when_the_slider_could_send_it(monkeypatch, sent, expected):
    # The callback reads and writes the session's state; a dict stands in for it here.
    before = {"a_temperature": 0.9, "a_top_p": 1.0, "a_top_k": 0, "a_min_p": 0.0, "a_seed": 0}
    session = {"a_live": sent, **before}
    monkeypatch.setattr(live.st, "session_state", session)
    live.apply_live("a")
    assert session == {"a_live": sent, **before, **{f"a_{name}": value for name, value in expected.items()}}
    assert all(type(session[f"a_{name}"]) is type(value) for name, value in expected.items())


@pytest.mark.parametrize("config, expected", [
    (SamplingConfig(repetition_penalty=1.2), (["temperature", "top_k", "top_p", "min_p"], ["repetition_penalty"], [])),
    (SamplingConfig(order="vllm", frequency_penalty=0.5, temperature=0),  # greedy: the penalty still runs first
     (["temperature", "min_p", "top_k", "top_p"], ["frequency_penalty"], [])),
    (SamplingConfig(order="llama.cpp", logit_bias=((3, 1.0),), xtc_probability=0.5),
     (["top_k", "top_p", "min_p", "temperature"], ["logit_bias"], ["xtc_probability"])),
    # Dynamic temperature reads the candidates' entropy: the browser leaves it to the server.
    (SamplingConfig(order="llama.cpp", dynatemp_range=0.5, typical_p=0.9),
     (["top_k", "top_p", "min_p"], [], ["typical_p", "temperature"])),
    # A penalty after a cut in a custom order cannot be folded into the logits sent.
    (SamplingConfig(order="custom", samplers=("top_k", "penalties", "temperature"), repetition_penalty=1.3),
     (["top_k", "temperature"], [], ["repetition_penalty"])),
    (SamplingConfig(order="llama.cpp", mirostat=2), (["temperature"], [], ["mirostat"])),
    (SamplingConfig(order="custom", samplers=("top_p",)), (["top_p"], [], [])),
])
def test_the_live_chain_is_the_engines_order_and_names_what_it_leaves_to_the_server(config, expected):
    assert live.live_chain(config) == expected
