"""Load test: concurrent websocket sessions against one real `streamlit run` server.

Each session speaks Streamlit's own protocol (`benchmarks.ws_client`, no browser, so the figures
measure the server): it opens the page, then keeps moving panel A's temperature slider (a fragment
rerun, as in a browser) and waits for the run to finish. Traffic stays on loopback and the run is
bounded in time. Reports sessions, reruns, errors, p50/p95 rerun latency (message sent to run
finished) and the server's resident memory before, during and after.

    python -m benchmarks.load_test --sessions 12 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass, field

from benchmarks.harness import Server, streamlit_server
from benchmarks.ws_client import Session

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


async def _session(url: str, deadline: float, report: LoadReport, index: int) -> None:
    try:
        async with Session(url) as session:
            first = await session.run()
            report.errors.extend(first.exceptions)
            step = 0
            while time.monotonic() < deadline:
                # Each session its own values, so that no two ask for the same cached charts.
                value = round(0.05 * ((index * 7 + step) % 38 + 1), 2)
                step += 1
                result = await session.run({"a_temperature": value})
                report.errors.extend(result.exceptions)
                report.latencies.append(result.seconds)
                report.reruns += 1
    except Exception as error:  # noqa: BLE001 - every failure is counted, none stops the test
        report.errors.append(f"session failed: {type(error).__name__}: {error}")


async def _watch_memory(server: Server, report: LoadReport, stop: asyncio.Event) -> None:
    while not stop.is_set():
        report.memory_peak_mb = max(report.memory_peak_mb, server.resident_mb)
        await asyncio.sleep(0.5)


async def _load(server: Server, sessions: int, seconds: float) -> LoadReport:
    report = LoadReport(sessions=sessions, seconds=seconds)
    async with Session(server.url) as warm_up:
        await warm_up.run()
    await asyncio.sleep(2)
    report.memory_before_mb = report.memory_peak_mb = server.resident_mb
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch_memory(server, report, stop))
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(_session(server.url, deadline, report, index) for index in range(sessions)))
    stop.set()
    await watcher
    await asyncio.sleep(SETTLE_SECONDS)
    report.memory_after_mb = server.resident_mb
    return report


def run_load_test(sessions: int = 12, seconds: float = 60) -> LoadReport:
    with streamlit_server() as server:
        return asyncio.run(_load(server, sessions, seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=12)
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
