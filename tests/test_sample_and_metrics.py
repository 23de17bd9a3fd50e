import math

import pytest
import torch
from scipy.stats import chisquare

from sampling import Limits, SamplingConfig, apply, sample
from sampling.metrics import (
    distinct_n,
    effective_tokens,
    entropy,
    entropy_of_logits,
    js_divergence,
    kl_divergence,
    mass_removed,
    mean_token_entropy,
    self_bleu,
    summary,
    tokens_kept,
)


def test_200k_seeded_draws_match_the_processed_distribution():
    logits = torch.randn(60, generator=torch.Generator().manual_seed(3)) * 2
    probs = apply(logits, SamplingConfig(temperature=0.8, top_k=25, top_p=0.95)).probs
    draws = sample(probs, 200_000, seed=11, limits=Limits(max_samples=200_000))
    counts = torch.bincount(draws, minlength=60)
    kept = probs > 0
    assert int(counts[~kept].sum()) == 0, "a removed token was drawn"
    kept_probs = probs[kept].double()
    expected = kept_probs / kept_probs.sum() * len(draws)  # float32 probs sum to 1 only to ~1e-7
    result = chisquare(counts[kept].double().numpy(), expected.numpy())
    assert result.pvalue > 0.001, result


def test_same_seed_same_draws_and_global_rng_untouched():
    probs = torch.softmax(torch.randn(2, 100), dim=-1)
    before = torch.get_rng_state()
    first, second = sample(probs, 50, seed=7), sample(probs, 50, seed=7)
    assert first.shape == (2, 50)
    assert torch.equal(first, second)
    assert not torch.equal(first, sample(probs, 50, seed=8))
    assert torch.equal(before, torch.get_rng_state())


@pytest.mark.parametrize("n", [0, -1, 2.5, True, 5e6, 5_000_000])
def test_sample_refuses_bad_n(n):
    with pytest.raises(ValueError, match="n must be an integer from 1 to"):
        sample(torch.tensor([0.5, 0.5]), n, seed=0)


@pytest.mark.parametrize("k", [1, 2, 7, 1000])
def test_uniform_over_k_tokens_has_entropy_log_k(k):
    probs = torch.zeros(k + 5, dtype=torch.float64)
    probs[:k] = 1 / k
    assert entropy(probs).item() == pytest.approx(math.log(k), abs=1e-12)
    assert entropy(probs, bits=True).item() == pytest.approx(math.log2(k), abs=1e-12)
    assert effective_tokens(probs).item() == pytest.approx(k)
    assert tokens_kept(probs).item() == k


def test_one_hot_has_zero_entropy_and_kl_of_itself_is_zero():
    one_hot = torch.tensor([0.0, 1.0, 0.0])
    assert entropy(one_hot).item() == 0.0
    p = torch.softmax(torch.randn(4, 50, dtype=torch.float64), dim=-1)
    assert torch.allclose(kl_divergence(p, p), torch.zeros(4, dtype=torch.float64), atol=1e-15)
    assert torch.allclose(js_divergence(p, p), torch.zeros(4, dtype=torch.float64), atol=1e-15)


def test_kl_and_js_closed_forms():
    p, q = torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0])
    assert kl_divergence(q, p).item() == pytest.approx(math.log(2))
    assert kl_divergence(p, q).item() == math.inf
    # Disjoint supports: JS is exactly log 2, one bit.
    assert js_divergence(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), bits=True).item() == pytest.approx(1.0)


def test_entropy_of_logits_equals_entropy_of_probabilities():
    logits = torch.randn(3, 500, dtype=torch.float64) * 4
    logits[0, :400] = float("-inf")
    assert torch.allclose(entropy_of_logits(logits), entropy(torch.softmax(logits, dim=-1)), atol=1e-12)
    assert entropy_of_logits(torch.tensor([0.0, float("-inf")]), bits=True).item() == 0.0


def test_summary_and_mass_removed():
    logits = torch.log(torch.tensor([0.5, 0.25, 0.125, 0.125]))
    trace = apply(logits, SamplingConfig(top_p=0.75))
    assert summary(trace) == pytest.approx(
        {"entropy_bits": -(2 / 3) * math.log2(2 / 3) - (1 / 3) * math.log2(1 / 3),
         "effective_tokens": math.exp(-(2 / 3) * math.log(2 / 3) - (1 / 3) * math.log(1 / 3)),
         "tokens_kept": 2, "top1_probability": 2 / 3}
    )
    assert mass_removed(trace)["top_p"].item() == pytest.approx(0.25)


def test_distinct_n():
    sequences = [["the", "cat", "sat"], ["the", "cat", "ran"]]
    assert distinct_n(sequences, 1) == pytest.approx(4 / 6)
    assert distinct_n(sequences, 2) == pytest.approx(3 / 4)
    assert distinct_n(sequences, 3) == pytest.approx(1.0)
    assert math.isnan(distinct_n([["a"]], 2))


def test_self_bleu_is_one_for_copies_and_low_for_unrelated_texts():
    assert self_bleu(["the cat sat on the mat today"] * 3) == pytest.approx(1.0)
    unrelated = ["the cat sat on the mat", "quantum fields obey gauge symmetry", "bake bread at dawn"]
    assert self_bleu(unrelated) < 0.1
    assert math.isnan(self_bleu(["alone"]))


def test_mean_token_entropy():
    assert mean_token_entropy([1.0, 2.0, 3.0]) == 2.0
    assert math.isnan(mean_token_entropy([]))


def test_the_panel_figures_are_those_of_the_distribution_drawn_from_at_gemmas_vocabulary():
    """A float32 softmax over 262,144 tokens sums to 1 only to its rounding; the figures are those
    of the distribution a draw follows (normalised), which is the float64 one to 1e-6 bits."""
    # Random logits of Gemma's spread (its std is about 5) and vocabulary.
    logits = torch.randn(262_144, generator=torch.Generator().manual_seed(0)) * 5
    trace = apply(logits, SamplingConfig(temperature=1.6))
    exact = torch.softmax(logits.double() / 1.6, dim=-1)
    assert abs(trace.probs.double().sum().item() - 1) > 1e-5  # the premise: float32 does not sum to 1
    figures = summary(trace)
    assert figures["entropy_bits"] == pytest.approx(entropy(exact, bits=True).item(), abs=1e-6)
    assert figures["top1_probability"] == pytest.approx(exact.max().item(), rel=1e-6)
