"""Every speed figure of the project, measured side by side in one run; prints a table with targets.

    python -m benchmarks.run                 # all figures (about 3 minutes on 2 cores)
    python -m benchmarks.run --only pipeline sweep
    python -m benchmarks.run --device cuda --dtype float16 --only pipeline generation

Ratios compare two things timed in the same run, because shared machines drift. Timings never
appear in the test suite's assertions; this is where they live.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers.generation.logits_process import (
    EpsilonLogitsWarper,
    EtaLogitsWarper,
    LogitsProcessorList,
    MinPLogitsWarper,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

from sampling import Context, SamplingConfig, apply, load_model
from sampling.metrics import entropy

MODEL = "fortune-base"
PROMPT = "hello, this is my favorite"


@dataclass(frozen=True)
class Figure:
    name: str
    measured: str
    target: str
    met: bool
    detail: str = ""


def best_of(function: Callable[[], object], repeats: int = 5, synchronize: bool = False) -> float:
    """Fastest of ``repeats`` timed calls, after one warm-up call (seconds)."""
    function()
    times = []
    for _ in range(repeats):
        if synchronize:
            torch.cuda.synchronize()
        started = time.perf_counter()
        function()
        if synchronize:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return min(times)


def slider_response(reruns: int = 30) -> Figure:
    """Median AppTest rerun after a slider move, with cached logits and with the forward pass forced."""
    from streamlit.testing.v1 import AppTest

    from app import resources
    from benchmarks.harness import ROOT

    def clear_logits_cache() -> None:
        # Empties the next-token logits only, so that the rerun must run the model's forward pass.
        resources._next_tokens().clear()

    def median_rerun(force_forward: bool) -> float:
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
        at.run()
        times = []
        for index in range(reruns):
            # A new value every time (and other values in each run): a value seen before would find
            # its charts cached.
            value = 0.05 * (index % 38 + 1) + (0.025 if force_forward else 0.0)
            slider = at.slider(key="a_temperature").set_value(round(value, 3))
            if force_forward:
                clear_logits_cache()
            started = time.perf_counter()
            slider.run()
            times.append(time.perf_counter() - started)
            assert not at.exception, at.exception
        return statistics.median(times)

    cached = median_rerun(force_forward=False)
    forced = median_rerun(force_forward=True)
    return Figure(
        "1. slider response (server-side rerun, median)",
        f"{1000 * cached:.0f} ms",
        "<= 150 ms",
        cached <= 0.150,
        f"{reruns} reruns, every chart on the page; with the forward pass forced {1000 * forced:.0f} ms "
        f"({forced / cached:.2f}x)",
    )


# Installed before each key press: the time of the key press, and a promise of the time when panel
# A's first chart has changed on screen.
_WATCH_FIRST_CHART = """
() => {
  const chart = () => document.querySelectorAll("[data-testid='stVegaLiteChart']")[0].innerHTML;
  window.__pressed = null;
  document.addEventListener("keydown", () => { window.__pressed ??= performance.now(); }, {capture: true, once: true});
  const before = chart();
  window.__redrawn = new Promise(resolve => {
    const poll = () => window.__pressed !== null && chart() !== before
      ? resolve(performance.now() - window.__pressed) : requestAnimationFrame(poll);
    requestAnimationFrame(poll);
  });
}
"""


def slider_to_chart(presses: int = 24) -> Figure:
    """Key press on panel A's temperature slider to its top-tokens chart redrawn, in chromium."""
    from playwright.sync_api import expect, sync_playwright

    from benchmarks.harness import CHROMIUM, CHROMIUM_ARGS, SCRIPT_IDLE, streamlit_server

    with streamlit_server() as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(server.url)
        expect(page.locator("[data-testid='stVegaLiteChart'] svg")).to_have_count(6, timeout=120_000)
        expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=120_000)
        page.locator(".st-key-a_temperature").get_by_role("slider").focus()
        times = []
        for index in range(presses):
            page.evaluate(_WATCH_FIRST_CHART)
            page.keyboard.press("ArrowLeft" if (index // 8) % 2 == 0 else "ArrowRight")
            times.append(page.evaluate("window.__redrawn"))
            time.sleep(1.0)
            expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=60_000)
        browser.close()
    median = statistics.median(times)
    return Figure("1b. slider key press to redrawn chart (chromium)", f"{median:.0f} ms", "<= 300 ms", median <= 300,
                  f"median of {presses} presses, one session, 1500x1100; quartiles "
                  f"{statistics.quantiles(times, n=4)[0]:.0f}-{statistics.quantiles(times, n=4)[2]:.0f} ms")


def cold_start() -> list[Figure]:
    """A fresh server: from its health check answering to the page's first paint (its title), and
    from `streamlit run` to the first chart, in headless chromium, offline."""
    from playwright.sync_api import sync_playwright

    from benchmarks.harness import CHROMIUM, CHROMIUM_ARGS, streamlit_server

    with streamlit_server() as server, sync_playwright() as playwright:
        up = time.perf_counter()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(server.url, timeout=120_000)
        page.locator("h1").first.wait_for(timeout=120_000)
        painted = time.perf_counter() - up
        page.locator("[data-testid='stVegaLiteChart'] svg").first.wait_for(timeout=120_000)
        charted = time.perf_counter() - server.started_at
        browser.close()
    return [
        Figure("2. cold start to first chart", f"{charted:.1f} s", "<= 15 s", charted <= 15,
               "server start, imports, model load, first page in headless chromium"),
        Figure("2b. first paint after the server is up", f"{painted:.1f} s", "<= 3 s", painted <= 3,
               "health check ok to the page's title on screen (browser launch included)"),
    ]


def pipeline(device: str) -> Figure:
    """`apply` against transformers' own LogitsProcessorList on [64, 152064], every filter on."""
    generator = torch.Generator(device=device).manual_seed(0)
    logits = torch.randn(64, 152_064, generator=generator, device=device) * 3
    config = SamplingConfig(temperature=0.8, top_k=500, top_p=0.95, min_p=0.01, typical_p=0.95,
                            epsilon_cutoff=1e-5, eta_cutoff=1e-5)
    reference = LogitsProcessorList([
        TemperatureLogitsWarper(0.8), TopKLogitsWarper(500), TopPLogitsWarper(0.95), MinPLogitsWarper(0.01),
        TypicalLogitsWarper(0.95), EpsilonLogitsWarper(1e-5), EtaLogitsWarper(1e-5, device=device),
    ])
    synchronize = device == "cuda"
    ours = best_of(lambda: apply(logits, config).probs, synchronize=synchronize)
    theirs = best_of(lambda: torch.softmax(reference(None, logits), dim=-1), synchronize=synchronize)
    assert torch.equal(apply(logits, config).kept, torch.isfinite(reference(None, logits)))
    ratio = ours / theirs
    return Figure("3. pipeline vs LogitsProcessorList", f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5,
                  f"apply {1000 * ours:.0f} ms, transformers {1000 * theirs:.0f} ms ({device}), same kept sets")


def llama_cpp_pipeline() -> list[Figure]:
    """The llama.cpp order on one Qwen-sized row: llama.cpp's own samplers against the NumPy port."""
    from sampling.engines.llama_cpp import native_module

    if native_module() is None:
        return [Figure("3b. llama.cpp order, native vs port", "n/a", "<= 2x", False,
                       "llama-cpp-python is not installed (pip install -r requirements-llama.txt)")]
    generator = torch.Generator().manual_seed(0)
    row = torch.randn(152_064, generator=generator) * 3
    # 256 tokens of context drawn from 40 ids, so that DRY finds repeats.
    context = Context.of(torch.randint(0, 40, (256,), generator=generator))
    defaults = SamplingConfig(order="llama.cpp", temperature=0.8, top_k=40, top_p=0.95, min_p=0.05)
    figures = []
    for label, config in (
        ("llama.cpp defaults", defaults),
        ("top_p 0.9, T 0.7", SamplingConfig(order="llama.cpp", top_p=0.9, temperature=0.7)),
        ("typical 0.9", SamplingConfig(order="llama.cpp", typical_p=0.9)),
        ("DRY 0.8 over 256 tokens", defaults.with_values(dry_multiplier=0.8, dry_penalty_last_n=256,
                                                         dry_sequence_breakers=())),
        ("top-n-sigma 1.5", SamplingConfig(order="llama.cpp", top_n_sigma=1.5)),
        ("XTC 1 / 0.01", SamplingConfig(order="llama.cpp", xtc_probability=1.0, xtc_threshold=0.01)),
        ("mirostat v2, T 0.8", SamplingConfig(order="llama.cpp", temperature=0.8, mirostat=2)),
    ):
        native = best_of(lambda config=config: apply(row, config, context=context, llama_cpp="native").probs,
                         repeats=15)
        port = best_of(lambda config=config: apply(row, config, context=context, llama_cpp="port").probs, repeats=15)
        figures.append(Figure(f"3b. llama.cpp order, native vs port, {label}", f"{native / port:.2f}x", "<= 2x",
                              native <= 2 * port,
                              f"one row of 152,064: native {1000 * native:.1f} ms, port {1000 * port:.1f} ms"))
    return figures


def sweep() -> Figure:
    """The vectorised sweep against looping `apply` over a 20 × 20 temperature × top_p grid (CPU)."""
    from sampling.sweep import Grids, sweep_logits

    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(16, 50_257, generator=generator) * 3
    temperatures = [round(0.1 * i, 2) for i in range(1, 21)]
    top_ps = [round(0.05 * i, 2) for i in range(1, 21)]
    grids = Grids(temperatures=temperatures, top_ps=top_ps, top_ks=(1,), min_ps=(0.0,))

    def vectorised():
        return [frame for frame in sweep_logits(logits, grids) if frame["sweep"].iloc[0] == "joint"]

    def looped():
        cells = []
        for temperature in temperatures:
            for top_p in top_ps:
                trace = apply(logits, SamplingConfig(temperature=temperature, top_p=top_p))
                cells.append((entropy(trace.probs, bits=True), trace.kept.sum(dim=-1)))
        return cells

    fast = best_of(vectorised, repeats=3)
    slow = best_of(looped, repeats=1)
    joint = vectorised()[0].sort_values(["temperature", "top_p", "prompt_index"])
    cells = looped()
    entropies = torch.stack([e for e, _ in cells]).flatten().double()
    kept = torch.stack([k for _, k in cells]).flatten()
    difference = (torch.tensor(joint["entropy_bits"].to_numpy()) - entropies).abs().max().item()
    same_kept = bool((torch.tensor(joint["tokens_kept"].to_numpy()) == kept).all())
    speedup = slow / fast
    return Figure("4. sweep vs looping apply", f"{speedup:.0f}x faster", ">= 20x", speedup >= 20 and same_kept,
                  f"16 prompts x 400 cells, vocab 50,257: {1000 * fast:.0f} ms vs {1000 * slow:.0f} ms; "
                  f"kept sets identical: {same_kept}; max entropy difference {difference:.1e} bits")


def generation(device: str, dtype: str) -> list[Figure]:
    """`generate` n=8 × 64 tokens against transformers' generate and against the bare forward passes,
    with temperature alone and with temperature and top_p (whose sort is the costliest sampling step)."""
    handle = load_model(MODEL, device=device, dtype=dtype)
    model, tokenizer = handle.model, handle.tokenizer
    n, steps = 8, 64
    prompt_ids = torch.tensor([handle.encode(PROMPT).ids], device=handle.device)
    synchronize = handle.device.type == "cuda"

    @torch.inference_mode()
    def bare_forward():
        output = model(input_ids=prompt_ids.expand(n, -1), use_cache=True)
        for _ in range(steps - 1):
            next_ids = output.logits[:, -1].argmax(dim=-1, keepdim=True)
            output = model(input_ids=next_ids, cache=output.cache, use_cache=True)
        return steps

    def per_step(function: Callable[[], int]) -> float:
        """Seconds per generation step: sequences may stop at EOS after different numbers of steps."""
        step_counts = []
        seconds = best_of(lambda: step_counts.append(function()), synchronize=synchronize)
        return seconds / min(step_counts)

    forward = per_step(bare_forward)
    where = f"{MODEL}, {handle.device.type}, {str(handle.dtype).removeprefix('torch.')}"
    figures = []
    for label, config in (("T 0.9", SamplingConfig(temperature=0.9)),
                          ("T 0.9, top_p 0.95", SamplingConfig(temperature=0.9, top_p=0.95))):
        def ours(config=config):
            result = handle.generate(PROMPT, config, n=n, max_new_tokens=steps, seed=0)
            return max(len(c.tokens) for c in result.continuations)

        def theirs(config=config):
            torch.manual_seed(0)
            output = model.generate(prompt_ids, **config.to_generate_kwargs(), num_return_sequences=n,
                                    max_new_tokens=steps, pad_token_id=tokenizer.eos_token_id)
            return output.shape[1] - prompt_ids.shape[1]

        ours_step, theirs_step = per_step(ours), per_step(theirs)
        figures += [
            Figure(f"5a. generate vs transformers generate, {label}", f"{theirs_step / ours_step:.2f}", ">= 0.9",
                   theirs_step / ours_step >= 0.9,
                   f"{where}: {1000 * ours_step:.2f} vs {1000 * theirs_step:.2f} ms per step"),
            Figure(f"5b. generate vs bare forward passes, {label}", f"{ours_step / forward:.2f}x", "<= 1.5x",
                   ours_step / forward <= 1.5,
                   f"{where}: forward alone {1000 * forward:.2f} ms per step; transformers' generate "
                   f"{theirs_step / forward:.2f}x"),
        ]
    return figures


def memory(sessions: int = 8) -> Figure:
    """Resident memory of a real server as browser sessions render the page, one after another."""
    from playwright.async_api import async_playwright

    from benchmarks.harness import CHROMIUM, CHROMIUM_ARGS, SCRIPT_IDLE, streamlit_server

    async def open_sessions(server) -> list[float]:
        readings = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = []
            for _ in range(sessions):
                page = await (await browser.new_context()).new_page()
                await page.goto(server.url, timeout=120_000)
                await page.locator("[data-testid='stVegaLiteChart']").nth(5).wait_for(timeout=120_000)
                await page.locator(SCRIPT_IDLE).wait_for(timeout=120_000)
                pages.append(page)
                await asyncio.sleep(1)
                readings.append(server.resident_mb)
            await browser.close()
        return readings

    with streamlit_server() as server:
        readings = asyncio.run(open_sessions(server))
    growth = (readings[-1] - readings[0]) / (sessions - 1)
    return Figure("6. memory per extra session", f"{growth:.1f} MB", "<= 50 MB", growth <= 50,
                  f"server RSS with 1 session {readings[0]:.0f} MB, with {sessions} {readings[-1]:.0f} MB; "
                  "one model copy (tests/test_concurrency.py)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    choices = ["slider", "chart", "cold", "pipeline", "llama", "sweep", "generation", "memory"]
    parser.add_argument("--only", nargs="+", choices=choices, default=choices)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    args = parser.parse_args()
    runners = {
        "slider": lambda: [slider_response()],
        "chart": lambda: [slider_to_chart()],
        "cold": cold_start,
        "pipeline": lambda: [pipeline(args.device)],
        "llama": llama_cpp_pipeline,
        "sweep": lambda: [sweep()],
        "generation": lambda: generation(args.device, args.dtype),
        "memory": lambda: [memory()],
    }
    machine = f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    if args.device == "cuda":
        machine += f", {torch.cuda.get_device_name()}"
    print(f"Benchmarks on {machine}\n")
    figures = []
    for name in args.only:
        for figure in runners[name]():
            figures.append(figure)
            print(f"{figure.name:55s} {figure.measured:>14s}  target {figure.target:9s} "
                  f"{'met' if figure.met else 'MISSED'}\n    {figure.detail}", flush=True)
    missed = [figure.name for figure in figures if not figure.met]
    print(f"\n{len(figures) - len(missed)} of {len(figures)} figures at target" + (f"; missed: {missed}" if missed else ""))


if __name__ == "__main__":
    main()
