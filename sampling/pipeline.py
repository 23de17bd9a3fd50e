"""`apply()`: the sampling stages of an engine, in that engine's order, with a trace of each stage.

Each engine's stages live in `sampling.engines`; here they are run, recorded and explained. Every
engine works on float32 logits, so `apply` does too, whatever the input dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import torch

from sampling import engines
from sampling.config import SamplingConfig
from sampling.engines import PENALTIES, REMOVED, Context, LlamaCppChoice

GREEDY_PROCESSORS = ("logit_bias", *PENALTIES)
"""Processors that run in greedy decoding too, before the argmax."""
READS_CONTEXT = (*PENALTIES, "dry_multiplier")
"""Stages that count the tokens before this one: `apply` needs a context for them."""
CONTEXT_STAGES = ("logit_bias", *READS_CONTEXT)
"""Stages that move logits (by the tokens before this one, or by a bias) without removing any."""
from sampling.limits import Limits, check_count

TIE_RULES: dict[str, str] = {
    "transformers": "transformers keeps every token tied with the k-th at top_k; top_p and typical cut "
    "tied tokens by their place in torch.sort's order; greedy takes the lowest id",
    "vllm": "vLLM's PyTorch path (CPU) keeps every token tied with the k-th at top_k and greedy takes "
    "the lowest id; on GPUs its Triton top-k/top-p kernel keeps exactly k, lowest ids first, and "
    "FlashInfer samples by rejection without cutting",
    "llama.cpp": "llama.cpp keeps exactly k at top_k; which tied tokens survive is decided by "
    "std::partial_sort (k <= 128) or its bucket sort, not by token id; greedy keeps the first maximum "
    "in the candidates' current order",
}
"""How each engine breaks a tie at a cut: the one place this is documented."""


@dataclass(frozen=True)
class Stage:
    """The logits before and after one stage, and what a viewer needs to understand the cut.

    ``probs``, ``kept`` and ``details`` are computed on first use, so that sampling, which only
    needs the final distribution, pays nothing for the trace. ``note`` says where the engine ran
    the stage with another value than the one configured (vLLM raises a tiny temperature, ...).
    """

    name: str
    value: float
    logits_in: torch.Tensor
    logits: torch.Tensor
    note: str = ""
    engine_probs: torch.Tensor | None = None
    """The engine's own normalisation where it is not a float32 softmax (llama.cpp's ``dist``)."""

    @cached_property
    def probs(self) -> torch.Tensor:
        """The distribution after this stage: zeros where removed, summing to 1."""
        return torch.softmax(self.logits, dim=-1) if self.engine_probs is None else self.engine_probs

    @cached_property
    def kept(self) -> torch.Tensor:
        """Boolean mask of the tokens that survive this stage."""
        return self.logits > REMOVED

    @cached_property
    def details(self) -> dict[str, torch.Tensor | float]:
        """Stage-specific figures: thresholds, the sorted cumulative curve for top_p, and ``ties``
        (see `ties_at_cut`) for every stage that removes tokens."""
        explain = _EXPLAINERS.get(self.name)
        figures = explain(self) if explain else {}
        if self.name != "temperature" or self.value <= 0:
            figures["ties"] = ties_at_cut(self)
        return figures


@dataclass(frozen=True)
class Trace:
    """What `apply` did: the float32 input logits, every stage applied, and what computed them."""

    config: SamplingConfig
    logits: torch.Tensor
    stages: tuple[Stage, ...]
    implementation: str = ""
    ignored: tuple[str, ...] = ()
    """Settings the engine accepts but does not run here (`SamplingConfig.ignored`): llama.cpp with
    mirostat runs only the logit bias and temperature before it; a custom order runs only its samplers."""

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


def apply(logits: torch.Tensor, config: SamplingConfig, *, context: Context | None = None,
          llama_cpp: LlamaCppChoice = "auto", xtc_fires: bool = True,
          mirostat_mu: Sequence[float] | None = None) -> Trace:
    """Run the stages that ``config`` enables, in its engine's order.

    ``logits`` is ``[vocab]`` or ``[batch, vocab]`` in any float dtype; the math runs in float32,
    as in every engine, and the input is never modified. ``context`` (`Context.of(prompt_ids,
    generated_ids)`) holds the tokens before this one; the penalties need it. ``llama_cpp`` picks
    what computes the llama.cpp order: ``"auto"`` (llama.cpp itself when llama-cpp-python is
    installed, else the port), ``"native"`` or ``"port"``. llama.cpp's XTC removes tokens only on
    the draws where its chance fires: ``xtc_fires`` says which case to compute (`generate` draws it).
    Mirostat cuts at its μ, which `generate` moves after each draw: ``mirostat_mu`` gives it per
    row (default: its first value, 2 τ).

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
    inputs = logits.float()
    check_finite(inputs)
    active = config.active()
    if context is None:
        penalties = [name for name in READS_CONTEXT if name in active]
        if penalties:
            raise ValueError(f"{', '.join(penalties)} act on the tokens before this one: pass them as "
                             "context=Context.of(prompt_ids)")
        context = Context.of([])
    outputs = engines.run(inputs.reshape(-1, inputs.shape[-1]), config.order, active, config.temperature,
                          llama_cpp, context, {**config.stage_settings(), "xtc_fires": xtc_fires,
                                               "mirostat_mu": None if mirostat_mu is None else tuple(mirostat_mu)})
    stages, scores = [], inputs
    for output in outputs:
        processed = output.logits.view(inputs.shape)
        engine_probs = None if output.probs is None else output.probs.view(inputs.shape)
        stages.append(Stage(output.name, output.value, scores, processed, output.note, engine_probs))
        scores = processed
    return Trace(config, inputs, tuple(stages), engines.implementation(config.order, llama_cpp),
                 tuple(config.ignored()))


