"""vLLM's sampler (V1, 0.33.0) on its PyTorch path: the path vLLM takes on a CPU, and on GPUs
where neither its Triton kernel nor FlashInfer is used.

vLLM cannot be installed beside the CPU build of torch, so its rules are transcribed here, each
from the file named beside it, and checked by hand-worked tests:

- ``sampling_params.py``: 0 < T < 0.01 is raised to 0.01 (``_MAX_TEMP``, with a warning); only
  T = 0 is greedy (``_SAMPLING_EPS`` = 1e-5 after that raise); T > 2 is an error; top_k 0 or -1
  is off; greedy resets top_p, top_k and min_p.
- ``v1/worker/gpu_input_batch.py``: top_p and min_p are stored as float32 (0.99999999 becomes 1);
  top_p runs when the request's own value is below 1; top_k runs when 0 < k < vocabulary.
- ``v1/sample/sampler.py``: float32 logits; the logit bias first (``LogitBiasLogitsProcessor``,
  a float32 addition; the OpenAI server's ``SamplingParams.from_optional`` clamps each bias to
  [-100, 100]), then the penalties
  (``apply_logits_processors``), then temperature by float32 division, min_p, top_k and top_p; greedy is the argmax of the
  penalised logits before temperature.
- ``model_executor/layers/utils.py`` (``apply_penalties``) and ``_custom_ops.py``
  (``apply_repetition_penalties_torch``): the repetition penalty scales the logit of every token
  in the prompt or the output by ``1 / penalty`` where the logit is positive and by ``penalty``
  elsewhere; then ``logits -= frequency * count`` and ``logits -= presence * (count > 0)``, with
  counts of the **output** tokens only: the prompt's tokens never get frequency or presence
  penalties.
- ``v1/sample/logits_processor/builtin.py`` (``MinPLogitsProcessor``): removes
  ``p < p_max * min_p`` in float32.
- ``v1/sample/ops/topk_topp_sampler.py`` (``apply_top_k_top_p_pytorch``, ``apply_top_k_only``):
  top_k removes logits strictly below the k-th largest, so every tie with the k-th is kept; top_p
  sorts ascending, removes ``cumsum(softmax) <= 1 - p`` computed as float32 ``1 - p``, and always
  keeps the largest. With both, one sort serves top_k and then top_p, so that sort's order decides
  which tied token top_p cuts.

On GPUs vLLM breaks ties differently (see ``TIE_RULES`` in `sampling.pipeline`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sampling.engines.base import REMOVED, Context, Step, Transform, greedy

VERSION = "0.33.0"
IMPLEMENTATION = f"vLLM {VERSION}: its PyTorch (CPU) path, transcribed"
ORDER = ("logit_bias", "repetition_penalty", "frequency_penalty", "presence_penalty", "temperature", "min_p", "top_k", "top_p")
MIN_TEMPERATURE = 0.01
"""``_MAX_TEMP`` in vLLM's ``sampling_params.py``: any 0 < T below it is raised to it."""
MAX_TEMPERATURE = 2.0
"""``SamplingParams`` refuses a higher temperature."""


def _float32(value: float, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.float32, device=like.device)


def _temperature(value: float) -> Transform:
    return lambda logits: logits / _float32(value, logits)


