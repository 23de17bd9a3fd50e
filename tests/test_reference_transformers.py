"""The "transformers" order against the processors that `generate(do_sample=True)` itself builds."""

import math
import random

import pytest
import torch
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel
from transformers.generation.logits_process import LogitsProcessorList

from sampling import SamplingConfig, apply

CASES = 1000
DTYPES = (torch.float32, torch.float16, torch.bfloat16)


@pytest.fixture(scope="module")
def generation_model() -> GPT2LMHeadModel:
    """Any model will do: only its `_get_logits_processor` is used, which reads no weights."""
    return GPT2LMHeadModel(GPT2Config(vocab_size=8, n_positions=8, n_layer=1, n_head=1, n_embd=4))


def reference_processors(model: GPT2LMHeadModel, config: SamplingConfig) -> LogitsProcessorList:
    generation_config = GenerationConfig(**config.to_generate_kwargs())
    return model._get_logits_processor(
        generation_config=generation_config,
        input_ids_seq_length=1,
        logits_processor=LogitsProcessorList(),
        device="cpu",
    )


def random_logits(rng: random.Random, torch_rng: torch.Generator) -> torch.Tensor:
    vocab = rng.choice([2, 3, 152_064]) if rng.random() < 0.15 else round(math.exp(rng.uniform(math.log(2), math.log(152_064))))
    if vocab > 20_000:
        shape = (vocab,) if rng.random() < 0.5 else (2, vocab)
    else:
        shape = (vocab,) if rng.random() < 0.5 else (rng.randint(1, 4), vocab)
    logits = torch.randn(shape, generator=torch_rng) * math.exp(rng.uniform(math.log(0.1), math.log(10)))
    if rng.random() < 0.3:
        logits = (logits * 2).round() / 2  # many exact ties
    return logits.to(rng.choice(DTYPES))


def cumulative_sum_at_random_rank(logits: torch.Tensor, temperature: float, rng: random.Random) -> float:
    """A top_p that equals one of the cumulative sums transformers will compute."""
    row = logits.float().reshape(-1, logits.shape[-1])[0] / temperature
    cumulative = torch.softmax(row, dim=-1).sort(descending=True).values.cumsum(dim=-1)
    top_p = cumulative[rng.randrange(len(cumulative))].item()
    return min(max(top_p, 1e-6), 1.0)


def random_config(rng: random.Random, logits: torch.Tensor) -> SamplingConfig:
    vocab = logits.shape[-1]
    on = lambda chance: rng.random() < chance  # noqa: E731
    temperature = math.exp(rng.uniform(math.log(0.05), math.log(20))) if on(0.7) else 1.0
    if on(0.15):
        top_p = cumulative_sum_at_random_rank(logits, temperature, rng)
    else:
        top_p = rng.uniform(0.01, 0.99) if on(0.5) else 1.0
    return SamplingConfig(
        temperature=temperature,
        top_k=rng.randint(1, 2 * vocab + 5) if on(0.5) else 0,
        top_p=top_p,
        min_p=rng.uniform(0.001, 0.6) if on(0.4) else 0.0,
        typical_p=rng.uniform(0.1, 0.99) if on(0.3) else 1.0,
        epsilon_cutoff=math.exp(rng.uniform(math.log(1e-6), math.log(0.05))) if on(0.3) else 0.0,
        eta_cutoff=math.exp(rng.uniform(math.log(1e-6), math.log(0.05))) if on(0.3) else 0.0,
    )


def test_matches_generate_processors_on_random_cases(generation_model):
    rng = random.Random(20261125)
    torch_rng = torch.Generator().manual_seed(20261125)
    covered = {"vocab_2": False, "vocab_152064": False, "batched": False, "ties": False, "top_k_over_vocab": False}
    covered.update({str(dtype): False for dtype in DTYPES})
    for case in range(CASES):
        logits = random_logits(rng, torch_rng)
        config = random_config(rng, logits)
        original = logits.clone()

        trace = apply(logits, config)
        as_float = logits.float().reshape(-1, logits.shape[-1])
        expected_scores = reference_processors(generation_model, config)(None, as_float)
        expected_kept = torch.isfinite(expected_scores).reshape(logits.shape)
        expected_probs = torch.softmax(expected_scores, dim=-1).reshape(logits.shape)

        context = f"case {case}: {config}, shape {tuple(logits.shape)}, {logits.dtype}"
        assert torch.equal(logits, original), f"input mutated in {context}"
        assert trace.probs.shape == logits.shape
        assert torch.equal(trace.kept, expected_kept), f"kept set differs in {context}"
        assert torch.allclose(trace.probs, expected_probs, atol=1e-6, rtol=0), f"probs differ in {context}"
        assert [stage.name for stage in trace.stages] == list(config.active()), context

        covered["vocab_2"] |= logits.shape[-1] == 2
        covered["vocab_152064"] |= logits.shape[-1] == 152_064
        covered["batched"] |= logits.dim() == 2
        covered["ties"] |= logits.float().unique().numel() < logits.numel() // 2
        covered["top_k_over_vocab"] |= config.top_k > logits.shape[-1]
        covered[str(logits.dtype)] = True
    assert all(covered.values()), covered


@pytest.mark.parametrize("dtype", DTYPES)
def test_temperature_zero_is_one_hot_argmax(dtype):
    logits = torch.tensor([[0.5, 3.0, -1.0, 2.9], [4.0, 0.0, 4.5, 1.0]], dtype=dtype)
    for order in ("transformers", "vllm", "llama.cpp"):
        probs = apply(logits, SamplingConfig(temperature=0, order=order)).probs
        assert probs.tolist() == [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]], order


def test_greedy_ignores_every_filter():
    logits = torch.tensor([1.0, 2.0, 0.5])
    settings = SamplingConfig(temperature=0, top_p=0.1, top_k=3, min_p=0.9, typical_p=0.2)
    trace = apply(logits, settings)
    assert [stage.name for stage in trace.stages] == ["greedy"]
    assert trace.probs.tolist() == [0.0, 1.0, 0.0]


def test_top_p_exactly_at_a_cumulative_sum_keeps_the_crossing_token():
    # Dyadic probabilities are exact in float32: cumulative sums 0.5, 0.75, 0.875, 1.
    logits = torch.log(torch.tensor([0.5, 0.25, 0.125, 0.125]))
    assert apply(logits, SamplingConfig(top_p=0.75)).kept.tolist() == [True, True, False, False]
    assert apply(logits, SamplingConfig(top_p=0.5)).kept.tolist() == [True, False, False, False]