def distribution_to_draw_from(logits: torch.Tensor, config: SamplingConfig, context: Context,
                               generator: torch.Generator, mirostat_mu: torch.Tensor | None = None
                               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The distribution each row of ``logits`` ``[batch, vocab]`` is drawn from, its final logits,
    and for each row whether llama.cpp's XTC fired: as `apply` computes them, except that XTC, when
    its probability is below 1, fires on each row with that probability (one uniform number per
    row from ``generator``; llama.cpp fires when its number is not above the probability), and
    mirostat cuts at each row's μ."""
    mu = None if mirostat_mu is None else mirostat_mu.tolist()
    trace = apply(logits, config, context=context, mirostat_mu=mu)
    probs, final = trace.probs, trace.final_logits
    fired = torch.ones(len(logits), dtype=torch.bool, device=logits.device)
    if "xtc_probability" in config.active() and config.xtc_probability < 1:
        chance = torch.rand(len(logits), generator=generator, device=generator.device).to(logits.device)
        fired = chance <= config.xtc_probability
        calm = apply(logits, config, context=context, xtc_fires=False)
        probs = torch.where(fired[:, None], probs, calm.probs)
        final = torch.where(fired[:, None], final, calm.final_logits)
    return probs, final, fired


def mirostat_update(mu: torch.Tensor, drawn_probability: torch.Tensor, config: SamplingConfig) -> torch.Tensor:
    """Mirostat v2's μ after a draw: ``μ − η (−log2 p − τ)`` in float32, ``p`` the drawn token's
    probability after the cut (``llama_sampler_mirostat_v2_apply``)."""
    surprise = -torch.log2(drawn_probability.float())
    return (mu - torch.tensor(config.mirostat_eta, dtype=torch.float32)
            * (surprise - torch.tensor(config.mirostat_tau, dtype=torch.float32))).float()


def chain(config: SamplingConfig) -> list[str]:
    """The names of the stages ``config`` runs, in its engine's order."""
    active = config.active()
    if config.order in ("llama.cpp", "custom"):
        order = engines.llama_cpp.chain_stages(config.samplers, mirostat=bool(config.mirostat))
    else:
        order = engines.ORDERS[config.order]
    names = [name for name in order if name in active]
    if config.greedy and config.order in ("transformers", "vllm"):
        return [*(name for name in names if name in GREEDY_PROCESSORS), "greedy"]
    return names


def check_finite(logits: torch.Tensor) -> None:
    """Refuse NaN, +inf, and rows where every token is already removed (nothing left to sample)."""
    if bool(torch.isnan(logits).any()) or not bool(torch.isfinite(logits.amax(dim=-1)).all()):
        raise ValueError(
            "logits contain NaN or +inf, or a row with every value -inf; the model's output is not "
            "usable (fp16 overflow is a common cause: try float32)"
        )


def sample(probs: torch.Tensor, n: int, seed: int | torch.Generator, limits: Limits = Limits()) -> torch.Tensor:
    """Draw ``n`` token ids (with replacement) from ``probs`` with a generator of its own.

    ``seed`` is an int, or a `torch.Generator` to continue drawing from (as generation does step
    by step). The global RNG is never touched, so concurrent callers do not change each other's
    draws. ``probs`` is ``[vocab]`` (returns ``[n]``) or ``[batch, vocab]`` (returns ``[batch, n]``).

    Each draw inverts the cumulative distribution (float64) at a uniform number: exactly the
    distribution ``probs``, and at a 152k vocabulary some 30 times cheaper than
    ``torch.multinomial`` on a CPU. A token of probability 0 is never drawn. ``n`` is at most
    ``limits.max_samples``.
    """
    check_count("n", n, limits.max_samples)
    if isinstance(seed, torch.Generator):
        generator = seed
    else:
        generator = torch.Generator(device=probs.device).manual_seed(int(seed))
    rows = probs.reshape(-1, probs.shape[-1]).double()
    cumulative = rows.cumsum(dim=-1)
    uniform = torch.rand(rows.shape[0], n, generator=generator, dtype=torch.float64, device=probs.device)
    ids = torch.searchsorted(cumulative, uniform * cumulative[:, -1:], right=True)
    beyond = ids >= rows.shape[-1]
    if bool(beyond.any()):  # a uniform that rounds up to the total: the last token that can be drawn
        last_possible = rows.shape[-1] - 1 - (rows.flip(-1) > 0).int().argmax(dim=-1, keepdim=True)
        ids = torch.where(beyond, last_possible, ids)
    return ids.reshape(*probs.shape[:-1], n)


def ties_at_cut(stage: Stage) -> dict[str, torch.Tensor]:
    """Where a stage's cut falls inside a group of exactly tied logits, per row.

    ``tied``: how many of the tokens entering the stage share the tied logit (0: the cut split no
    tie); ``kept``: how many of them the stage kept; ``logit``: the tied value. A cut splits a tie
    when it keeps some tokens of one logit value and removes others; top_k also reports a tie at the
    k-th value that its engine resolved by keeping every tied token (more than k kept).
    """
    rows_in = stage.logits_in.reshape(-1, stage.logits_in.shape[-1])
    rows_kept = stage.kept.reshape(rows_in.shape)
    tied, kept, value = [], [], []
    for logits_in, kept_row in zip(rows_in, rows_kept, strict=True):
        alive = logits_in > REMOVED
        removed_values = logits_in[alive & ~kept_row]
        split = removed_values[torch.isin(removed_values, logits_in[kept_row])]
        if len(split):
            boundary = split.max()
        elif stage.name == "top_k" and int(alive.sum()) > int(stage.value) > 0:
            kth, next_one = torch.topk(logits_in, int(stage.value) + 1).values[-2:]
            boundary = kth if kth == next_one else None
        else:
            boundary = None
        at_boundary = (logits_in == boundary) & alive if boundary is not None else torch.zeros_like(alive)
        tied.append(int(at_boundary.sum()))
        kept.append(int((at_boundary & kept_row).sum()))
        value.append(float(boundary) if boundary is not None else float("nan"))
    shape = stage.logits_in.shape[:-1]
    return {
        "tied": torch.tensor(tied).reshape(shape),
        "kept": torch.tensor(kept).reshape(shape),
        "logit": torch.tensor(value).reshape(shape),
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


def _explain_penalty(stage: Stage) -> dict[str, torch.Tensor | float]:
    return {"penalised": (stage.logits != stage.logits_in).sum(dim=-1)}


def _explain_weakest_kept(stage: Stage) -> dict[str, torch.Tensor | float]:
    """The probability of the weakest token kept (top-n-sigma and mirostat cut below it)."""
    probs = torch.softmax(stage.logits_in, dim=-1)
    return {"threshold_prob": probs.masked_fill(~stage.kept, torch.inf).amin(dim=-1)}


def _explain_xtc(stage: Stage) -> dict[str, torch.Tensor | float]:
    return {"removed": ((stage.logits_in > REMOVED) & ~stage.kept).sum(dim=-1)}


_EXPLAINERS: dict[str, Callable[[Stage], dict[str, torch.Tensor | float]]] = {
    **dict.fromkeys(CONTEXT_STAGES, _explain_penalty),
    "top_n_sigma": _explain_weakest_kept,
    "mirostat": _explain_weakest_kept,
    "xtc_probability": _explain_xtc,
    "temperature": _explain_temperature,
    "top_k": _explain_top_k,
    "top_p": _explain_top_p,
    "min_p": _explain_min_p,
    "typical_p": _explain_typical,
    "epsilon_cutoff": _explain_epsilon,
    "eta_cutoff": _explain_eta,
}
