"""Hand-worked cases where transformers, vLLM and llama.cpp give different distributions."""

import math

import pytest
import torch

from sampling import SamplingConfig, apply
from sampling.engines.llama_cpp import native_module

IMPLEMENTATIONS = ("port", "native") if native_module() else ("port",)


def log_probs(*probs: float) -> torch.Tensor:
    return torch.log(torch.tensor(probs, dtype=torch.float64))


def renormalised(weights: list[float]) -> list[float]:
    total = sum(weights)
    return [w / total for w in weights]


def test_temperature_before_or_after_top_p():
    """p = (0.5, 0.3, 0.15, 0.05), T = 2, top_p = 0.75.

    transformers and vLLM divide first: p ∝ sqrt(p) = (0.379, 0.294, 0.208, 0.120). Cumulative
    0.379, 0.673, 0.880: the third token crosses 0.75, so three survive.
    llama.cpp cuts on the T = 1 distribution: 0.5, then 0.8 >= 0.75, so two survive, and only then
    does temperature flatten them: (sqrt 0.5, sqrt 0.3) renormalised.
    """
    logits = log_probs(0.5, 0.3, 0.15, 0.05)
    settings = dict(temperature=2.0, top_p=0.75)
    flattened = [math.sqrt(p) for p in (0.5, 0.3, 0.15)]
    expected_transformers = renormalised(flattened) + [0.0]
    expected_llama = renormalised([math.sqrt(0.5), math.sqrt(0.3)]) + [0.0, 0.0]

    for order in ("transformers", "vllm"):
        probs = apply(logits, SamplingConfig(order=order, **settings)).probs
        assert probs.tolist() == pytest.approx(expected_transformers, abs=1e-6), order
    llama = apply(logits, SamplingConfig(order="llama.cpp", **settings))
    assert llama.probs.tolist() == pytest.approx(expected_llama, abs=1e-6)
    assert [stage.name for stage in llama.stages] == ["top_p", "temperature"]


def test_min_p_before_top_p_in_vllm():
    """p = (0.3, 0.25, 0.2, 0.15, 0.1), min_p = 0.6, top_p = 0.7.

    transformers: top_p first, cumulative 0.3, 0.55, 0.75 keeps three; min_p on the renormalised
    (0.4, 0.333, 0.267) has threshold 0.24 and keeps all three.
    vLLM: min_p first, threshold 0.6 * 0.3 = 0.18 keeps (0.3, 0.25, 0.2), renormalised
    (0.4, 0.333, 0.267); top_p then reaches 0.7 at the second token (0.733), so two survive.
    """
    logits = log_probs(0.3, 0.25, 0.2, 0.15, 0.1)
    settings = dict(min_p=0.6, top_p=0.7)
    transformers = apply(logits, SamplingConfig(order="transformers", **settings))
    vllm = apply(logits, SamplingConfig(order="vllm", **settings))
    assert transformers.probs.tolist() == pytest.approx(renormalised([0.3, 0.25, 0.2]) + [0.0, 0.0], abs=1e-6)
    assert vllm.probs.tolist() == pytest.approx(renormalised([0.3, 0.25]) + [0.0] * 3, abs=1e-6)
    assert [stage.name for stage in vllm.stages] == ["min_p", "top_p"]
    assert [stage.name for stage in transformers.stages] == ["top_p", "min_p"]


def test_top_k_ties_are_kept_except_in_llama_cpp():
    """logits (1, 1, 1, 0), top_k = 2: transformers and vLLM keep every token tied with the 2nd
    largest (three tokens at 1/3); llama.cpp keeps exactly two (the port: the lower ids)."""
    logits = torch.tensor([1.0, 1.0, 1.0, 0.0])
    for order in ("transformers", "vllm"):
        assert apply(logits, SamplingConfig(top_k=2, order=order)).probs.tolist() == pytest.approx(
            [1 / 3, 1 / 3, 1 / 3, 0.0]
        )
    assert apply(logits, SamplingConfig(top_k=2, order="llama.cpp"), llama_cpp="port").probs.tolist() == [0.5, 0.5, 0.0, 0.0]


def test_min_p_sees_temperature_except_in_llama_cpp():
    """p = (0.5, 0.3, 0.2), min_p = 0.5, T = 3. At T = 1 the threshold 0.25 removes 0.2.
    transformers scales first: p ∝ p^(1/3), the third token has 0.2^(1/3)/0.5^(1/3) = 0.737 of the
    top one, above 0.5, so it survives. llama.cpp filters at T = 1 and removes it."""
    logits = log_probs(0.5, 0.3, 0.2)
    settings = dict(temperature=3.0, min_p=0.5)
    assert apply(logits, SamplingConfig(**settings)).kept.tolist() == [True, True, True]
    llama = apply(logits, SamplingConfig(order="llama.cpp", **settings))
    assert llama.kept.tolist() == [True, True, False]
    assert llama.probs.tolist() == pytest.approx(renormalised([0.5 ** (1 / 3), 0.3 ** (1 / 3)]) + [0.0])


def test_llama_cpp_typical_keeps_the_token_that_crosses_the_mass():
    """Uniform over four tokens: every token is equally typical. Mass 0.5: running sums 0.25, 0.5,
    0.75; llama.cpp stops at the first sum strictly above 0.5, so three tokens survive, while
    transformers keeps the tokens as typical as the one where the sum reaches the mass: all four.
    Which three survive is the order llama.cpp's std::sort leaves equal scores in; the port keeps
    them in id order."""
    logits = torch.zeros(4)
    for implementation in IMPLEMENTATIONS:
        assert int(apply(logits, SamplingConfig(typical_p=0.5, order="llama.cpp"), llama_cpp=implementation).kept.sum()) == 3
    assert apply(logits, SamplingConfig(typical_p=0.5, order="llama.cpp"), llama_cpp="port").kept.tolist() == [True] * 3 + [False]
    assert apply(logits, SamplingConfig(typical_p=0.5)).kept.tolist() == [True] * 4


@pytest.mark.parametrize(
    ("order", "field"),
    [("vllm", "typical_p"), ("vllm", "epsilon_cutoff"), ("llama.cpp", "eta_cutoff")],
)
def test_settings_an_engine_lacks_are_refused(order, field):
    with pytest.raises(ValueError, match=f"{field} is not part of the {order} sampler"):
        SamplingConfig(order=order, **{field: 0.5})


def test_stage_details_explain_the_cut():
    logits = log_probs(0.5, 0.25, 0.15, 0.1)
    trace = apply(logits, SamplingConfig(top_k=3, top_p=0.7, min_p=0.2))
    top_k, top_p, min_p = trace.stages
    assert top_k.details["threshold_prob"].item() == pytest.approx(0.15)
    top_p_details = top_p.details
    assert top_p_details["threshold"] == 0.7
    assert top_p_details["cumulative"].tolist() == pytest.approx([0.5 / 0.9, 0.75 / 0.9, 1.0, 1.0])
    assert top_p_details["cutoff_rank"].item() == 2
    assert min_p.details["threshold_prob"].item() == pytest.approx(0.2 * 0.5 / 0.75)
    for stage in trace.stages:
        assert stage.probs.sum().item() == pytest.approx(1.0)
        assert bool((stage.probs[~stage.kept] == 0).all())
