"""What every engine module provides: stages as pure functions on ``[batch, vocab]`` float32 logits.

As in llama.cpp's sampler chain, a stage has one interface (logits in, logits out, ``-inf`` where a
token was removed) and a chain is an ordered list of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import torch

Transform = Callable[[torch.Tensor], torch.Tensor]
REMOVED = float("-inf")


PENALTIES = ("repetition_penalty", "frequency_penalty", "presence_penalty")
"""The stages that act on the context: the tokens already there, not the distribution's shape."""


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """The text of every token (decoded on first use), and the tokenizer's ``encode`` without
    special tokens: what turns DRY's sequence breakers, which are text, into tokens."""

    decode_each: Callable[[], Sequence[str]]
    encode: Callable[[str], list[int]]

    @cached_property
    def texts(self) -> tuple[str, ...]:
        return tuple(self.decode_each())


@dataclass(frozen=True)
class Context:
    """The tokens before the one being drawn: the prompt's, shared by every row, then the tokens
    each row generated so far (``[batch, steps]``; zero steps for the next token after a prompt).

    Engines count them differently, so both parts are kept: transformers penalises every token of
    the input, vLLM's repetition penalty the prompt's and the output's while its frequency and
    presence penalties count the output only, and llama.cpp the last ``penalty_last_n`` of all.
    """

    prompt: torch.Tensor
    generated: torch.Tensor
    vocabulary: Vocabulary | None = field(default=None, compare=False)
    """The model's tokens as text, for DRY's sequence breakers."""

    @classmethod
    def of(cls, prompt: Sequence[int] | torch.Tensor, generated: torch.Tensor | None = None,
           vocabulary: Vocabulary | None = None) -> Context:
        """A context from the prompt's token ids and, optionally, ``[batch, steps]`` generated ids
        and the model's `Vocabulary` (needed by DRY's sequence breakers)."""
        prompt = torch.as_tensor(prompt, dtype=torch.long).reshape(-1)
        generated = torch.zeros((1, 0), dtype=torch.long) if generated is None else generated.long()
        if generated.dim() != 2:
            raise ValueError(f"generated token ids must be [batch, steps], got shape {tuple(generated.shape)}")
        return cls(prompt.cpu(), generated.cpu(), vocabulary)

    def rows(self, batch: int) -> torch.Tensor:
        """Prompt then generated ids, ``[batch, length]``, for ``batch`` rows of logits."""
        generated = self.generated.expand(batch, -1) if len(self.generated) == 1 else self.generated
        if len(generated) != batch:
            raise ValueError(f"the context has {len(generated)} rows of generated tokens for {batch} rows of logits")
        return torch.cat([self.prompt.expand(batch, -1), generated], dim=1)

    def generated_rows(self, batch: int) -> torch.Tensor:
        return self.rows(batch)[:, len(self.prompt):]


EMPTY_CONTEXT = Context.of([])


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
    probs: torch.Tensor | None = None
    """The distribution after this stage where the engine normalises otherwise than by a float32
    softmax of ``logits`` (llama.cpp's ``dist``, given on the last stage); None elsewhere."""


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