def _min_p(value: float) -> Transform:
    def transform(logits: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(logits, dim=-1)
        threshold = probs.amax(dim=-1, keepdim=True) * _float32(value, logits)
        return logits.masked_fill(probs < threshold, REMOVED)

    return transform


def _top_k(value: float) -> Transform:
    k = int(value)

    def transform(logits: torch.Tensor) -> torch.Tensor:
        if k >= logits.shape[-1]:
            return logits
        kth_largest = logits.topk(k, dim=-1).values[..., -1:]
        return logits.masked_fill(logits < kth_largest, REMOVED)

    return transform


def _top_p(value: float, shared_sort: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None) -> Transform:
    """``cumsum(softmax) <= 1 - p`` removed on one ascending sort, the largest always kept. After
    top_k, ``apply_top_k_top_p_pytorch`` reuses top_k's sort (``shared_sort``): which of several
    tied tokens is cut at the boundary follows that sort's order, not a new one's."""
    def transform(logits: torch.Tensor) -> torch.Tensor:
        ascending, order = shared_sort.pop("sort") if shared_sort else logits.sort(dim=-1, descending=False)
        cumulative = ascending.softmax(dim=-1).cumsum(dim=-1)
        remove = cumulative <= 1 - _float32(value, logits)
        remove[..., -1] = False
        ascending = ascending.masked_fill(remove, REMOVED)
        return ascending.scatter(-1, order, ascending)

    return transform


def _sorted_top_k(value: float, shared_sort: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> Transform:
    """top_k as ``apply_top_k_top_p_pytorch`` does it when top_p follows: one ascending sort, every
    logit below the k-th largest removed (ties with it kept), the sort kept for top_p."""
    k = int(value)

    def transform(logits: torch.Tensor) -> torch.Tensor:
        ascending, order = logits.sort(dim=-1, descending=False)
        if k < logits.shape[-1]:
            kth_largest = ascending[..., logits.shape[-1] - k:logits.shape[-1] - k + 1]
            ascending = ascending.masked_fill(ascending < kth_largest, REMOVED)
        shared_sort["sort"] = (ascending, order)
        return ascending.scatter(-1, order, ascending)

    return transform


def _bins(tokens: torch.Tensor, vocab: int) -> torch.Tensor:
    """``get_token_bin_counts_and_mask``: per row, how often each token id occurs."""
    counts = torch.zeros((len(tokens), vocab + 1), dtype=torch.long, device=tokens.device)
    counts.scatter_add_(1, tokens.clamp(max=vocab), torch.ones_like(tokens))
    return counts[:, :vocab]


def _repetition_penalty(value: float, context: Context) -> Transform:
    def transform(logits: torch.Tensor) -> torch.Tensor:
        tokens = context.rows(len(logits)).to(logits.device)
        seen = _bins(tokens, logits.shape[-1]) > 0
        penalties = torch.where(seen, _float32(value, logits), 1.0)
        return logits * torch.where(logits > 0, 1.0 / penalties, penalties)

    return transform


def _frequency_penalty(value: float, context: Context) -> Transform:
    def transform(logits: torch.Tensor) -> torch.Tensor:
        counts = _bins(context.generated_rows(len(logits)).to(logits.device), logits.shape[-1])
        return logits - _float32(value, logits) * counts

    return transform


def _presence_penalty(value: float, context: Context) -> Transform:
    def transform(logits: torch.Tensor) -> torch.Tensor:
        present = _bins(context.generated_rows(len(logits)).to(logits.device), logits.shape[-1]) > 0
        return logits - _float32(value, logits) * present

    return transform


PENALTY_STAGES: dict[str, Callable[[float, Context], Transform]] = {
    "repetition_penalty": _repetition_penalty,
    "frequency_penalty": _frequency_penalty,
    "presence_penalty": _presence_penalty,
}

STAGES: dict[str, Callable[[float], Transform]] = {
    "temperature": _temperature,
    "min_p": _min_p,
    "top_k": _top_k,
    "top_p": _top_p,
}


LOGIT_BIAS_CLAMP = 100.0
"""``SamplingParams.from_optional`` (the OpenAI-compatible server's path) clamps each bias to ±100;
``SamplingParams(...)`` built directly adds it unclamped. The server's path is the one computed."""


def _logit_bias(biases: tuple[tuple[int, float], ...]) -> Transform:
    def transform(logits: torch.Tensor) -> torch.Tensor:
        ids = torch.tensor([token for token, _ in biases], device=logits.device)
        values = torch.tensor([min(max(bias, -LOGIT_BIAS_CLAMP), LOGIT_BIAS_CLAMP) for _, bias in biases],
                              dtype=torch.float32, device=logits.device)
        biased = logits.clone()
        biased[:, ids] += values
        return biased

    return transform


def steps(active: dict[str, float], temperature: float, context: Context,
          biases: tuple[tuple[int, float], ...] = ()) -> list[Step]:
    """vLLM's stages for the settings ``active`` switches on. Greedy (T = 0) ignores the filters,
    as vLLM resets them, but not the logit bias and the penalties; a tiny temperature runs as 0.01."""
    penalties = [Step(name, active[name], PENALTY_STAGES[name](active[name], context))
                 for name in PENALTY_STAGES if name in active]
    if "logit_bias" in active:
        clamped = [token for token, bias in biases if abs(bias) > LOGIT_BIAS_CLAMP]
        note = (f"vLLM's OpenAI server clamps each bias to ±{LOGIT_BIAS_CLAMP:g} (SamplingParams.from_optional): "
                f"{len(clamped)} clamped" if clamped else "")
        penalties.insert(0, Step("logit_bias", active["logit_bias"], _logit_bias(biases), note))
    if temperature == 0:
        return [*penalties, Step("greedy", 0.0, greedy)]
    values, notes = dict(active), {}
    if "top_p" in values and float(torch.tensor(values["top_p"], dtype=torch.float32)) == 1:
        notes["top_p"] = f"vLLM stores top_p as float32: {values['top_p']!r} becomes 1"
    if "temperature" in values and values["temperature"] < MIN_TEMPERATURE:
        notes["temperature"] = f"vLLM raises temperature {values['temperature']:g} to {MIN_TEMPERATURE:g}"
        values["temperature"] = MIN_TEMPERATURE
    transforms = {name: STAGES[name](values[name]) for name in STAGES if name in values}
    if "top_k" in values and "top_p" in values:
        shared_sort: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        transforms["top_k"] = _sorted_top_k(values["top_k"], shared_sort)
        transforms["top_p"] = _top_p(values["top_p"], shared_sort)
    return [*penalties, *(Step(name, values[name], transforms[name], notes.get(name, ""))
                          for name in ORDER if name in transforms)]
