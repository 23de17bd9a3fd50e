"""transformers' own warpers, in the order `generate(do_sample=True)` builds them.

The stages are the classes of ``transformers.generation.logits_process`` themselves, not copies.
"""

from __future__ import annotations

from collections.abc import Callable

import transformers
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

from sampling.engines.base import Step, Transform, greedy

IMPLEMENTATION = f"transformers {transformers.__version__}: its own logits warpers"
ORDER = ("temperature", "top_k", "top_p", "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff")


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


def steps(active: dict[str, float], temperature: float) -> list[Step]:
    """The warpers ``active`` switches on, in transformers' order; greedy when temperature is 0
    (``do_sample=False``: no warper runs)."""
    if temperature == 0:
        return [Step("greedy", 0.0, greedy)]
    return [Step(name, active[name], STAGES[name](active[name])) for name in ORDER if name in active]
