"""Dragging the live samplers (`app/live.py`) in headless chromium: how long from each input event
of a slider (temperature, then top_p) to the next frame, with the panel's top tokens redrawn, over
60 moves each; and what the server computes once per prompt and setting for them
(`app.live.browser_data`: the 4,096 most likely logits, log Z and the entropy at every temperature
position, llama.cpp's float32 sums).

    OMP_NUM_THREADS=1 python -m benchmarks.drag_latency                   # the bundled model
    OMP_NUM_THREADS=1 python -m benchmarks.drag_latency --model gemma3    # 262,144 tokens

Goal: each frame under 50 ms on the bundled model at top_n 20.
"""

from __future__ import annotations

import argparse
import statistics
import time

from app.live import browser_data
from benchmarks.harness import APP_READY, CHROMIUM, CHROMIUM_ARGS, SCRIPT_IDLE, streamlit_server
from sampling import load_model


def frame_latencies(model: str, moves: int, order: str) -> dict[str, list[float]]:
    from playwright.sync_api import expect, sync_playwright

    with streamlit_server({"SAMPLING_MODEL": model}, timeout=180) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1400})
        page.goto(f"{server.url}/?top_n=20&a_order={order}")
        expect(page.locator(APP_READY)).to_be_visible(timeout=120_000)
        expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=300_000)
        frame = page.frame_locator(".st-key-a_live iframe")
        expect(frame.locator("rect").first).to_be_attached(timeout=120_000)
        latencies = {}
        for name, start in (("temperature", 0.45), ("top_p", 0.995)):
            frame.locator("body").evaluate("() => { window.frameTimes = []; }")
            box = frame.locator(f"#{name}").bounding_box()
            y = box["y"] + box["height"] / 2
            page.mouse.move(box["x"] + box["width"] * start, y)
            page.mouse.down()
            for step in range(moves):  # back and forth across the slider, never released
                fraction = 0.05 + 0.9 * abs((step % 40) - 20) / 20
                page.mouse.move(box["x"] + box["width"] * fraction, y)
            page.wait_for_timeout(200)
            latencies[name] = frame.locator("body").evaluate("() => window.frameTimes")
            page.mouse.up()
            expect(page.locator(SCRIPT_IDLE)).to_be_visible(timeout=300_000)
        browser.close()
    return latencies


def server_table_seconds(model: str, llama_cpp: bool, rounds: int = 5) -> float:
    logits = load_model(model).next_token_logits("hello, this is my favorite").logits
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        browser_data(logits, for_llama_cpp=llama_cpp)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fortune-base")
    parser.add_argument("--moves", type=int, default=60)
    parser.add_argument("--order", default="transformers", choices=("transformers", "vllm", "llama.cpp"))
    args = parser.parse_args()
    for name, latencies in frame_latencies(args.model, args.moves, args.order).items():
        latencies = sorted(latencies)
        print(f"{args.model}, {args.order}, {name}: {len(latencies)} redraws while dragging; input to next frame "
              f"median {statistics.median(latencies):.1f} ms, p95 {latencies[int(0.95 * (len(latencies) - 1))]:.1f} ms, "
              f"max {latencies[-1]:.1f} ms")
    seconds = server_table_seconds(args.model, llama_cpp=args.order == "llama.cpp")
    print(f"{args.model}, {args.order}: the server's data for the browser: {seconds * 1000:.1f} ms "
          "(median of 5; once per prompt and setting)")


if __name__ == "__main__":
    main()
