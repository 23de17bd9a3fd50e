"""Scale benchmark: the page and the library on models of real shapes, built locally (no download).

    python -m benchmarks.scale                      # both models, every figure (about 8 minutes here)
    python -m benchmarks.scale --models qwen-shaped --skip browser

For each model (see `benchmarks.real_shapes`): load time, the next-token forward pass, `apply`,
`generate` against transformers' `generate` (same settings and seeds, interleaved rounds, medians),
a server-side slider rerun, the first chart in headless chromium, and the memory of a long-prompt
request (4,000 characters, n = 4, 5 new tokens; and n = 16 at the page's own limits), each request
measured in a fresh process. Timings use one torch thread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks.harness import ROOT
from benchmarks.real_shapes import build_gpt2_shaped, build_qwen_shaped

CACHE = Path.home() / ".cache" / "sampling-explained" / "real-shapes"
PROMPT = "hello, this is my favorite"
LONG_PROMPT_CHARS = 4_000
ROUNDS = 5


def long_prompt() -> str:
    """4,000 characters of English: the study's prompts, one after the other."""
    from sampling.study import read_prompts

    text = " ".join(prompt.text for prompt in read_prompts())
    return (text * (LONG_PROMPT_CHARS // len(text) + 1))[:LONG_PROMPT_CHARS]


def build(name: str, cache: Path) -> Path:
    if name == "gpt2-shaped":
        return build_gpt2_shaped(cache / name, cache)
    return build_qwen_shaped(cache / name)


def median_seconds(function, rounds: int = ROUNDS) -> float:
    function()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def library_figures(path: Path) -> dict:
    """Load, next token, apply, and generate against transformers' generate, interleaved."""
    from sampling import SamplingConfig, apply, load_model

    started = time.perf_counter()
    handle = load_model(str(path))
    figures = {"load_s": time.perf_counter() - started, "vocab": handle.vocab_size}
    figures["next_token_ms"] = 1000 * median_seconds(lambda: handle.next_token_logits(PROMPT))
    logits = handle.next_token_logits(PROMPT).logits
    config = SamplingConfig(temperature=0.8, top_p=0.95)
    figures["apply_ms"] = 1000 * median_seconds(lambda: apply(logits, config).probs, rounds=20)
    ids = torch.tensor([handle.encode(PROMPT).ids])
    for label, config in (("T 0.9", SamplingConfig(temperature=0.9)),
                          ("T 0.9, top_p 0.95", SamplingConfig(temperature=0.9, top_p=0.95))):
        def ours(config=config):
            handle.generate(PROMPT, config, n=8, max_new_tokens=32, seed=0)

        def theirs(config=config):
            torch.manual_seed(0)
            with torch.inference_mode():
                handle.model.generate(ids, **config.to_generate_kwargs(), num_return_sequences=8, max_new_tokens=32,
                                      min_new_tokens=32, pad_token_id=handle.eos_token_id)

        ours(), theirs()
        ours_times, theirs_times = [], []
        for _ in range(ROUNDS):
            for function, times in ((ours, ours_times), (theirs, theirs_times)):
                started = time.perf_counter()
                function()
                times.append(time.perf_counter() - started)
        figures[f"generate {label}"] = {"ours_s": statistics.median(ours_times),
                                        "transformers_s": statistics.median(theirs_times)}
    return figures


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def request_in_this_process(path: str, who: str, samples: int, new_tokens: int) -> dict:
    """One long-prompt request after loading the model; the peak of resident memory above what
    the loaded model used (Linux: VmHWM reset through /proc/self/clear_refs)."""
    from sampling import Limits, SamplingConfig, load_model
    from sampling.memory import return_large_blocks_to_the_system

    return_large_blocks_to_the_system()  # as the server does (app/resources.py)
    handle = load_model(path, limits=Limits(max_samples=samples, max_new_tokens=new_tokens))
    config = SamplingConfig(temperature=0.9, top_p=0.95)
    prompt = long_prompt()
    handle.generate(PROMPT, config, n=1, max_new_tokens=1)  # the first call's one-off allocations
    before = resident_mb()
    Path("/proc/self/clear_refs").write_text("5")
    started = time.perf_counter()
    if who == "ours":
        handle.generate(prompt, config, n=samples, max_new_tokens=new_tokens, seed=0)
    else:
        ids = torch.tensor([handle.encode(prompt, room=new_tokens).ids])
        torch.manual_seed(0)
        with torch.inference_mode():
            handle.model.generate(ids, **config.to_generate_kwargs(), num_return_sequences=samples,
                                  max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                  pad_token_id=handle.eos_token_id)
    return {"seconds": time.perf_counter() - started, "growth_mb": peak_mb() - before,
            "prompt_tokens": len(handle.encode(prompt, room=new_tokens).ids)}


def request_in_fresh_process(path: Path, who: str, samples: int, new_tokens: int) -> dict:
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", "--request", str(path), who, str(samples), str(new_tokens)],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def rerun_ms(path: Path) -> float:
    """Median server-side rerun after a slider move (AppTest), with this model as the default."""
    from streamlit.testing.v1 import AppTest

    os.environ["SAMPLING_MODEL"] = str(path)
    try:
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
        at.run()
        times = []
        for index in range(12):
            slider = at.slider(key="a_temperature").set_value(round(0.05 * (index + 2), 2))
            started = time.perf_counter()
            slider.run()
            times.append(time.perf_counter() - started)
        return 1000 * statistics.median(times)
    finally:
        del os.environ["SAMPLING_MODEL"]


def first_chart_s(path: Path) -> float:
    """From `streamlit run` to the first chart drawn in headless chromium."""
    from playwright.sync_api import sync_playwright

    from benchmarks.harness import CHROMIUM, CHROMIUM_ARGS, streamlit_server

    with streamlit_server(extra_env={"SAMPLING_MODEL": str(path)}, timeout=300) as server:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(server.url, timeout=300_000)
            page.locator("[data-testid='stVegaLiteChart'] svg").first.wait_for(timeout=300_000)
            seconds = time.perf_counter() - server.started_at
            browser.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["gpt2-shaped", "qwen-shaped"],
                        choices=["gpt2-shaped", "qwen-shaped"])
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the built models are kept")
    parser.add_argument("--skip", nargs="*", default=[], choices=["library", "memory", "page", "browser"])
    parser.add_argument("--request", nargs=4, metavar=("PATH", "WHO", "SAMPLES", "NEW_TOKENS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.request:
        path, who, samples, new_tokens = args.request
        print(json.dumps(request_in_this_process(path, who, int(samples), int(new_tokens))))
        return
    started = time.perf_counter()
    for name in args.models:
        path = build(name, args.cache)
        print(f"\n## {name} ({path})", flush=True)
        if "library" not in args.skip:
            figures = library_figures(path)
            print(f"load {figures['load_s']:.2f} s, vocabulary {figures['vocab']:,}, next token "
                  f"{figures['next_token_ms']:.0f} ms, apply (T 0.8, top_p 0.95) {figures['apply_ms']:.1f} ms")
            for label in ("T 0.9", "T 0.9, top_p 0.95"):
                pair = figures[f"generate {label}"]
                print(f"generate n=8 x 32, {label}: {pair['ours_s']:.2f} s vs transformers {pair['transformers_s']:.2f} s"
                      f" = {pair['ours_s'] / pair['transformers_s']:.2f}x (target <= 1.1x)", flush=True)
        if "memory" not in args.skip:
            ours = request_in_fresh_process(path, "ours", 4, 5)
            theirs = request_in_fresh_process(path, "transformers", 4, 5)
            print(f"long prompt ({ours['prompt_tokens']} tokens), n=4, 5 new tokens: {ours['seconds']:.2f} s, "
                  f"+{ours['growth_mb']:.0f} MB vs transformers {theirs['seconds']:.2f} s, +{theirs['growth_mb']:.0f} MB"
                  f" = {ours['seconds'] / theirs['seconds']:.2f}x time (target <= 1.3x), "
                  f"{ours['growth_mb'] / max(theirs['growth_mb'], 1):.2f}x memory (target <= 1.5x)", flush=True)
            limits = request_in_fresh_process(path, "ours", 16, 200)
            print(f"page limits (n=16, 200 new tokens, 4,000 characters): {limits['seconds']:.1f} s, peak "
                  f"+{limits['growth_mb']:.0f} MB (target <= 1,024 MB)", flush=True)
        if "page" not in args.skip:
            print(f"slider rerun, server side (AppTest, median of 12): {rerun_ms(path):.0f} ms", flush=True)
        if "browser" not in args.skip:
            print(f"first chart in chromium after `streamlit run`: {first_chart_s(path):.1f} s", flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
