"""The distribution a running inference server reports, for models that outgrow one machine.

- **llama.cpp's llama-server** (`LlamaServer`): ``POST /completion`` with the sampling fields and
  ``n_probs``, ``post_sampling_probs: true``. Per generated token it returns the candidates after
  its own sampler chain with the probabilities ``dist`` draws from (``populate_token_probs`` in
  ``tools/server/server-context.cpp``: zeros are left out), so with ``n_probs`` at least the number
  kept, the report is the whole post-sampling distribution.
- **vLLM** (`VLLMServer`, 0.33.0): ``POST /v1/completions`` with ``logprobs`` (top-N per token) and
  the sampling fields. What those numbers are depends on the server's ``--logprobs-mode``: only
  ``processed_logprobs`` reports the distribution after temperature and the filters; the default
  ``raw_logprobs`` reports the model's own. N is bounded by ``--max-logprobs``. Not yet checked
  against a running vLLM (none can run here): its client is tested on responses shaped as vLLM's
  protocol classes shape them.

Server URLs come from the deployment (`servers_from_settings`), never from a visitor. Every call
has a timeout and a bound on the response's size, sends a bearer token where one is set, and fails
with one line (`ServerError`).
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sampling.config import LLAMA_ORDERS, SamplingConfig
from sampling.engines import llama_cpp

Engine = Literal["llama.cpp", "vllm"]
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
DEFAULT_TIMEOUT = 30.0


class ServerError(RuntimeError):
    """A server could not be asked or did not answer usably; the message is one line."""


@dataclass(frozen=True)
class Candidate:
    id: int
    text: str
    probability: float


@dataclass(frozen=True)
class ReportedStep:
    """One generated token and the candidates the server reported for it, most likely first."""

    token: int
    text: str
    probability: float
    candidates: tuple[Candidate, ...]

    @property
    def not_reported(self) -> float:
        """The probability outside the reported candidates (0 when they are the whole distribution)."""
        return max(0.0, 1.0 - sum(candidate.probability for candidate in self.candidates))


@dataclass(frozen=True)
class ServerInfo:
    engine: Engine
    model: str
    version: str


@dataclass(frozen=True)
class Backend:
    """One server of the deployment's list: a name shown to visitors, its URL and engine."""

    name: str
    url: str
    engine: Engine
    token: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = MAX_RESPONSE_BYTES


def _post(backend: Backend, path: str, body: Mapping[str, Any] | None = None) -> Any:
    """GET (no body) or POST JSON to ``backend``; the decoded JSON answer, bounded in time and size."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(backend.url.rstrip("/") + path, data=data, method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    if backend.token:
        request.add_header("Authorization", f"Bearer {backend.token}")
    try:
        with urllib.request.urlopen(request, timeout=backend.timeout) as response:
            raw = response.read(backend.max_bytes + 1)
    except urllib.error.HTTPError as error:
        detail = error.read(2000).decode("utf-8", "replace")
        try:  # vLLM's ErrorResponse has its message on top; llama-server's under "error"
            parsed = json.loads(detail)
            nested = parsed.get("error")
            detail = parsed.get("message") or (nested.get("message") if isinstance(nested, dict) else nested) or detail
        except (ValueError, AttributeError):
            pass
        one_line = " ".join(str(detail).split())
        raise ServerError(f"{backend.name} answered {error.code}: {one_line[:300]}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = " ".join(str(getattr(error, "reason", error)).split())
        raise ServerError(f"{backend.name} could not be reached: {reason[:200]}") from None
    if len(raw) > backend.max_bytes:
        raise ServerError(f"{backend.name} sent more than {backend.max_bytes:,} bytes; ask for fewer probabilities")
    try:
        return json.loads(raw)
    except ValueError:
        raise ServerError(f"{backend.name} did not answer with JSON") from None


def llama_server_fields(config: SamplingConfig) -> dict[str, Any]:
    """The ``/completion`` fields that make llama-server sample as ``config`` does (server-schema.cpp's
    names). The server checks them by its own rules: ``repeat_last_n`` -1, for one, it refuses."""
    if config.order not in LLAMA_ORDERS:
        raise ValueError(f"llama-server samples with llama.cpp's chain: choose the llama.cpp or custom order, "
                         f"not {config.order}")
    fields: dict[str, Any] = {
        "temperature": config.temperature, "top_k": config.top_k, "top_p": config.top_p, "min_p": config.min_p,
        "typical_p": config.typical_p, "repeat_penalty": config.repetition_penalty,
        "repeat_last_n": config.penalty_last_n, "frequency_penalty": config.frequency_penalty,
        "presence_penalty": config.presence_penalty, "top_n_sigma": config.top_n_sigma,
        "xtc_probability": config.xtc_probability, "xtc_threshold": config.xtc_threshold,
        "dynatemp_range": config.dynatemp_range, "dynatemp_exponent": config.dynatemp_exponent,
        "dry_multiplier": config.dry_multiplier, "dry_base": config.dry_base,
        "dry_allowed_length": config.dry_allowed_length, "dry_penalty_last_n": config.dry_penalty_last_n,
        "dry_sequence_breakers": list(config.dry_sequence_breakers), "mirostat": config.mirostat,
        "mirostat_tau": config.mirostat_tau, "mirostat_eta": config.mirostat_eta,
        "logit_bias": [[token, bias] for token, bias in config.logit_bias], "min_keep": 0,
        "samplers": list(config.samplers if config.order == "custom" else llama_cpp.DEFAULT_SAMPLERS),
    }
    return fields


class LlamaServer:
    """A running llama-server."""

    def __init__(self, backend: Backend) -> None:
        if backend.engine != "llama.cpp":
            raise ValueError(f"{backend.name} is a {backend.engine} server, not llama.cpp's")
        self.backend = backend

    def info(self) -> ServerInfo:
        props = _post(self.backend, "/props")
        model = str(props.get("model_path", "unknown")).rsplit("/", 1)[-1]
        return ServerInfo("llama.cpp", model, f"llama-server {props.get('build_info', 'unknown')}")

    def complete(self, prompt_ids: Sequence[int], config: SamplingConfig, n_predict: int = 1, n_probs: int = 100,
                 seed: int = 0) -> list[ReportedStep]:
        """``n_predict`` tokens after ``prompt_ids`` (token ids, fed as they are), each with up to
        ``n_probs`` candidates after the server's own chain."""
        body = {"prompt": [int(token) for token in prompt_ids], "n_predict": n_predict, "n_probs": n_probs,
                "post_sampling_probs": True, "seed": seed, "cache_prompt": False, "stream": False,
                **llama_server_fields(config)}
        answer = _post(self.backend, "/completion", body)
        try:
            return [ReportedStep(int(step["id"]), str(step["token"]), float(step["prob"]),
                                 tuple(Candidate(int(top["id"]), str(top["token"]), float(top["prob"]))
                                       for top in step["top_probs"]))
                    for step in answer["completion_probabilities"]]
        except (KeyError, TypeError, ValueError):
            raise ServerError(f"{self.backend.name}'s answer has no completion_probabilities of the expected "
                              "form") from None


