"""The hosting load test on a real model with a 262,144-token vocabulary, Gemma 3 270M (fetched by
`python -m sampling.fetch gemma3`): one real server, Streamlit's own websocket protocol, loopback only.

    OMP_NUM_THREADS=1 python -m benchmarks.gemma_load      # about 3 minutes

Eight sessions at once: three move panel A's temperature for the whole run (p95 rerun latency); two
ask for the most sampling the server's budget allows (16 samples, as many tokens as fit) and stay;
two ask for the same and leave a second later (their work must stop: the server logs it, and the
time from leaving to that line is reported); one newcomer arrives after the others have started
and times its first chart. The server's resident memory is sampled throughout.
Goals: newcomer's first chart ≤ 10 s, p95 slider response ≤ 2 s, RSS ≤ 8 GB, no work running for
a gone session 1 s after it left.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from benchmarks.harness import Server, streamlit_server
from benchmarks.ws_client import Session

SECONDS = 90
HEAVY = {"a_samples": ("double_value", 16.0), "a_length": ("double_array_value", [180])}
"""16 samples of 180 tokens: the most the server's budget allows on Gemma's vocabulary at panel A's
temperature. Each heavy session its own seed, so that no two share one computation."""


async def mover(url: str, deadline: float, index: int, latencies: list[float], errors: list[str]) -> None:
    async with Session(url) as session:
        errors.extend((await session.run()).exceptions)
        step = 0
        while time.monotonic() < deadline:
            result = await session.run({"a_temperature": round(0.05 * ((index * 7 + step) % 38 + 1), 2)})
            step += 1
            errors.extend(result.exceptions)
            latencies.append(result.seconds)


async def heavy(server: Server, seed: int, leaves: bool, gaps: list[float], errors: list[str]) -> None:
    """Ask for the heaviest sampling; a leaver drops its connection once the server has started that
    work, and the time from leaving to the server's line that the work stopped is recorded."""
    request = {**HEAVY, "a_seed": ("double_value", float(seed))}
    async with Session(server.url) as session:
        errors.extend((await session.run()).exceptions)
        if not leaves:
            await asyncio.sleep(2.0)  # the leavers' work starts first
            errors.extend((await session.run(raw_values=request)).exceptions)
            return
        await session.send(request)
        started = f"model work started: generate 16 x 180 seed {seed},"
        deadline = time.monotonic() + 30
        while not server.log_lines(started) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        session.drop()
        left = time.monotonic()
    stopped = f"seed {seed},"
    while time.monotonic() < left + 10:
        ends = [at for at, line in server.log if stopped in line and ("stopped" in line or "dropped" in line)]
        if ends:
            gaps.append(ends[0] - left)
            return
        await asyncio.sleep(0.05)
    gaps.append(float("inf"))


async def newcomer(url: str, delay: float, first_chart: list[float], errors: list[str]) -> None:
    await asyncio.sleep(delay)
    async with Session(url) as session:
        result = await session.run()
        errors.extend(result.exceptions)
        first_chart.append(result.first_chart if result.first_chart is not None else float("nan"))


async def watch(server: Server, peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak.append(server.resident_mb)
        await asyncio.sleep(0.5)


async def load(server: Server) -> None:
    async with Session(server.url) as warm_up:
        await warm_up.run()
    latencies, errors, gaps, first_chart, memory = [], [], [], [], []
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(server, memory, stop))
    deadline = time.monotonic() + SECONDS
    await asyncio.gather(
        *(mover(server.url, deadline, index, latencies, errors) for index in range(3)),
        *(heavy(server, seed, False, gaps, errors) for seed in (101, 102)),
        *(heavy(server, seed, True, gaps, errors) for seed in (103, 104)),
        newcomer(server.url, 10.0, first_chart, errors),
    )
    stop.set()
    await watcher
    refused = [line for _, line in server.log if "units of work" in line]
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else float("nan")
    print(f"slider reruns {len(latencies)}: p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s (goal <= 2 s)")
    print(f"newcomer's first chart: {first_chart[0]:.1f} s (goal <= 10 s)")
    print(f"server RSS peak {max(memory):.0f} MB (goal <= 8192 MB)")
    print(f"sessions that left mid-request: {len(gaps)}; their work stopped "
          f"{', '.join(f'{gap:.2f} s' for gap in gaps)} after they left (goal <= 1 s)")
    print(f"errors: {len(errors)} {sorted(set(errors))[:3]}; budget refusals logged: {len(refused)}")


def main() -> None:
    with streamlit_server({"SAMPLING_MODEL": "gemma3"}, timeout=180) as server:
        asyncio.run(load(server))


if __name__ == "__main__":
    main()
