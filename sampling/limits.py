"""Bounds on the work one call may ask for, checked inside the library on every public entry point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Bounds on the work one request may ask of a model. A shared server sets them low; the
    library checks them on every call (`load_model`'s handle, `sample`), so no caller can go
    around them."""

    max_prompt_chars: int = 1_000_000
    max_new_tokens: int = 4_096
    max_samples: int = 4_096
    max_work: int | None = None
    """A bound on one `generate` call's work, priced before it starts (`work_units`); None: none."""

    def __post_init__(self) -> None:
        for name in ("max_prompt_chars", "max_new_tokens", "max_samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.max_work is not None and (isinstance(self.max_work, bool) or not isinstance(self.max_work, int)
                                          or self.max_work < 1):
            raise ValueError(f"max_work must be a positive integer or None, got {self.max_work!r}")


class WorkCancelled(RuntimeError):
    """Model work stopped (between two steps, or two layers of a forward pass) because nobody
    waits for it any more."""


def check_cancelled(cancelled: Callable[[], bool] | None) -> None:
    if cancelled is not None and cancelled():
        raise WorkCancelled("stopped: nobody waits for this work any more")


SORTING_STAGES = frozenset({"top_p", "typical_p", "mirostat", "xtc_probability", "dry_multiplier"})
"""Stages whose cost per token is a sort (or a scan) of the vocabulary, about four softmaxes."""


def work_units(stages: frozenset[str] | set[str], n: int, steps: int, vocab: int) -> int:
    """The price of drawing ``n`` × ``steps`` tokens over a vocabulary of ``vocab`` with ``stages``:
    one unit per logit per step, four more for each stage that sorts or scans it."""
    return n * steps * vocab * (1 + 4 * len(SORTING_STAGES & set(stages)))


def check_work(limits: Limits, stages: frozenset[str] | set[str], n: int, steps: int, vocab: int) -> None:
    """Refuse, before it starts, a request that costs more than ``limits.max_work``, saying what fits."""
    if limits.max_work is None:
        return
    units = work_units(stages, n, steps, vocab)
    if units > limits.max_work:
        fits = max(limits.max_work // work_units(stages, n, 1, vocab), 0)
        raise ValueError(f"{n} samples of {steps} tokens over this model's {vocab:,}-token vocabulary with these "
                         f"samplers would cost {units:,} units of work; this server's limit is {limits.max_work:,}: "
                         + (f"ask for at most {fits} tokens per sample, or fewer samples" if fits
                            else "ask for fewer samples"))


def check_count(name: str, value: object, limit: int) -> None:
    """Refuse anything but a whole number from 1 to ``limit``, naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise ValueError(f"{name} must be an integer from 1 to {limit:,}, got {value!r}")
