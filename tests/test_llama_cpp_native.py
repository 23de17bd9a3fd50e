"""The hand-written llama.cpp chain against llama.cpp's own samplers (llama-cpp-python).

The kept sets must agree except where the only difference is which of exactly tied tokens
survive, or where llama.cpp's typical sampler computes a NaN entropy (a candidate of probability
0) and keeps an almost arbitrary set. Every such case is counted and shown in pytest's summary.
"""

import math
import os
import random
from collections import Counter

import numpy as np
import pytest
import torch

from sampling import Context, SamplingConfig, apply
from sampling.engines import llama_cpp
from sampling.engines.llama_cpp import native_module
from sampling.pipeline import chain
from summary import report

CASES = 2400
DTYPES = (torch.float32, torch.float16, torch.bfloat16)

if native_module() is None:
    if os.environ.get("REQUIRE_LLAMA_CPP") == "1":
        raise RuntimeError("REQUIRE_LLAMA_CPP=1 but llama-cpp-python is not installed (requirements-llama.txt)")
    pytest.skip("llama-cpp-python is not installed (pip install -r requirements-llama.txt)", allow_module_level=True)


def random_logits(rng: random.Random, torch_rng: torch.Generator) -> torch.Tensor:
    roll = rng.random()
    if roll < 0.08:
        vocab = rng.choice([1, 2])
    elif roll < 0.1:
        vocab = 152_064
    else:
        vocab = round(math.exp(rng.uniform(math.log(3), math.log(5_000))))
    shape = (vocab,) if rng.random() < 0.6 or vocab > 20_000 else (rng.randint(2, 3), vocab)
    logits = torch.randn(shape, generator=torch_rng) * math.exp(rng.uniform(math.log(0.1), math.log(12)))
    if rng.random() < 0.3:
        logits = (logits * 2).round() / 2  # many exact ties
    if rng.random() < 0.15 and vocab > 1:
        removed = torch.rand(shape, generator=torch_rng) < 0.3
        removed[..., 0] = False
        logits = logits.masked_fill(removed, -math.inf)
    return logits.to(rng.choice(DTYPES)).float()


def float32_running_sum_at(logits: torch.Tensor, rng: random.Random) -> float:
    """A top_p equal to one of the float32 running sums llama.cpp computes: an exact boundary."""
    row = logits.reshape(-1, logits.shape[-1])[0].numpy().astype(np.float32)
    probs = np.sort(np.exp((row - row.max()).astype(np.float64)).astype(np.float32))[::-1]
    probs = probs / np.cumsum(probs, dtype=np.float32)[-1]
    return float(np.cumsum(probs, dtype=np.float32)[rng.randrange(len(probs))])


def random_config(rng: random.Random, logits: torch.Tensor) -> SamplingConfig:
    on = lambda chance: rng.random() < chance  # noqa: E731
    vocab = logits.shape[-1]
    if on(0.2):
        top_p = min(max(float32_running_sum_at(logits, rng), 1e-6), 1.0)
    else:
        top_p = rng.uniform(0.05, 0.99) if on(0.5) else 1.0
    temperature = rng.choice([0.0, rng.uniform(0.1, 3.0)]) if on(0.6) else 1.0
    values = dict(
        temperature=temperature,
        top_k=rng.randint(1, vocab + 3) if on(0.5) else 0,
        top_p=top_p,
        min_p=rng.uniform(0.001, 0.6) if on(0.4) else 0.0,
        typical_p=rng.uniform(0.1, 0.99) if on(0.3) else 1.0,
        top_n_sigma=rng.uniform(0.05, 4.0) if on(0.25) else -1.0,
        xtc_probability=rng.choice([1.0, rng.uniform(0.01, 0.99)]) if on(0.25) else 0.0,
        xtc_threshold=rng.choice([0.1, rng.uniform(0.0, 0.6)]),
        dynatemp_range=rng.uniform(0.05, 1.5) if temperature > 0 and on(0.3) else 0.0,
        dynatemp_exponent=rng.uniform(0.2, 3.0),
        logit_bias={rng.randrange(vocab): rng.uniform(-100, 100) for _ in range(rng.randint(1, 4))} if on(0.2) else (),
        # llama.cpp builds DRY's sequence breakers from a GGUF vocabulary only: compared without them.
        dry_multiplier=rng.uniform(0.05, 3.0) if on(0.25) else 0.0,
        dry_base=rng.choice([1.75, rng.uniform(0.5, 4.0)]),
        dry_allowed_length=rng.randint(0, 4),
        dry_penalty_last_n=rng.choice([64, rng.randint(0, 40)]),
        dry_sequence_breakers=(),
    )
    if on(0.08):
        mirostat = {name: values[name] for name in ("temperature", "logit_bias", "dry_sequence_breakers")}
        return SamplingConfig(order=rng.choice(["llama.cpp", "custom"]), mirostat=2,
                              mirostat_tau=rng.uniform(0.05, 12.0), **mirostat)
    if on(0.4):
        samplers = list(llama_cpp.SAMPLERS)
        rng.shuffle(samplers)
        return SamplingConfig(order="custom", samplers=tuple(samplers), **values)
    return SamplingConfig(order="llama.cpp", **values)


