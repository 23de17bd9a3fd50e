"""llama.cpp's own runtime for a GGUF model: its forward pass with the file's quantized kernels, and
its own sampler chain, through llama-cpp-python (``requirements-llama.txt``).

Logits from transformers' dequantized float32 pass and from llama.cpp's quantized kernels differ a
little (`compare_runtimes`); this is what llama.cpp users really run. `LlamaCppRuntime.generate`
draws each token exactly as ``llama_sampler_sample`` does: the candidates in id order from
``llama_get_logits_ith``, the chain of ``common_sampler_init`` (logit bias, the samplers in their
order, ``dist`` seeded per row) applied by llama.cpp, the drawn token accepted into the chain. The
chain is given the prompt's tokens first, as llama-server gives them.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sampling.config import LLAMA_ORDERS, SamplingConfig
from sampling.engines import llama_cpp
from sampling.limits import Limits, check_cancelled, check_count
from sampling.metrics import entropy, entropy_of_logits, kl_divergence_of_logits

DEFAULT_CONTEXT = 2048


def available() -> bool:
    return llama_cpp.native_module() is not None


@dataclass(frozen=True)
class Draw:
    """One token drawn by llama.cpp's chain, and the distribution it was drawn from."""

    id: int
    probability: float
    raw_rank: int
    entropy_before_bits: float
    entropy_after_bits: float
    tokens_kept: int


