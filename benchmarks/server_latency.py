"""A slider move checked against a llama-server next to the same move computed locally.

    python -m benchmarks.server_latency        # needs scripts/build_llama_server.sh and SmolLM2

A moved temperature is a new setting: the page asks the server once for it (`LlamaServer.complete`,
one token, n_probs 20) and computes its own panel from cached logits (`apply`). Medians over 30
temperatures, interleaved.
"""

from __future__ import annotations

import statistics
import time

from benchmarks.harness import llama_server
from sampling import Context, SamplingConfig, apply, load_model
from sampling.fetch import fetch
from sampling.servers import Backend, LlamaServer

PROMPT = "hello, this is my favorite"


def main() -> None:
    gguf = fetch("smollm2", progress=lambda line: None)
    handle = load_model("smollm2")
    ids = list(handle.encode(PROMPT).ids)
    logits = handle.logits_after(ids, runtime="llama.cpp")
    with llama_server(gguf) as url:
        server = LlamaServer(Backend("local", url, "llama.cpp"))
        server.complete(ids, SamplingConfig(order="llama.cpp"), n_probs=20)  # warm-up
        remote, local = [], []
        for step in range(30):
            config = SamplingConfig(order="llama.cpp", temperature=0.3 + step * 0.05, top_k=40, top_p=0.95, min_p=0.05)
            started = time.perf_counter()
            server.complete(ids, config, n_probs=20)
            remote.append(time.perf_counter() - started)
            started = time.perf_counter()
            apply(logits, config, context=Context.of(ids), llama_cpp="native").probs
            local.append(time.perf_counter() - started)
    print(f"server-backed move: median {statistics.median(remote) * 1000:.1f} ms; local: "
          f"{statistics.median(local) * 1000:.1f} ms ({statistics.median(remote) / statistics.median(local):.1f}x)")


if __name__ == "__main__":
    main()
