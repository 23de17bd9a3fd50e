"""`apply()`: the sampling stages of an engine, in that engine's order, with a trace of each stage.

Every stage has one interface, as in llama.cpp's sampler chain: a function from 2-D float logits
to logits of the same shape, with ``-inf`` where a token was removed. The chain is an ordered list.
The transformers and vLLM stages are transformers' own warpers (vLLM's rules for temperature,
min_p, top_k and top_p cut the same sets as them); the llama.cpp stages are written here because
no Python library exposes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import torch
from transformers.generation.logits_process import (
    EpsilonLogitsWarper,
    EtaLogitsWarper,
    LogitsProcessor,
    MinPLogitsWarper,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

from sampling.config import SamplingConfig

Transform = Callable[[torch.Tensor], torch.Tensor]
REMOVED = float("-inf")


@dataclass(frozen=True)
class Step:
    """One stage of a chain: its name, its setting and what it does to a [batch, vocab] tensor."""

    name: str
    value: float
    transform: Transform


@dataclass(frozen=True)
class Stage:
    """The logits before and after one stage, and what a viewer needs to understand the cut.

    ``probs``, ``kept`` and ``details`` are computed on first use, so that sampling, which only
    needs the final distribution, pays nothing for the trace.
    """

    name: str
    value: float
    logits_in: torch.Tensor
    logits: torch.Tensor

    @cached_property
    def probs(self) -> torch.Tensor:
        """The distribution after this stage: zeros where removed, summing to 1."""
        return torch.softmax(self.logits, dim=-1)

    @cached_property
    def kept(self) -> torch.Tensor:
        """Boolean mask of the tokens that survive this stage."""
        return self.logits > REMOVED

    @cached_property
    def details(self) -> dict[str, torch.Tensor | float]:
        """Stage-specific figures: thresholds, the sorted cumulative curve for top_p, ..."""
        explain = _EXPLAINERS.get(self.name)
        return explain(self) if explain else {}


@dataclass(frozen=True)
class Trace:
    """What `apply` did: the input logits (as float32 or float64) and every stage applied."""

    config: SamplingConfig
    logits: torch.Tensor
    stages: tuple[Stage, ...]

    @cached_property
    def raw_probs(self) -> torch.Tensor:
        """The model's own distribution: temperature 1, nothing removed."""
        return torch.softmax(self.logits, dim=-1)

    @property
    def final_logits(self) -> torch.Tensor:
        return self.stages[-1].logits if self.stages else self.logits

    @property
    def probs(self) -> torch.Tensor:
        """The distribution a token is drawn from; same shape as the input."""
        return self.stages[-1].probs if self.stages else self.raw_probs

    @property
    def kept(self) -> torch.Tensor:
        return self.final_logits > REMOVED

    def stage(self, name: str) -> Stage | None:
        return next((stage for stage in self.stages if stage.name == name), None)


def apply(logits: torch.Tensor, config: SamplingConfig) -> Trace:
    """Run the stages that ``config`` enables, in its engine's order.

    ``logits`` is ``[vocab]`` or ``[batch, vocab]`` in any float dtype; the math runs in float32
    (float64 input stays float64) and the input is never modified.

    >>> trace = apply(torch.tensor([2.0, 1.0, 0.0, -1.0]), SamplingConfig(top_k=2))
    >>> [stage.name for stage in trace.stages], trace.kept.tolist()
    (['top_k'], [True, True, False, False])
    >>> apply(torch.tensor([2.0, 1.0, 0.0]), SamplingConfig(temperature=0)).probs.tolist()
    [1.0, 0.0, 0.0]
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() not in (1, 2) or not logits.is_floating_point():
        raise ValueError(
            "logits must be a floating-point tensor of shape [vocab] or [batch, vocab], got "
            f"{getattr(logits, 'dtype', type(logits).__name__)} of shape {tuple(getattr(logits, 'shape', ()))}"
        )
    inputs = logits if logits.dtype == torch.float64 else logits.float()
    check_finite(inputs)
    scores, stages = inputs, []
    for step in chain(config, inputs.device):
        processed = step.transform(scores.reshape(-1, scores.shape[-1])).view(scores.shape)
        stages.append(Stage(step.name, step.value, scores, processed))
        scores = processed
    return Trace(config, inputs, tuple(stages))


def check_finite(logits: torch.Tensor) -> None:
    """Refuse NaN, +inf, and rows where every token is already removed (nothing left to sample)."""
    row_max = logits.amax(dim=-1)
    if not bool(torch.isfinite(row_max).all()):
        raise ValueError(
            "logits contain NaN or +inf, or a row with every value -inf; the model's output is not "
            "usable (fp16 overflow is a common cause: try float32)"
        )


def sample(probs: torch.Tensor, n: int, seed: int | torch.Generator) -> torch.Tensor:
    """Draw ``n`` token ids (with replacement) from ``probs`` with a generator of its own.

    ``seed`` is an int, or a `torch.Generator` to continue drawing from (as generation does step
    by step). The global RNG is never touched, so concurrent callers do not change each other's
    draws. ``probs`` is ``[vocab]`` (returns ``[n]``) or ``[batch, vocab]`` (returns ``[batch, n]``).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(seed, torch.Generator):
        generator = seed
    else:
        generator = torch.Generator(device=probs.device).manual_seed(int(seed))
    return torch.multinomial(probs.float(), n, replacement=True, generator=generator)


