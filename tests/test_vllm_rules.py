"""vLLM's own rules (0.33.0, its PyTorch path), each on a minimal hand-worked case."""

import math

import pytest
import torch

from sampling import SamplingConfig, apply


def test_tiny_temperature_is_raised_to_a_hundredth_not_greedy():
    """vLLM raises 0 < T < 0.01 to 0.01. Logits (1, 0.999, -2) at T = 0.01: probabilities
    ∝ (1, e^-0.1, e^-300) = (0.525, 0.475, 0); top_p 0.9 keeps both of the first two.
    Greedy (T < 1e-5 as a rule of its own) would keep only the first."""
    logits = torch.tensor([1.0, 0.999, -2.0])
    trace = apply(logits, SamplingConfig(temperature=1e-5, top_p=0.9, order="vllm"))
    assert trace.kept.tolist() == [True, True, False]
    temperature = trace.stage("temperature")
    assert temperature.value == 0.01
    assert temperature.note == "vLLM raises temperature 1e-05 to 0.01"
    assert trace.probs[:2].tolist() == pytest.approx([1 / (1 + math.exp(-0.1)), math.exp(-0.1) / (1 + math.exp(-0.1))],
                                                     abs=1e-6)


def test_only_temperature_zero_is_greedy_and_it_ignores_the_filters():
    logits = torch.tensor([1.0, 0.999, -2.0])
    trace = apply(logits, SamplingConfig(temperature=0, top_p=0.1, top_k=2, min_p=0.9, order="vllm"))
    assert [stage.name for stage in trace.stages] == ["greedy"]
    assert trace.kept.tolist() == [True, False, False]


def test_temperature_above_two_is_refused_with_vllms_limit():
    with pytest.raises(ValueError, match=r"temperature must be in \[0, 2\] for the vllm order .*vLLM.*got 100"):
        SamplingConfig(temperature=100, order="vllm")
    SamplingConfig(temperature=2.0, order="vllm")
    SamplingConfig(temperature=100)  # transformers has no such limit


def test_top_p_is_stored_as_float32():
    """0.99999999 is 1 in float32. vLLM still runs top_p (the request's own value is below 1) with
    p = 1, which removes only tokens of probability 0; transformers computes 1 - 0.99999999 = 1e-8
    and removes the tail whose mass is at most 1e-8."""
    logits = torch.linspace(0, -40, 400)
    vllm = apply(logits, SamplingConfig(top_p=0.99999999, order="vllm"))
    transformers = apply(logits, SamplingConfig(top_p=0.99999999))
    assert vllm.stage("top_p").note == "vLLM stores top_p as float32: 0.99999999 becomes 1"
    assert int(vllm.kept.sum()) == int((torch.softmax(logits, dim=-1) > 0).sum()) == 400
    assert int(transformers.kept.sum()) < 250


@pytest.mark.parametrize("top_k", [0, -1])
def test_top_k_zero_and_minus_one_are_off(top_k):
    trace = apply(torch.tensor([3.0, 2.0, 1.0]), SamplingConfig(top_k=top_k, order="vllm"))
    assert trace.stages == () and trace.kept.all()


def test_top_k_at_or_above_the_vocabulary_keeps_everything():
    trace = apply(torch.tensor([3.0, 2.0, 1.0]), SamplingConfig(top_k=3, order="vllm"))
    assert trace.kept.all()
    assert apply(torch.tensor([3.0, 2.0, 1.0]), SamplingConfig(top_k=7, order="vllm")).kept.all()


def test_top_k_keeps_every_token_tied_with_the_kth():
    """logits (0, 1, 1, 2), k = 2: the 2nd largest is 1, and both tokens at 1 stay."""
    trace = apply(torch.tensor([0.0, 1.0, 1.0, 2.0]), SamplingConfig(top_k=2, order="vllm"))
    assert trace.kept.tolist() == [False, True, True, True]
    ties = trace.stage("top_k").details["ties"]
    assert (int(ties["tied"]), int(ties["kept"]), float(ties["logit"])) == (2, 2, 1.0)


def test_min_p_keeps_a_token_exactly_at_the_threshold():
    """p = (0.5, 0.25, 0.125, 0.125) are exact in float32; min_p 0.5 gives the threshold 0.25:
    vLLM removes p < 0.25, so the second token stays."""
    logits = torch.log(torch.tensor([0.5, 0.25, 0.125, 0.125]))
    assert apply(logits, SamplingConfig(min_p=0.5, order="vllm")).kept.tolist() == [True, True, False, False]


def test_top_p_boundary_uses_one_minus_float32_p():
    """vLLM removes ascending cumulative sums <= 1 - float32(p), transformers <= float32(1 - p).
    For p = 0.9 the bounds are 0.10000002384 and 0.10000000149. These two logits give the smaller
    token the probability 0.10000001639 in float32, between the bounds: vLLM removes it,
    transformers keeps it."""
    logits = torch.tensor([-2.3025848865509033, -0.10536054521799088])
    assert torch.softmax(logits, dim=-1)[0].item() == pytest.approx(0.10000001639, abs=1e-11)
    assert apply(logits, SamplingConfig(top_p=0.9, order="vllm")).kept.tolist() == [False, True]
    assert apply(logits, SamplingConfig(top_p=0.9)).kept.tolist() == [True, True]


def one_sort_top_k_top_p(logits: torch.Tensor, k: int, p: float) -> torch.Tensor:
    """The rule of ``apply_top_k_top_p_pytorch``, written out: one ascending sort of the logits,
    top_k's cut on it, then top_p's cut on that same sorted array."""
    ascending, order = logits.sort(dim=-1)
    kth = ascending[..., logits.shape[-1] - k:logits.shape[-1] - k + 1]
    ascending = torch.where(ascending < kth, -math.inf, ascending)
    removed = ascending.softmax(dim=-1).cumsum(dim=-1) <= 1 - torch.tensor(p, dtype=torch.float32)
    removed[..., -1] = False
    ascending = torch.where(removed, -math.inf, ascending)
    return torch.full_like(logits, -math.inf).scatter(-1, order, ascending)


def test_top_k_and_top_p_share_one_sort_as_vllm_does():
    """With both set, which tied token top_p cuts follows the one sort top_k made; a second sort
    of top_k's output can order the tie otherwise. Random tie-heavy rows, boundaries on a tie."""
    generator = torch.Generator().manual_seed(7)
    differs_from_two_sorts = 0
    for _ in range(400):
        vocab = int(torch.randint(20, 3000, (1,), generator=generator))
        logits = (torch.randn(vocab, generator=generator) * 2).round()  # a few values, many ties
        k = int(torch.randint(2, vocab, (1,), generator=generator))
        p = float(torch.rand(1, generator=generator)) * 0.9 + 0.05
        trace = apply(logits, SamplingConfig(order="vllm", top_k=k, top_p=p))
        expected = one_sort_top_k_top_p(logits, k, p)
        assert torch.equal(trace.final_logits, expected)
        top_k_only = apply(logits, SamplingConfig(order="vllm", top_k=k)).final_logits
        two_sorts = apply(top_k_only, SamplingConfig(order="vllm", top_p=p)).final_logits
        differs_from_two_sorts += not torch.equal(two_sorts, expected)
    assert differs_from_two_sorts > 0, "no case where a second sort would have cut another tied token"