class LlamaCppRuntime:
    """A GGUF file opened by llama.cpp. One context, so one call at a time (a lock guards it)."""

    def __init__(self, gguf: Path, context_length: int = DEFAULT_CONTEXT, threads: int | None = None) -> None:
        if not available():
            raise RuntimeError(f"llama.cpp's runtime needs {llama_cpp.NATIVE_REQUIREMENT}: "
                               "pip install -r requirements-llama.txt")
        from llama_cpp import Llama

        self.path = Path(gguf)
        self.llama = Llama(model_path=str(self.path), n_ctx=context_length, logits_all=False, verbose=False,
                           n_threads=threads)
        self.vocab_size = self.llama.n_vocab()
        self.eos = self.llama.token_eos()
        self._lock = threading.Lock()
        # The candidates array llama_sampler_sample builds each step, allocated once.
        self._candidates = np.empty(self.vocab_size, dtype=llama_cpp.TOKEN_DATA)
        self._ids = np.arange(self.vocab_size, dtype=np.int32)
        module = llama_cpp.native_module()
        self.version = f"llama.cpp (llama-cpp-python {module.__version__})"

    def _evaluate(self, token_ids: Sequence[int]) -> np.ndarray:
        """Evaluate ``token_ids`` after what is already in the context; the next-token logits, as a
        view of llama.cpp's own buffer (valid until the next evaluation)."""
        self.llama.eval(list(token_ids))
        module = llama_cpp.native_module()
        pointer = module.llama_get_logits_ith(self.llama.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self.vocab_size,))

    def next_token_logits(self, token_ids: Sequence[int]) -> torch.Tensor:
        """float32 logits ``[vocab]`` of the token after ``token_ids``, from llama.cpp's forward pass."""
        if not token_ids or len(token_ids) > self.llama.n_ctx():
            raise ValueError(f"token_ids must hold 1 to {self.llama.n_ctx()} ids, got {len(token_ids)}")
        with self._lock:
            self.llama.reset()
            return torch.from_numpy(self._evaluate(token_ids).copy())

    def chain(self, config: SamplingConfig, seed: int):
        """``common_sampler_init``'s chain for ``config`` with this model's vocabulary (so DRY's
        sequence breakers are llama.cpp's own), ending in ``dist`` seeded with ``seed``."""
        if config.order not in LLAMA_ORDERS:
            raise ValueError(f"llama.cpp's runtime samples with llama.cpp's chain: choose the llama.cpp or custom "
                             f"order, not {config.order}")
        module = llama_cpp.native_module()
        return llama_cpp.common_chain(module, config, self.vocab_size, seed,
                                      vocab=module.llama_model_get_vocab(self.llama.model))

    def _draw(self, chain, logits: np.ndarray) -> Draw:
        """``llama_sampler_sample`` on ``logits``: the chain applied to the candidates in id order,
        the selected token accepted into the chain."""
        module = llama_cpp.native_module()
        data = self._candidates
        data["id"], data["logit"], data["p"] = self._ids, logits, 0.0
        candidates = module.llama_token_data_array(data=data.ctypes.data_as(module.llama_token_data_p),
                                                   size=len(logits), selected=-1, sorted=False)
        module.llama_sampler_apply(chain, ctypes.byref(candidates))
        current = llama_cpp._current(module, candidates)
        if not 0 <= candidates.selected < len(current):
            raise RuntimeError("llama.cpp's chain selected no token")
        chosen = current[candidates.selected]
        token = int(chosen["id"])
        module.llama_sampler_accept(chain, token)
        return Draw(token, float(chosen["p"]), int((logits > logits[token]).sum()) + 1,
                    float(entropy_of_logits(torch.from_numpy(logits), bits=True)),
                    float(entropy(torch.from_numpy(current["p"].copy()), bits=True)), int((current["p"] > 0).sum()))

    def generate(self, prompt_ids: Sequence[int], config: SamplingConfig, n: int, max_new_tokens: int, seed: int,
                 limits: Limits = Limits(), cancelled: Callable[[], bool] | None = None) -> list[list[Draw]]:
        """``n`` continuations of ``prompt_ids``, row ``r`` drawn by a chain seeded with
        ``seed + r``; each stops at EOS. Token for token what llama-cpp-python's ``Llama.generate``
        draws with the same chain and seed, where that loop can express the chain (it has no logit
        bias, DRY, top-n-sigma, XTC or custom order, and its penalties never see the prompt)."""
        check_count("n", n, limits.max_samples)
        check_count("max_new_tokens", max_new_tokens, limits.max_new_tokens)
        if len(prompt_ids) + max_new_tokens > self.llama.n_ctx():
            raise ValueError(f"{len(prompt_ids)} prompt tokens and {max_new_tokens} new ones do not fit in "
                             f"llama.cpp's context of {self.llama.n_ctx()}")
        module = llama_cpp.native_module()
        rows = []
        with self._lock:
            for row in range(n):
                chain = self.chain(config, (seed + row) & 0xFFFFFFFF)
                try:
                    for token in prompt_ids:
                        module.llama_sampler_accept(chain, int(token))
                    self.llama.reset()
                    logits = self._evaluate(prompt_ids)
                    draws = []
                    for step in range(max_new_tokens):
                        check_cancelled(cancelled)
                        draws.append(self._draw(chain, logits))
                        if draws[-1].id == self.eos or step == max_new_tokens - 1:
                            break
                        logits = self._evaluate([draws[-1].id])
                finally:
                    module.llama_sampler_free(chain)
                rows.append(draws)
        return rows


@dataclass(frozen=True)
class RuntimeDifference:
    """How the two runtimes' next-token distributions differ for one prompt."""

    kl_nats: float
    """KL(transformers ‖ llama.cpp)."""
    entropy_bits: tuple[float, float]
    top1: tuple[int, int]

    @property
    def same_top1(self) -> bool:
        return self.top1[0] == self.top1[1]


def compare_runtimes(transformers_logits: torch.Tensor, llama_logits: torch.Tensor) -> RuntimeDifference:
    """KL, entropies (bits) and top-1 tokens of the same prompt's logits from both runtimes, in float64."""
    entropies = tuple(float(entropy_of_logits(logits.double(), bits=True)) for logits in (transformers_logits, llama_logits))
    return RuntimeDifference(float(kl_divergence_of_logits(transformers_logits, llama_logits)), entropies,
                             (int(transformers_logits.argmax()), int(llama_logits.argmax())))