def kept_logits(trace, row: int) -> list[float]:
    vocab = trace.logits.shape[-1]
    return sorted(trace.logits.reshape(-1, vocab)[row][trace.kept.reshape(-1, vocab)[row]].tolist())


def nan_entropy_at_typical(logits: torch.Tensor, config: SamplingConfig, context: Context, row: int) -> bool:
    """llama.cpp's typical entropy is NaN when a candidate entering it has probability 0 in float32:
    rebuild the candidates array typical receives by running the port's stages before it."""
    if config.typical_p == 1:
        return False
    values = logits.reshape(-1, logits.shape[-1])[row].numpy()
    candidates = llama_cpp.Candidates(np.arange(len(values)), values.astype(np.float32))
    settings = llama_cpp.StageSettings.of(config.stage_settings()).for_row(0, context.prompt.numpy())
    stages = chain(config)
    active = config.active()
    penalty_window = llama_cpp.window(settings.tokens, config.penalty_last_n)
    for name in stages[: stages.index("typical_p")]:
        if name in llama_cpp.PENALTIES:
            if name == next(stage for stage in stages if stage in llama_cpp.PENALTIES):
                before = llama_cpp.Candidates(candidates.ids, candidates.logits, candidates.sorted)
            candidates = llama_cpp.Candidates(before.ids, before.logits, before.sorted)
            llama_cpp._penalties(candidates, llama_cpp.Penalties.up_to(list(active.items()), name, penalty_window))
        else:
            llama_cpp.PORTED[name](candidates, active[name], settings)
    candidates.keep(np.argsort(-candidates.logits, kind="stable"), True)
    return bool((llama_cpp._softmax(candidates) == 0).any())


def test_native_and_hand_written_chains_agree_on_random_cases():
    rng = random.Random(20261126)
    torch_rng = torch.Generator().manual_seed(20261126)
    outcomes: Counter[str] = Counter()
    covered = Counter()
    for case in range(CASES):
        logits = random_logits(rng, torch_rng)
        config = random_config(rng, logits)
        # A context with many repeats of a few tokens, for DRY; tokens of a logit no other token has,
        # so that which of several tied tokens an earlier stage kept cannot decide what DRY penalises.
        unique = set(range(logits.shape[-1]))
        for row_logits in logits.reshape(-1, logits.shape[-1]):
            values, counts = row_logits.unique(return_counts=True)
            unique &= set(torch.isin(row_logits, values[counts == 1]).nonzero().flatten().tolist())
        unique = sorted(unique)
        alphabet = rng.sample(unique, min(len(unique), rng.randint(1, 4)))
        context = Context.of([rng.choice(alphabet) for _ in range(rng.randint(0, 60))] if alphabet else [])
        native = apply(logits, config, llama_cpp="native", context=context)
        ported = apply(logits, config, llama_cpp="port", context=context)
        assert "llama-cpp-python" in native.implementation and "port" in ported.implementation
        rows_native = native.kept.reshape(-1, logits.shape[-1])
        rows_ported = ported.kept.reshape(-1, logits.shape[-1])
        for row in range(rows_native.shape[0]):
            if torch.equal(rows_native[row], rows_ported[row]):
                # Equal up to float32 rounding: dynamic temperature's arithmetic may contract into
                # FMAs in the native build.
                kept = rows_native[row]
                values_native = native.final_logits.reshape(rows_native.shape)[row][kept]
                values_ported = ported.final_logits.reshape(rows_native.shape)[row][kept]
                if torch.allclose(values_native, values_ported, rtol=1e-5, atol=0):
                    outcome = "identical"
                elif nan_entropy_at_typical(logits, config, context, row):
                    outcome = "differ where llama.cpp's typical entropy is NaN"
                else:
                    outcome = "differ otherwise"
            elif kept_logits(native, row) == kept_logits(ported, row):
                outcome = "differ only among tied tokens"
            elif nan_entropy_at_typical(logits, config, context, row):
                outcome = "differ where llama.cpp's typical entropy is NaN"
            else:
                outcome = "differ otherwise"
            outcomes[outcome] += 1
            assert outcome != "differ otherwise", f"case {case} row {row}: {config}, shape {tuple(logits.shape)}"
        covered["vocab 1"] += logits.shape[-1] == 1
        covered["vocab 2"] += logits.shape[-1] == 2
        covered["vocab 152064"] += logits.shape[-1] == 152_064
        covered["batched"] += logits.dim() == 2
        covered["-inf"] += bool(torch.isinf(logits).any())
        covered["ties"] += logits.unique().numel() < logits.numel()
        covered["greedy"] += config.temperature == 0
        for name in ("top_n_sigma", "xtc_probability", "logit_bias", "mirostat", "dry_multiplier"):
            covered[name] += name in config.active()
        covered["dynamic temperature"] += config.dynatemp_range > 0
        covered["custom order"] += config.order == "custom"
    report(
        f"llama.cpp native vs hand-written, {CASES} cases ({sum(outcomes.values())} rows): "
        + ", ".join(f"{count} {outcome}" for outcome, count in outcomes.most_common())
    )
    assert all(covered[name] > 0 for name in ("vocab 1", "vocab 2", "vocab 152064", "batched", "-inf", "ties", "greedy",
                                              "top_n_sigma", "xtc_probability", "logit_bias", "mirostat", "dry_multiplier",
                                              "dynamic temperature",
                                              "custom order"))
