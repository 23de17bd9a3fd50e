"""The figures the page shows between and inside the panels, against independent computations."""

import math

import numpy as np
import pytest

from sampling import SamplingConfig, apply, load_model
from sampling.metrics import js_divergence_of_logits, kl_divergence_of_logits


@pytest.fixture(scope="module")
def logits():
    return load_model("fortune-base").next_token_logits("hello, this is my favorite").logits


def float64_kl(p_logits: np.ndarray, q_logits: np.ndarray) -> float:
    def log_softmax(values):
        shifted = values - values.max()
        return shifted - math.log(np.exp(shifted).sum())

    log_p, log_q = log_softmax(p_logits.astype(np.float64)), log_softmax(q_logits.astype(np.float64))
    return float((np.exp(log_p) * (log_p - log_q)).sum() / math.log(2))


def test_kl_of_temperature_0_9_against_0_1_is_finite_and_right(logits):
    a, b = (apply(logits, SamplingConfig(temperature=t)) for t in (0.9, 0.1))
    assert int((b.probs == 0).sum()) > 1000, "the case: thousands of B's probabilities underflow in float32"
    expected = float64_kl(logits.numpy() / np.float32(0.9), logits.numpy() / np.float32(0.1))
    got = kl_divergence_of_logits(a.final_logits, b.final_logits, bits=True).item()
    assert math.isfinite(got) and got == pytest.approx(expected, rel=1e-9)
    assert 0 < js_divergence_of_logits(a.final_logits, b.final_logits, bits=True).item() < 1


def test_kl_is_infinite_only_where_one_side_removed_a_token_the_other_can_draw(logits):
    full, cut = apply(logits, SamplingConfig(temperature=0.9)), apply(logits, SamplingConfig(top_p=0.5))
    assert kl_divergence_of_logits(full.final_logits, cut.final_logits).item() == math.inf
    assert math.isfinite(kl_divergence_of_logits(cut.final_logits, full.final_logits).item())
