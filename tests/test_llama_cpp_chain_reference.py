"""The llama.cpp order against llama.cpp's own chain, built the way ``common_sampler_init`` builds it.

The reference knows nothing of this project's windows and rules: `llama_cpp.common_chain` builds
llama.cpp's own chain as common/sampling.cpp does (every sampler of the order with the config's values,
off ones included), and the reference passes **every**
context token through ``llama_sampler_accept`` (as llama-server feeds the prompt and each generated
token), and ends with ``dist``, whose probabilities are the distribution a token is drawn from.
Contexts are shorter and longer than every window, windows are -1, 0, 1 and around the context's
length, and stages can leave candidates at ``-inf`` before XTC with threshold 0.

llama.cpp itself (``llama_cpp="native"``) must give the same distribution to float32 rounding;
the port may differ only in which of exactly tied tokens it keeps, where llama.cpp's typical
entropy is NaN (see `test_llama_cpp_native`), or where a logit passed 1e30 and llama.cpp's bucket
sort misplaced it.
"""

import ctypes
import math
import os
import random
from collections import Counter

import numpy as np
import pytest
import torch

from sampling import Context, SamplingConfig, apply
from sampling.engines import llama_cpp
from summary import report
from test_llama_cpp_native import nan_entropy_at_typical

CASES = 1500
SEED = 20261201

if llama_cpp.native_module() is None:
    if os.environ.get("REQUIRE_LLAMA_CPP") == "1":
        raise RuntimeError("REQUIRE_LLAMA_CPP=1 but llama-cpp-python is not installed (requirements-llama.txt)")
    pytest.skip("llama-cpp-python is not installed (pip install -r requirements-llama.txt)", allow_module_level=True)


def reference_probs(row: np.ndarray, config: SamplingConfig, context: list[int]) -> np.ndarray:
    """The probability of every token after llama.cpp's own chain has seen ``context``."""
    llama = llama_cpp.native_module()
    chain = llama_cpp.common_chain(llama, config, len(row), SEED)
    try:
        for token in context:
            llama.llama_sampler_accept(chain, token)
        data = np.empty(len(row), dtype=llama_cpp.TOKEN_DATA)
        data["id"], data["logit"], data["p"] = np.arange(len(row)), row, 0.0
        candidates = llama.llama_token_data_array(data=data.ctypes.data_as(llama.llama_token_data_p), size=len(row),
                                                  selected=-1, sorted=False)
        llama.llama_sampler_apply(chain, ctypes.byref(candidates))
        current = llama_cpp._current(llama, candidates)
        probs = np.zeros(len(row), dtype=np.float64)
        probs[current["id"]] = current["p"]
        return probs
    finally:
        llama.llama_sampler_free(chain)


def split_the_same_tie(native, port) -> bool:
    """Whether the first stage at which the two traces keep different tokens kept, in both, tokens
    of the same logits entering it: only the choice among exactly tied tokens differs."""
    for native_stage, port_stage in zip(native.stages, port.stages, strict=True):
        if not torch.equal(native_stage.kept, port_stage.kept):
            return (sorted(native_stage.logits_in[native_stage.kept].tolist())
                    == sorted(port_stage.logits_in[port_stage.kept].tolist()))
    return False


def random_window(rng: random.Random, length: int) -> int:
    return rng.choice([-1, 0, 1, 2, 3, max(length - 1, 1), max(length, 1), length + 1, 64, rng.randint(-5, 200)])


def random_config(rng: random.Random, vocab: int, length: int) -> SamplingConfig:
    on = lambda chance: rng.random() < chance  # noqa: E731
    temperature = rng.choice([0.0, rng.uniform(0.1, 3.0)]) if on(0.6) else 1.0
    values = dict(
        temperature=temperature,
        top_k=rng.choice([rng.randint(1, vocab + 3), -rng.randint(1, 3)]) if on(0.5) else 0,
        top_p=rng.uniform(0.05, 0.99) if on(0.5) else 1.0,
        min_p=rng.uniform(0.001, 0.6) if on(0.4) else 0.0,
        typical_p=rng.uniform(0.1, 0.99) if on(0.25) else 1.0,
        top_n_sigma=rng.uniform(0.05, 4.0) if on(0.25) else -1.0,
        xtc_probability=rng.choice([1.0, 1.5]) if on(0.3) else 0.0,
        xtc_threshold=rng.choice([0.0, 0.0, 0.1, rng.uniform(-0.2, 0.6)]),
        dynatemp_range=rng.uniform(0.05, 1.5) if temperature > 0 and on(0.2) else 0.0,
        dynatemp_exponent=rng.uniform(-1.0, 3.0),
        repetition_penalty=rng.uniform(0.3, 3.0) if on(0.5) else 1.0,
        frequency_penalty=rng.uniform(-4.0, 4.0) if on(0.4) else 0.0,
        presence_penalty=rng.uniform(-4.0, 4.0) if on(0.4) else 0.0,
        penalty_last_n=random_window(rng, length),
        logit_bias={rng.randrange(vocab): rng.uniform(-300, 300) for _ in range(rng.randint(1, 80))} if on(0.2) else (),
        dry_multiplier=rng.uniform(-2.0, 3.0) if on(0.25) else 0.0,
        dry_base=rng.choice([1.75, rng.uniform(0.5, 4.0)]),
        dry_allowed_length=rng.randint(0, 4),
        dry_penalty_last_n=random_window(rng, length),
        dry_sequence_breakers=(),
    )
    if on(0.06):
        return SamplingConfig(order=rng.choice(["llama.cpp", "custom"]), mirostat=2,
                              mirostat_tau=rng.uniform(0.05, 12.0), **values)
    if on(0.4):
        samplers = list(llama_cpp.SAMPLERS)
        rng.shuffle(samplers)
        return SamplingConfig(order="custom", samplers=tuple(samplers[: rng.randint(1, len(samplers))]), **values)
    return SamplingConfig(order="llama.cpp", **values)


