"""Deployment settings, from environment variables or `st.secrets` (the README's "Hosting").

| variable | default | meaning |
|---|---|---|
| SAMPLING_ALLOWED_MODELS | the default model, the fetched and the bundled ones | comma-separated allow-list; the first is the default. Set but blank: an error |
| SAMPLING_OPEN_MODELS | | 1: the model box also takes any hub id or local path (unsafe on a shared server) |
| SAMPLING_MAX_PROMPT_CHARS | 4000 | longest prompt accepted |
| SAMPLING_MAX_NEW_TOKENS | 200 | longest continuation |
| SAMPLING_MAX_SAMPLES | 16 | continuations per panel |
| SAMPLING_MAX_CONCURRENT | 2 | model calls running at once in the process; others queue |
| SAMPLING_MAX_LOADED_MODELS | the size of the allow-list | models kept loaded at once (least recently used goes first) |
| SAMPLING_FAILED_MODEL_SECONDS | 300 | how long a model that failed to load is reported as failed before a new try |
| SAMPLING_SERVERS | | inference servers a panel can be checked against: ``name=engine+url`` comma-separated (engine llama.cpp or vllm); a bearer token in SAMPLING_SERVER_TOKEN_<NAME> |
| SAMPLING_MAX_WORK | 800,000,000 | the price one sampling request may have (samples × tokens × vocabulary × sampler cost) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sampling.fetch import fetched_models
from sampling.limits import Limits
from sampling.servers import servers_from_settings
from sampling.models import BUNDLED_MODELS, WELL_KNOWN_MODELS, default_model_name, hub_reachable, in_local_hub_cache

PREFIX = "SAMPLING_"
DEFAULTS = {"MAX_PROMPT_CHARS": 4000, "MAX_NEW_TOKENS": 200, "MAX_SAMPLES": 16, "MAX_CONCURRENT": 2,
            "FAILED_MODEL_SECONDS": 300, "MAX_WORK": 800_000_000}
"""MAX_WORK: 16 samples of 200 tokens over a 50,000-token vocabulary with top_p fit; on Gemma's
262,144 tokens the same request is refused before it starts, with what would fit."""


@dataclass(frozen=True)
class Settings:
    models: tuple[str, ...]
    """The models offered; the first is the default. With an allow-list, no other is ever loaded."""
    open_models: bool
    """The model box also takes any hub id or local path (`read_settings` says when)."""
    limits: Limits
    max_concurrent: int
    max_loaded_models: int
    """Models kept loaded at once; by default every model of the allow-list, so none is loaded twice."""
    failed_model_seconds: int
    servers: tuple = ()
    """Inference servers (`sampling.servers.Backend`) a panel can be checked against (``SAMPLING_SERVERS``)."""
    allow_listed: bool = False
    """The models come from an explicit allow-list (``SAMPLING_ALLOWED_MODELS``)."""


def _dedupe(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for name in names if name))


def _integer(source: Mapping[str, object], name: str, default: int | None = None) -> int:
    raw = source.get(PREFIX + name, DEFAULTS[name] if default is None else default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{PREFIX}{name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{PREFIX}{name} must be a positive integer, got {raw!r}")
    return value


def available_well_known_models() -> list[str]:
    """The well-known small models a local run can load: all of them when the hub answers, else
    the ones already in the local cache."""
    if hub_reachable():
        return list(WELL_KNOWN_MODELS)
    return [name for name in WELL_KNOWN_MODELS if in_local_hub_cache(name)]


def read_settings(*sources: Mapping[str, object], local_server: bool = False) -> Settings:
    """Settings from the first source that names each value (environment first by default).

    Closed by default: with no allow-list, only the default model, the fetched real models and the
    bundled ones are offered, and nothing else is ever loaded. The model box takes any hub id or
    path only with ``SAMPLING_OPEN_MODELS=1`` (unsafe on a shared server: a visitor could load any
    folder of the machine), or for a ``local_server`` (one listening on loopback only, not headless).
    A set but blank allow-list is an error, never "open"."""
    merged: dict[str, object] = {}
    for source in reversed(sources or (os.environ,)):
        merged.update({key: value for key, value in source.items() if str(key).startswith(PREFIX)})
    raw_allowed = merged.get(PREFIX + "ALLOWED_MODELS")
    configured = _dedupe([name.strip() for name in str(raw_allowed or "").split(",")])
    if raw_allowed is not None and not configured:
        raise ValueError(f"{PREFIX}ALLOWED_MODELS is set but names no model ({str(raw_allowed)[:40]!r}): list the "
                         f"models to allow, comma-separated, or unset it")
    open_models = not configured and (str(merged.get(PREFIX + "OPEN_MODELS", "")).strip() == "1" or local_server)
    if configured:
        models = configured
    elif open_models:
        models = _dedupe([default_model_name(), *fetched_models(), *BUNDLED_MODELS, *available_well_known_models()])
    else:
        models = _dedupe([default_model_name(), *fetched_models(), *BUNDLED_MODELS])
    limits = Limits(
        max_prompt_chars=_integer(merged, "MAX_PROMPT_CHARS"),
        max_new_tokens=_integer(merged, "MAX_NEW_TOKENS"),
        max_samples=_integer(merged, "MAX_SAMPLES"),
        max_work=_integer(merged, "MAX_WORK"),
    )
    return Settings(
        models=models,
        open_models=open_models,
        allow_listed=bool(configured),
        servers=tuple(replace(backend, token=str(merged.get(f"{PREFIX}SERVER_TOKEN_{name.upper()}", "")) or None)
                      for name, backend in servers_from_settings(str(merged.get(PREFIX + "SERVERS", ""))).items()),
        limits=limits,
        max_concurrent=_integer(merged, "MAX_CONCURRENT"),
        max_loaded_models=_integer(merged, "MAX_LOADED_MODELS", default=len(models)),
        failed_model_seconds=_integer(merged, "FAILED_MODEL_SECONDS"),
    )
