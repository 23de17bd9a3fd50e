"""What the page shares across sessions: the deployment's settings, the loaded models, next-token
logits, generations, and the slots that bound concurrent model work. Caches live here, at the edge,
never in `sampling`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

import sampling
from app.registry import ModelRegistry
from app.settings import Settings, read_settings
from app.slots import ModelSlots, shared_slots
from app.text import t
from sampling.memory import return_large_blocks_to_the_system
from sampling.models import Generation, ModelHandle, NextToken

# One request's large tensors go back to the system when freed instead of fragmenting the heap.
return_large_blocks_to_the_system()


def _secrets() -> dict:
    """`st.secrets` as a dict; empty when the deployment has no secrets file."""
    try:
        return dict(st.secrets)
    except Exception:  # noqa: BLE001 - a missing or unreadable secrets file means no secrets
        return {}


def settings() -> Settings:
    """The deployment's settings: environment first, then `st.secrets` (read on every run)."""
    return read_settings(os.environ, _secrets())


def model_slots() -> ModelSlots:
    return shared_slots(settings().max_concurrent)


@st.cache_resource(show_spinner=False)
def _registry(current: Settings) -> ModelRegistry:
    def load(name: str) -> ModelHandle:
        return sampling.load_model(name, allowed=current.models, limits=current.limits)

    return ModelRegistry(load, current.max_loaded_models, current.failed_model_seconds,
                         shared_slots(current.max_concurrent))


def registry() -> ModelRegistry:
    """The process-wide models of the current settings."""
    return _registry(settings())


def model(name: str) -> ModelHandle:
    """A loaded model (raises `sampling.ModelLoadError`, also for a recent failure)."""
    return registry().get(name)


@st.cache_data(max_entries=256, show_spinner=False)
def next_token(name: str, prompt: str) -> NextToken:
    handle = model(name)
    with model_slots().hold():
        return handle.next_token_logits(prompt)


@st.cache_data(max_entries=128, show_spinner=False)
def generation(name: str, prompt: str, config: sampling.SamplingConfig, samples: int, length: int,
               seed: int) -> Generation:
    handle = model(name)
    with model_slots().hold():
        return handle.generate(prompt, config, n=samples, max_new_tokens=length, seed=seed)


@contextmanager
def queue_notice(lang: str) -> Iterator[None]:
    """When every model slot is busy, tell the user they are queued while they wait, and afterwards
    how long it took; otherwise show nothing."""
    placeholder = st.empty()
    queued = model_slots().full
    if queued:
        placeholder.info(t(lang, "queued"), icon="⏳")
    started = time.perf_counter()
    try:
        yield
    finally:
        if queued:
            placeholder.caption(t(lang, "waited", seconds=time.perf_counter() - started))
        else:
            placeholder.empty()
