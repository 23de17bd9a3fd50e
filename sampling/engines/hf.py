"""transformers' own logits processors, in the order `generate()` builds them: the logit bias
(``sequence_bias`` of single tokens) and the repetition penalty (processors, so they run in greedy
decoding too), then the warpers of ``do_sample=True``.

The stages are the classes of ``transformers.generation.logits_process`` themselves, not copies.
The repetition penalty divides a positive logit (multiplies a negative one) of every token that
occurs anywhere in the input, prompt and generated tokens alike, once however often it occurs.
"""

from __future__ import annotations

from collections.abc import Callable

import transformers
from transformers.generation.logits_process import (
    EpsilonLogitsWarper,
    EtaLogitsWarper,
    LogitsProcessor,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    SequenceBiasLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

from sampling.engines.base import Context, Step, Transform, greedy

IMPLEMENTATION = f"transformers {transformers.__version__}: its own logits warpers"
ORDER = ("logit_bias", "repetition_penalty", "temperature", "top_k", "top_p", "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff")


def _warper(processor: LogitsProcessor) -> Transform:
    # These warpers never read input_ids.
    return lambda scores: processor(None, scores)


STAGES: dict[str, Callable[[float], Transform]] = {
    "temperature": lambda value: _warper(TemperatureLogitsWarper(float(value))),
    "top_k": lambda value: _warper(TopKLogitsWarper(top_k=int(value))),
    "top_p": lambda value: _warper(TopPLogitsWarper(top_p=float(value))),
    "min_p": lambda value: _warper(MinPLogitsWarper(min_p=float(value))),
    "typical_p": lambda value: _warper(TypicalLogitsWarper(mass=float(value))),
    "epsilon_cutoff": lambda value: _warper(EpsilonLogitsWarper(epsilon=float(value))),
    # The warper keeps its threshold on the device it is given: the device of the logits.
    "eta_cutoff": lambda value: lambda scores: EtaLogitsWarper(epsilon=float(value), device=scores.device)(None, scores),
}


def _repetition_penalty(value: float, context: Context) -> Transform:
    processor = RepetitionPenaltyLogitsProcessor(penalty=float(value))
    return lambda scores: processor(context.rows(len(scores)).to(scores.device), scores)


def _logit_bias(biases: tuple[tuple[int, float], ...], context: Context) -> Transform:
    processor = SequenceBiasLogitsProcessor(sequence_bias={(token,): bias for token, bias in biases})
    return lambda scores: processor(context.rows(len(scores)).to(scores.device), scores)


def steps(active: dict[str, float], temperature: float, context: Context,
          biases: tuple[tuple[int, float], ...] = ()) -> list[Step]:
    """The processors ``active`` switches on, in transformers' order; when temperature is 0
    (``do_sample=False``) the logit bias and the repetition penalty, then the most likely token:
    no warper runs."""
    processors = []
    if "logit_bias" in active:
        processors.append(Step("logit_bias", active["logit_bias"], _logit_bias(biases, context)))
    if "repetition_penalty" in active:
        processors.append(Step("repetition_penalty", active["repetition_penalty"],
                               _repetition_penalty(active["repetition_penalty"], context)))
    if temperature == 0:
        return [*processors, Step("greedy", 0.0, greedy)]
    warpers = [Step(name, active[name], STAGES[name](active[name])) for name in ORDER[2:] if name in active]
    return [*processors, *warpers]
