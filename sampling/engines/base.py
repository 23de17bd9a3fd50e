"""What every engine module provides: stages as pure functions on ``[batch, vocab]`` float32 logits.

As in llama.cpp's sampler chain, a stage has one interface (logits in, logits out, ``-inf`` where a
token was removed) and a chain is an ordered list of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

Transform = Callable[[torch.Tensor], torch.Tensor]
REMOVED = float("-inf")


@dataclass(frozen=True)
class Step:
    """One stage of a chain: its name, the value it runs with and what it does to the logits."""

    name: str
    value: float
    transform: Transform
    note: str = ""
    """Where the engine runs with another value than the one it was given, and why."""


@dataclass(frozen=True)
class StageOutput:
    """The logits after one stage of a chain."""

    name: str
    value: float
    logits: torch.Tensor
    note: str = ""


def run_steps(steps: Sequence[Step], logits: torch.Tensor) -> list[StageOutput]:
    """Apply ``steps`` one after the other to ``logits`` ``[batch, vocab]``."""
    outputs = []
    for step in steps:
        logits = step.transform(logits)
        outputs.append(StageOutput(step.name, step.value, logits, step.note))
    return outputs


def greedy(scores: torch.Tensor) -> torch.Tensor:
    """Keep only the most likely token of each row; the first (lowest id) among equal maxima,
    as ``torch.argmax`` picks it in transformers and vLLM."""
    best = scores.argmax(dim=-1, keepdim=True)
    return torch.full_like(scores, REMOVED).scatter(-1, best, scores.gather(-1, best))
