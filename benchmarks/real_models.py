"""The real models (`sampling.fetch`): reload time, the first call after a load, and `generate`
against transformers' `generate` and against llama-cpp-python's own generation, interleaved.

    OMP_NUM_THREADS=1 python -m benchmarks.real_models              # SmolLM2 and Gemma 3 (about 15 min)
    OMP_NUM_THREADS=1 python -m benchmarks.real_models --models smollm2 --rounds 5

Each round times every method once, in turn, so that a slow spell of the shared machine falls on
all of them; the table gives medians over rounds and ratios of medians. n = 4 continuations of
64 tokens at T 0.8, top_p 0.95 (llama.cpp's chain adds its top_k 40 and min_p 0.05 defaults, off here).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from transformers import GenerationConfig

from sampling import SamplingConfig, load_model
from sampling.fetch import fetch

PROMPT = "hello, this is my favorite"
N, TOKENS = 4, 64


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def methods(handle) -> dict:
    ids = list(handle.encode(PROMPT).ids)
    ours = SamplingConfig(temperature=0.8, top_p=0.95)
    llama_config = SamplingConfig(order="llama.cpp", temperature=0.8, top_p=0.95, top_k=0, min_p=0.0)
    inputs = torch.tensor([ids])
    runtime = handle.llama_runtime

    def transformers_generate():
        handle.model.generate(inputs, attention_mask=torch.ones_like(inputs), do_sample=True, temperature=0.8,
                              top_p=0.95, top_k=0, max_new_tokens=TOKENS, min_new_tokens=TOKENS,
                              num_return_sequences=N, generation_config=GenerationConfig(),
                              pad_token_id=handle.eos_token_id)

    def llama_cpp_python():
        for row in range(N):
            runtime.llama.reset()
            runtime.llama.set_seed(row)
            for count, _ in enumerate(runtime.llama.generate(list(ids), top_k=0, top_p=0.95, min_p=0.0, temp=0.8),
                                      start=1):
                if count == TOKENS:
                    break

    return {
        "this project (transformers runtime)": lambda: handle.generate(PROMPT, ours, n=N, max_new_tokens=TOKENS),
        "transformers generate": transformers_generate,
        "this project (llama.cpp runtime)": lambda: handle.generate(PROMPT, llama_config, n=N, max_new_tokens=TOKENS,
                                                                    runtime="llama.cpp"),
        "llama-cpp-python Llama.generate": llama_cpp_python,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["smollm2", "gemma3"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}, n = {N} x {TOKENS} tokens, {args.rounds} interleaved rounds")
    for name in args.models:
        fetch(name, progress=lambda line: None)
        load_model(name)  # converted once, outside the timing
        reloads = [timed(lambda: load_model(name)) for _ in range(3)]
        handle = load_model(name)
        first_call = timed(lambda: handle.next_token_logits(PROMPT))
        second_call = timed(lambda: handle.next_token_logits(PROMPT + " one"))
        handle.llama_runtime  # opened outside the timing
        timings: dict[str, list[float]] = {}
        runs = methods(handle)
        for function in runs.values():
            function()  # warm-up
        for _ in range(args.rounds):
            for label, function in runs.items():
                timings.setdefault(label, []).append(timed(function))
        medians = {label: statistics.median(values) for label, values in timings.items()}
        print(f"\n{name}: reload {statistics.median(reloads):.2f} s (median of 3); first next-token call after a "
              f"load {first_call * 1000:.0f} ms, the next {second_call * 1000:.0f} ms")
        for label, value in medians.items():
            print(f"  {label:40s} {value:6.2f} s   ({', '.join(f'{v:.2f}' for v in timings[label])})")
        print(f"  ratio, this project / transformers generate: "
              f"{medians['this project (transformers runtime)'] / medians['transformers generate']:.2f}")
        print(f"  ratio, llama.cpp runtime / llama-cpp-python: "
              f"{medians['this project (llama.cpp runtime)'] / medians['llama-cpp-python Llama.generate']:.2f}")


if __name__ == "__main__":
    main()
