"""Deployment settings, read from the environment (documented in the README's "Hosting")."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sampling.models import BUNDLED_MODELS, default_model_name

ALLOWED_MODELS_ENV = "SAMPLING_ALLOWED_MODELS"


@dataclass(frozen=True)
class Settings:
    models: tuple[str, ...]
    """The allow-list users pick from; the first is the default. No other model is ever loaded."""


def _dedupe(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for name in names if name))


def read_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    configured = [name.strip() for name in environ.get(ALLOWED_MODELS_ENV, "").split(",")]
    models = _dedupe(configured) or _dedupe([default_model_name(), *BUNDLED_MODELS])
    return Settings(models=models)
