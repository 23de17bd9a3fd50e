"""Bounds on the work one call may ask for, checked inside the library on every public entry point."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Bounds on the work one request may ask of a model. A shared server sets them low; the
    library checks them on every call (`load_model`'s handle, `sample`), so no caller can go
    around them."""

    max_prompt_chars: int = 1_000_000
    max_new_tokens: int = 4_096
    max_samples: int = 4_096

    def __post_init__(self) -> None:
        for name in ("max_prompt_chars", "max_new_tokens", "max_samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_count(name: str, value: object, limit: int) -> None:
    """Refuse anything but a whole number from 1 to ``limit``, naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise ValueError(f"{name} must be an integer from 1 to {limit:,}, got {value!r}")