STAGE_ORDER: dict[str, tuple[str, ...]] = {
    "transformers": ("temperature", "top_k", "top_p", "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff"),
    "vllm": ("temperature", "min_p", "top_k", "top_p"),
    "llama.cpp": ("top_k", "typical_p", "top_p", "min_p", "temperature"),
}


def chain(config: SamplingConfig, device: torch.device | str = "cpu") -> list[Step]:
    """The ordered stages ``config`` enables for its engine."""
    if config.greedy and config.order != "llama.cpp":
        return [Step("greedy", 0.0, _greedy)]
    active = config.active()
    builders = _LLAMA_CPP_STAGES if config.order == "llama.cpp" else _WARPER_STAGES
    return [
        Step(name, active[name], builders[name](active[name], str(device)))
        for name in STAGE_ORDER[config.order]
        if name in active
    ]


def _warper(processor: LogitsProcessor) -> Transform:
    # These warpers never read input_ids.
    return lambda scores: processor(None, scores)


def _greedy(scores: torch.Tensor) -> torch.Tensor:
    best = scores.argmax(dim=-1, keepdim=True)
    return torch.full_like(scores, REMOVED).scatter(-1, best, scores.gather(-1, best))


_WARPER_STAGES: dict[str, Callable[[float, str], Transform]] = {
    "temperature": lambda value, device: _warper(TemperatureLogitsWarper(float(value))),
    "top_k": lambda value, device: _warper(TopKLogitsWarper(top_k=int(value))),
    "top_p": lambda value, device: _warper(TopPLogitsWarper(top_p=float(value))),
    "min_p": lambda value, device: _warper(MinPLogitsWarper(min_p=float(value))),
    "typical_p": lambda value, device: _warper(TypicalLogitsWarper(mass=float(value))),
    "epsilon_cutoff": lambda value, device: _warper(EpsilonLogitsWarper(epsilon=float(value))),
    "eta_cutoff": lambda value, device: _warper(EtaLogitsWarper(epsilon=float(value), device=device)),
}


def _keep_sorted(scores: torch.Tensor, order: torch.Tensor, keep_in_order: torch.Tensor) -> torch.Tensor:
    """Apply a keep-mask expressed in sorted order back onto ``scores``."""
    keep = torch.zeros_like(keep_in_order).scatter(-1, order, keep_in_order)
    return scores.masked_fill(~keep, REMOVED)


def _exclusive_cumsum(values: torch.Tensor) -> torch.Tensor:
    """Mass strictly before each position, added up in the same sequence llama.cpp adds it."""
    running = values.cumsum(dim=-1)
    return torch.cat([torch.zeros_like(running[..., :1]), running[..., :-1]], dim=-1)


def _llama_top_k(k: int) -> Transform:
    def transform(scores: torch.Tensor) -> torch.Tensor:
        # Exactly k, even among ties: the stable sort breaks ties by token id.
        order = torch.sort(scores, dim=-1, descending=True, stable=True).indices
        keep_in_order = torch.arange(scores.shape[-1], device=scores.device) < k
        return _keep_sorted(scores, order, keep_in_order.expand_as(scores))

    return transform


def _llama_top_p(p: float) -> Transform:
    def transform(scores: torch.Tensor) -> torch.Tensor:
        sorted_probs, order = torch.sort(torch.softmax(scores, dim=-1), dim=-1, descending=True, stable=True)
        # Keep each token until the running sum, including it, first reaches p.
        keep_in_order = _exclusive_cumsum(sorted_probs) < p
        keep_in_order[..., 0] = True
        return _keep_sorted(scores, order, keep_in_order)

    return transform


