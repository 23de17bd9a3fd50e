"""Load test: concurrent headless-browser sessions against one real `streamlit run` server.

Each session opens the page, then keeps moving panel A's temperature slider and waits until the
page has rerun and the entropy metric shows the new value. Traffic stays on loopback and the run
is bounded in time. Reports sessions, reruns, errors, p50/p95 rerun latency (seen from the browser:
key press to updated metric) and the server's resident memory before, during and after.

    python -m benchmarks.load_test --sessions 8 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass, field

from playwright.async_api import async_playwright, expect

from benchmarks.harness import APP_READY, CHROMIUM, CHROMIUM_ARGS, SCRIPT_IDLE, Server, streamlit_server

ENTROPY_A = "[data-testid='stMetric']:has-text('Entropy (bits)') [data-testid='stMetricValue']"
SETTLE_SECONDS = 15


@dataclass
class LoadReport:
    sessions: int
    seconds: float
    reruns: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    memory_before_mb: float = 0.0
    memory_peak_mb: float = 0.0
    memory_after_mb: float = 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")

    def lines(self) -> list[str]:
        return [
            f"sessions                {self.sessions}",
            f"duration                {self.seconds:.0f} s",
            f"reruns                  {self.reruns}",
            f"errors                  {len(self.errors)}",
            f"rerun latency p50       {1000 * statistics.median(self.latencies) if self.latencies else float('nan'):.0f} ms",
            f"rerun latency p95       {1000 * self.percentile(0.95):.0f} ms",
            f"server RSS before       {self.memory_before_mb:.0f} MB",
            f"server RSS peak during  {self.memory_peak_mb:.0f} MB",
            f"server RSS after        {self.memory_after_mb:.0f} MB ({SETTLE_SECONDS} s after the sessions closed)",
        ]


async def _settled(page) -> None:
    await page.locator(APP_READY).wait_for(timeout=120_000)
    await page.locator(SCRIPT_IDLE).wait_for(timeout=120_000)


async def _session(browser, url: str, deadline: float, report: LoadReport) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1600})
    page = await context.new_page()
    try:
        await page.goto(url, timeout=120_000)
        await _settled(page)
        metric = page.locator(ENTROPY_A).first
        await metric.wait_for(timeout=120_000)
        slider = page.locator(".st-key-a_temperature").get_by_role("slider")
        step = 0
        while time.monotonic() < deadline:
            before = await metric.inner_text()
            started = time.perf_counter()
            await slider.focus()
            await slider.press("ArrowLeft" if step % 2 == 0 else "ArrowRight")
            step += 1
            try:
                await expect(metric).not_to_have_text(before, timeout=30_000)
                await _settled(page)
            except Exception as error:  # noqa: BLE001 - every failure is counted, none stops the test
                report.errors.append(f"no rerun after a slider move: {type(error).__name__}")
                continue
            report.latencies.append(time.perf_counter() - started)
            report.reruns += 1
            exceptions = await page.locator("[data-testid='stException']").count()
            if exceptions:
                report.errors.append(f"{exceptions} exception(s) shown on the page")
    except Exception as error:  # noqa: BLE001
        report.errors.append(f"session failed: {type(error).__name__}: {error}")
    finally:
        await context.close()


async def _watch_memory(server: Server, report: LoadReport, stop: asyncio.Event) -> None:
    while not stop.is_set():
        report.memory_peak_mb = max(report.memory_peak_mb, server.resident_mb)
        await asyncio.sleep(0.5)


async def _load(server: Server, sessions: int, seconds: float) -> LoadReport:
    report = LoadReport(sessions=sessions, seconds=seconds)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        warm_up = await browser.new_page()
        await warm_up.goto(server.url, timeout=120_000)
        await _settled(warm_up)
        await warm_up.locator(ENTROPY_A).first.wait_for(timeout=120_000)
        await warm_up.close()
        await asyncio.sleep(2)
        report.memory_before_mb = report.memory_peak_mb = server.resident_mb

        stop = asyncio.Event()
        watcher = asyncio.create_task(_watch_memory(server, report, stop))
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_session(browser, server.url, deadline, report) for _ in range(sessions)))
        stop.set()
        await watcher
        await browser.close()
    await asyncio.sleep(SETTLE_SECONDS)
    report.memory_after_mb = server.resident_mb
    return report


def run_load_test(sessions: int = 8, seconds: float = 60) -> LoadReport:
    with streamlit_server() as server:
        return asyncio.run(_load(server, sessions, seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    report = run_load_test(args.sessions, args.seconds)
    print("\n".join(report.lines()))
    for error in sorted(set(report.errors)):
        print(f"  error: {error}")
    memory_ok = report.memory_after_mb - report.memory_before_mb <= 100
    print(f"errors = 0: {'yes' if not report.errors else 'NO'}; memory back within 100 MB: {'yes' if memory_ok else 'NO'}")
    raise SystemExit(0 if not report.errors and memory_ok else 1)


if __name__ == "__main__":
    main()