def test_the_llama_cpp_order_equals_llama_cpps_own_chain_on_random_cases():
    rng = random.Random(SEED)
    torch_rng = torch.Generator().manual_seed(SEED)
    outcomes: Counter[tuple[str, str]] = Counter()
    covered: Counter[str] = Counter()
    for case in range(CASES):
        vocab = rng.choice([1, 2, 3]) if rng.random() < 0.06 else round(math.exp(rng.uniform(math.log(4), math.log(3000))))
        logits = torch.randn(vocab, generator=torch_rng) * math.exp(rng.uniform(math.log(0.1), math.log(12)))
        if rng.random() < 0.3:
            logits = (logits * 2).round() / 2  # exact ties
        # Few distinct tokens, so that the penalties and DRY find repeats; unique logits among
        # them, so that which of several tied tokens a stage kept cannot decide what they penalise.
        values, counts = logits.unique(return_counts=True)
        unique = torch.isin(logits, values[counts == 1]).nonzero().flatten().tolist()
        alphabet = rng.sample(unique, min(len(unique), rng.randint(1, 5))) if unique else [0]
        context = [rng.choice(alphabet) for _ in range(rng.choice([0, 1, 2, rng.randint(0, 150)]))]
        config = random_config(rng, vocab, len(context))
        expected = reference_probs(logits.numpy().astype(np.float32), config, context)
        traces = {choice: apply(logits, config, context=Context.of(context), llama_cpp=choice)
                  for choice in ("native", "port")}
        for choice, trace in traces.items():
            got = trace.probs.double().numpy()
            if np.allclose(got, expected, rtol=1e-6, atol=1e-12, equal_nan=True):
                outcome = "identical"
            elif (choice == "port" and np.allclose(np.sort(got), np.sort(expected), rtol=1e-6, atol=1e-12)
                  and split_the_same_tie(traces["native"], trace)):
                outcome = "differ only among tied tokens"
            elif choice == "port" and any(stage.logits.abs().nan_to_num(posinf=0).max() > 1e30 for stage in trace.stages):
                # A negative DRY multiplier can push a logit past 1e30: llama.cpp's bucket sort
                # (top_p on an unsorted array) then misplaces it, and its dist gives NaN.
                outcome = "differ where a logit passed 1e30 (llama.cpp's bucket sort)"
            elif nan_entropy_at_typical(logits, config, Context.of(context), 0):
                outcome = "differ where llama.cpp's typical entropy is NaN"
            else:
                outcome = "differ otherwise"
            outcomes[choice, outcome] += 1
            assert outcome != "differ otherwise", (
                f"case {case} ({choice}): {config}, context {context}, max |Δp| {np.abs(got - expected).max():.3g}")
        covered["context shorter than the window"] += 0 < len(context) < config.penalty_last_n
        covered["context longer than the window"] += len(context) > config.penalty_last_n > 0
        covered["window -1"] += config.penalty_last_n == -1
        covered["window 1"] += config.penalty_last_n == 1
        covered["penalties beyond ±2"] += abs(config.frequency_penalty) > 2 or abs(config.presence_penalty) > 2
        covered["bias beyond ±100"] += any(abs(bias) > 100 for _, bias in config.logit_bias)
        covered["more than 64 biases"] += len(config.logit_bias) > 64
        covered["xtc threshold 0 after -inf"] += (config.xtc_probability > 0 and config.xtc_threshold <= 0
                                                 and (config.top_n_sigma > 0 or config.temperature == 0))
        covered["negative DRY multiplier"] += config.dry_multiplier < 0
        covered["mirostat with other samplers set"] += bool(config.mirostat and config.ignored())
        covered["custom order leaving a set stage out"] += bool(config.order == "custom" and config.ignored())
    report(f"llama.cpp order vs llama.cpp's own chain (common_sampler_init, every context token accepted), "
           f"{CASES} cases: " + ", ".join(f"{choice} {outcome} {count}" for (choice, outcome), count in
                                          sorted(outcomes.items())))
    missing = [name for name in ("context shorter than the window", "context longer than the window", "window -1",
                                 "window 1", "penalties beyond ±2", "bias beyond ±100", "more than 64 biases",
                                 "xtc threshold 0 after -inf", "negative DRY multiplier",
                                 "mirostat with other samplers set", "custom order leaving a set stage out")
               if not covered[name]]
    assert not missing, f"the random cases never covered: {missing}"
    assert outcomes["native", "differ where llama.cpp's typical entropy is NaN"] == 0