def _llama_typical(mass: float) -> Transform:
    def transform(scores: torch.Tensor) -> torch.Tensor:
        log_probs = torch.log_softmax(scores, dim=-1)
        probs = log_probs.exp()
        entropy = -(probs * log_probs).nansum(dim=-1, keepdim=True)
        surprise_gap = (-log_probs - entropy).abs()
        order = torch.sort(surprise_gap, dim=-1, stable=True).indices
        # Keep tokens until the running sum first exceeds the mass, that token included.
        keep_in_order = _exclusive_cumsum(probs.gather(-1, order)) <= mass
        keep_in_order[..., 0] = True
        return _keep_sorted(scores, order, keep_in_order)

    return transform


def _llama_min_p(min_p: float) -> Transform:
    def transform(scores: torch.Tensor) -> torch.Tensor:
        # llama.cpp compares logits: logit >= max_logit + ln(min_p), i.e. p >= min_p * p_max.
        threshold = scores.amax(dim=-1, keepdim=True) + torch.log(torch.tensor(min_p, dtype=scores.dtype))
        return scores.masked_fill(scores < threshold, REMOVED)

    return transform


def _llama_temperature(temperature: float) -> Transform:
    # llama.cpp treats temperature <= 0 as "keep only the most likely survivor".
    return _greedy if temperature <= 0 else (lambda scores: scores / temperature)


_LLAMA_CPP_STAGES: dict[str, Callable[[float, str], Transform]] = {
    "top_k": lambda value, device: _llama_top_k(int(value)),
    "typical_p": lambda value, device: _llama_typical(value),
    "top_p": lambda value, device: _llama_top_p(value),
    "min_p": lambda value, device: _llama_min_p(value),
    "temperature": lambda value, device: _llama_temperature(value),
}


def _explain_temperature(stage: Stage) -> dict[str, torch.Tensor | float]:
    return {"temperature": stage.value}


def _explain_top_k(stage: Stage) -> dict[str, torch.Tensor | float]:
    k = min(int(stage.value), stage.logits_in.shape[-1])
    kth_logit = torch.topk(stage.logits_in, k, dim=-1).values[..., -1]
    kth_prob = torch.topk(torch.softmax(stage.logits_in, dim=-1), k, dim=-1).values[..., -1]
    return {"threshold_logit": kth_logit, "threshold_prob": kth_prob}


def _explain_top_p(stage: Stage) -> dict[str, torch.Tensor | float]:
    sorted_probs, sorted_ids = torch.sort(torch.softmax(stage.logits_in, dim=-1), dim=-1, descending=True)
    return {
        "threshold": stage.value,
        "sorted_ids": sorted_ids,
        "sorted_probs": sorted_probs,
        "cumulative": sorted_probs.cumsum(dim=-1),
        "cutoff_rank": stage.kept.sum(dim=-1),
    }


def _explain_min_p(stage: Stage) -> dict[str, torch.Tensor | float]:
    return {"threshold_prob": stage.value * torch.softmax(stage.logits_in, dim=-1).amax(dim=-1)}


def _entropy_in(stage: Stage) -> torch.Tensor:
    log_probs = torch.log_softmax(stage.logits_in, dim=-1)
    return -(log_probs.exp() * log_probs).nansum(dim=-1)


def _explain_typical(stage: Stage) -> dict[str, torch.Tensor | float]:
    return {"mass": stage.value, "entropy_nats": _entropy_in(stage)}


def _explain_epsilon(stage: Stage) -> dict[str, torch.Tensor | float]:
    return {"threshold_prob": stage.value}


def _explain_eta(stage: Stage) -> dict[str, torch.Tensor | float]:
    eta = torch.tensor(stage.value, dtype=stage.logits_in.dtype)
    return {"threshold_prob": torch.minimum(eta, eta.sqrt() * torch.exp(-_entropy_in(stage)))}


_EXPLAINERS: dict[str, Callable[[Stage], dict[str, torch.Tensor | float]]] = {
    "temperature": _explain_temperature,
    "top_k": _explain_top_k,
    "top_p": _explain_top_p,
    "min_p": _explain_min_p,
    "typical_p": _explain_typical,
    "epsilon_cutoff": _explain_epsilon,
    "eta_cutoff": _explain_eta,
}
