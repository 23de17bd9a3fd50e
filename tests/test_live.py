"""The live temperature's numbers and its release: the server's table gives every token's exact
probability at each slider position, and a released value sets the panel's temperature only when
the slider could have sent it."""

import math

import pytest
import torch

from app import live
from sampling import SamplingConfig, apply, load_model
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


def test_removed_tokens_count_for_nothing():
    log_z, bits = temperature_table(torch.tensor([0.0, 0.0, -math.inf]), torch.tensor([1.0]))
    assert log_z.item() == pytest.approx(math.log(2)) and bits.item() == pytest.approx(1.0)


@pytest.mark.parametrize("sent, expected", [(0.45, 0.45), (0.4500001, 0.45), (0.0, 0.0), (2.0, 2.0), (2.5, 0.9),
                                            (-1, 0.9), (float("nan"), 0.9), ("hot", 0.9), (None, 0.9), (True, 0.9)])
def test_a_released_value_sets_the_temperature_only_when_the_slider_could_send_it(monkeypatch, sent, expected):
    # The callback reads and writes the session's state; a dict stands in for it here.
    session = {"a_live": sent, "a_temperature": 0.9}
    monkeypatch.setattr(live.st, "session_state", session)
    live.apply_live("a")
    assert session["a_temperature"] == expected
