"""The study's measures on distributions whose answers are known by hand."""

import math

import numpy as np
import pytest
import torch

from sampling import SamplingConfig, apply
from sampling.measures import (
    bootstrap_interval,
    exchange_rate,
    margin,
    slope,
    wilson_interval,
    zipf_crossing,
    zipf_exponent,
    zipf_margin,
    zipf_probs,
)
from sampling.metrics import entropy


def bits(logits: torch.Tensor, config: SamplingConfig) -> float:
    return entropy(apply(logits, config).probs.double(), bits=True).item()


def test_uniform_temperature_moves_nothing_top_p_halves_the_support():
    """Uniform over 8: any temperature keeps 3 bits; top_p 0.5 keeps 4 tokens, 2 bits. Margin −1."""
    logits = torch.zeros(8)
    raw = bits(logits, SamplingConfig())
    at_half = (bits(logits, SamplingConfig(temperature=0.5)), bits(logits, SamplingConfig(top_p=0.5)))
    assert raw == pytest.approx(3) and at_half == pytest.approx((3, 2), abs=1e-5)
    assert margin(np.array([raw]), np.array([at_half[0]]), np.array([at_half[1]])) == pytest.approx([-1], abs=1e-5)


def test_two_point_distribution_has_closed_forms():
    """p = (0.8, 0.2): temperature 0.5 squares the odds, 16 : 1, so H = h(16/17); top_p 0.5 keeps
    only the first token, H = 0. Both lower the entropy; top_p by more: a negative margin."""
    logits = torch.log(torch.tensor([0.8, 0.2]))

    def h(p):
        return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))

    raw, tempered, cut = h(0.8), h(16 / 17), 0.0
    assert bits(logits, SamplingConfig()) == pytest.approx(raw, abs=1e-5)
    assert bits(logits, SamplingConfig(temperature=0.5)) == pytest.approx(tempered, abs=1e-5)
    assert bits(logits, SamplingConfig(top_p=0.5)) == pytest.approx(cut, abs=1e-6)
    assert margin(np.array([raw]), np.array([tempered]), np.array([cut]))[0] == pytest.approx(
        (raw - tempered) - raw, abs=1e-5)


@pytest.mark.parametrize("s", [0.8, 1.1, 1.5, 2.0])
def test_zipf_exponent_is_recovered(s):
    assert zipf_exponent(zipf_probs(s, 4096).float()) == pytest.approx(s, rel=1e-3)


def test_zipf_theory_changes_sign_with_the_exponent():
    """At 0.5, temperature leads for moderate s (1.0) and top_p for steep ones (2.0); the sign
    changes between 1.3 and 1.6 whatever the vocabulary."""
    assert zipf_margin(1.0, 4096, 0.5) > 0 > zipf_margin(2.0, 4096, 0.5)
    for vocab in (2048, 4096, 16384):
        assert 1.3 < zipf_crossing(vocab, 0.5) < 1.6


def test_exchange_rate_by_hand():
    """Entropy 1, 2 and 3 bits at top_p 0.2, 0.4 and 0.6: 2.5 bits lie halfway between 0.4 and
    0.6; 3.5 bits are out of reach (only a temperature above 1 gets there)."""
    top_ps, curve = np.array([0.2, 0.4, 0.6]), np.array([1.0, 2.0, 3.0])
    assert exchange_rate(top_ps, curve, 2.5) == pytest.approx(0.5)
    assert exchange_rate(top_ps, curve, 2.0) == pytest.approx(0.4)
    assert math.isnan(exchange_rate(top_ps, curve, 3.5))


def test_slope_of_a_straight_line():
    assert slope(np.array([0.7, 0.8, 0.9, 1.0]), np.array([1.0, 1.5, 2.0, 2.5]), 0.7, 1.0) == pytest.approx(5.0)


def test_bootstrap_interval_of_a_mean_matches_the_normal_one():
    values = np.random.default_rng(1).normal(2.0, 1.0, size=400)
    low, high = bootstrap_interval(values, resamples=4000)
    half = 1.96 * values.std(ddof=1) / math.sqrt(len(values))
    assert low == pytest.approx(values.mean() - half, abs=0.02)
    assert high == pytest.approx(values.mean() + half, abs=0.02)


def test_wilson_interval_known_values():
    low, high = wilson_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert wilson_interval(0, 20)[0] == 0.0