class VLLMServer:
    """vLLM's OpenAI-compatible server. What its log-probabilities mean depends on the server's
    ``--logprobs-mode`` (see the module's text); N is bounded by its ``--max-logprobs``."""

    def __init__(self, backend: Backend, model: str) -> None:
        if backend.engine != "vllm":
            raise ValueError(f"{backend.name} is a {backend.engine} server, not vLLM")
        self.backend = backend
        self.model = model

    def info(self) -> ServerInfo:
        version = _post(self.backend, "/version").get("version", "unknown")
        return ServerInfo("vllm", self.model, f"vLLM {version}")

    @staticmethod
    def fields(config: SamplingConfig) -> dict[str, Any]:
        """The request fields of ``config`` in vLLM's names (its ``SamplingParams`` checks them)."""
        if config.order != "vllm":
            raise ValueError(f"a vLLM server samples with vLLM's order, not {config.order}")
        return {"temperature": config.temperature, "top_p": config.top_p, "top_k": config.top_k or -1,
                "min_p": config.min_p, "repetition_penalty": config.repetition_penalty,
                "frequency_penalty": config.frequency_penalty, "presence_penalty": config.presence_penalty,
                **({"logit_bias": {str(token): bias for token, bias in config.logit_bias}} if config.logit_bias else {})}

    def complete(self, prompt: str | Sequence[int], config: SamplingConfig, max_tokens: int = 1, logprobs: int = 20,
                 seed: int = 0) -> list[ReportedStep]:
        """``max_tokens`` tokens, each with its ``logprobs`` most likely candidates (as probabilities)."""
        body = {"model": self.model, "prompt": prompt if isinstance(prompt, str) else [int(t) for t in prompt],
                "max_tokens": max_tokens, "logprobs": logprobs, "seed": seed, **self.fields(config)}
        answer = _post(self.backend, "/v1/completions", body)
        try:
            logprobs_block = answer["choices"][0]["logprobs"]
            steps = []
            for text, logprob, top in zip(logprobs_block["tokens"], logprobs_block["token_logprobs"],
                                          logprobs_block["top_logprobs"], strict=True):
                # CompletionLogProbs: a dict of decoded text -> logprob per position, or None
                # (two tokens that decode alike are one entry there).
                ranked = sorted((top or {}).items(), key=lambda item: -item[1])
                steps.append(ReportedStep(-1, text, math.exp(logprob),
                                          tuple(Candidate(-1, candidate, math.exp(value)) for candidate, value in ranked)))
            return steps
        except (KeyError, TypeError, ValueError, IndexError):
            raise ServerError(f"{self.backend.name}'s answer has no logprobs of the expected form") from None


def servers_from_settings(value: str | None) -> dict[str, Backend]:
    """The deployment's servers, ``name=engine+url`` comma-separated (``SAMPLING_SERVERS``), e.g.
    ``big=llama.cpp+http://10.0.0.5:8080``; a token comes from ``SAMPLING_SERVER_TOKEN_<NAME>``
    (read by the page). Never from a visitor."""
    backends = {}
    for entry in (part.strip() for part in (value or "").split(",") if part.strip()):
        name, _, target = entry.partition("=")
        engine, _, url = target.partition("+")
        if not name or engine not in ("llama.cpp", "vllm") or not url.startswith(("http://", "https://")):
            raise ValueError(f"SAMPLING_SERVERS entries are name=engine+url (engine llama.cpp or vllm), got {entry!r}")
        backends[name] = Backend(name, url, engine)  # type: ignore[arg-type]
    return backends
