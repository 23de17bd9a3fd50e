"""The vLLM client against answers shaped as vLLM 0.33.0's protocol classes shape them
(``vllm/entrypoints/openai/protocol.py``: ``CompletionResponse`` → ``CompletionResponseChoice`` →
``CompletionLogProbs`` with ``text_offset``, ``token_logprobs``, ``tokens``, ``top_logprobs``), served
on loopback by a stand-in: vLLM cannot run on these machines (no GPU). Also the client's bounds:
timeouts, response size, errors as one line, the bearer token, servers only from the settings."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sampling import SamplingConfig
from sampling.servers import Backend, ServerError, VLLMServer, servers_from_settings

ANSWER = {
    "id": "cmpl-1", "object": "text_completion", "created": 0, "model": "Qwen/Qwen2.5-0.5B",
    "choices": [{"index": 0, "text": " game", "finish_reason": "length", "stop_reason": None,
                 "logprobs": {"text_offset": [0], "token_logprobs": [math.log(0.5)], "tokens": [" game"],
                              "top_logprobs": [{" game": math.log(0.5), " song": math.log(0.3),
                                                " place": math.log(0.1)}]}}],
    "usage": {"prompt_tokens": 6, "total_tokens": 7, "completion_tokens": 1},
}


class StandIn(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict, dict]] = []
    mode = "ok"

    def log_message(self, *args):
        pass

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._send(200, json.dumps({"version": "0.33.0"}).encode())

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StandIn.requests.append((self.path, body, dict(self.headers)))
        if StandIn.mode == "error":
            self._send(400, json.dumps({"object": "error", "message": "temperature must be in [0, 2]\nsecond line",
                                        "type": "BadRequestError", "code": 400}).encode())
        elif StandIn.mode == "huge":
            self._send(200, b"[" + b"1," * 2_000_000 + b"1]")
        else:
            self._send(200, json.dumps(ANSWER).encode())


@pytest.fixture(scope="module")
def url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_vllm_client_reads_top_logprobs_and_names_the_mass_not_reported(url):
    StandIn.mode = "ok"
    client = VLLMServer(Backend("big", url, "vllm", token="secret"), "Qwen/Qwen2.5-0.5B")
    steps = client.complete("hello, this is my favorite", SamplingConfig(order="vllm", temperature=0.8, top_p=0.9),
                            max_tokens=1, logprobs=3)
    assert [candidate.text for candidate in steps[0].candidates] == [" game", " song", " place"]
    assert steps[0].probability == pytest.approx(0.5) and steps[0].not_reported == pytest.approx(0.1)
    path, body, headers = StandIn.requests[-1]
    assert path == "/v1/completions" and body["logprobs"] == 3 and body["top_k"] == -1 and body["top_p"] == 0.9
    assert headers["Authorization"] == "Bearer secret"
    assert client.info().version == "vLLM 0.33.0"
    with pytest.raises(ValueError, match="vLLM's order"):
        client.complete("x", SamplingConfig(order="llama.cpp"))


def test_errors_oversized_answers_and_unreachable_servers_are_one_line(url):
    client = VLLMServer(Backend("big", url, "vllm", max_bytes=100_000, timeout=5), "m")
    StandIn.mode = "error"
    with pytest.raises(ServerError, match="big answered 400: temperature must be in") as error:
        client.complete("x", SamplingConfig(order="vllm"))
    assert "\n" not in str(error.value)
    StandIn.mode = "huge"
    with pytest.raises(ServerError, match="more than 100,000 bytes"):
        client.complete("x", SamplingConfig(order="vllm"))
    gone = VLLMServer(Backend("gone", "http://127.0.0.1:9", "vllm", timeout=2), "m")
    with pytest.raises(ServerError, match="gone could not be reached"):
        gone.complete("x", SamplingConfig(order="vllm"))


def test_servers_come_only_from_the_deployments_settings():
    backends = servers_from_settings("big=llama.cpp+http://127.0.0.1:8080, huge=vllm+https://vllm.internal:8000")
    assert backends["big"].engine == "llama.cpp" and backends["huge"].url == "https://vllm.internal:8000"
    for bad in ("big=sglang+http://x", "noengine", "big=vllm+file:///etc/passwd"):
        with pytest.raises(ValueError, match="name=engine\\+url"):
            servers_from_settings(bad)
