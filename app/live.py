"""The live samplers: temperature, top_k, top_p and min_p sliders in the browser that redraw the
panel's top tokens while they move, with no server round trip, and set the panel's control when
released (the server's exact trace follows).

What the browser computes (``components/live_samplers/view.js``), and where it defers:

- From the server, once per prompt and setting: the panel's ``LIVE_TOKENS`` most likely logits
  and their ids, after the logit bias and penalties (the stages that only move logits, where they
  run before the four); ``log Z`` and the entropy over the whole vocabulary at every temperature
  the slider can take and at the panel's own (`whole_vocabulary`); for llama.cpp, the float32 sum
  its softmax adds up over the whole vocabulary at each of them.
- In the browser: the four stages in the engine's order with its rules (transformers and vLLM
  keep every token tied with the k-th at top_k, llama.cpp exactly k; vLLM raises a tiny
  temperature to 0.01; T 0 keeps the most likely token). llama.cpp's top_p and min_p are computed
  in its float32, with its sums, so they cut where it cuts (its running sum over SmolLM2's 49,152
  tokens reaches top_p 0.99 eleven tokens before float64's); transformers' and vLLM's in float64,
  where their float32 softmax can move a cut only within its rounding of top_p. Every shown
  probability is over the whole vocabulary, and so is the entropy.
- Deferred to the server, said on the panel: a cut that needs more than the tokens sent (top_p or
  min_p near 1 on a flat distribution), a cut between tied tokens (the engine's sort decides which
  survive), and the other stages (typical_p, XTC, mirostat, dynamic temperature, penalties that
  run after a cut in a custom order), named on the panel.
"""

from __future__ import annotations

import base64
import hashlib
import math
from functools import partial
from pathlib import Path

import numpy as np
import streamlit as st
import streamlit.components.v1 as components
import torch

import sampling
from app import state, tables
from app.tables import Labeller
from app.text import t
from sampling.config import LLAMA_ORDERS
from sampling.engines import llama_cpp, vllm
from sampling.metrics import temperature_table
from sampling.pipeline import CONTEXT_STAGES, chain
from sampling.tokens import unique_labels

ROWS = 10
"""Tokens the live chart draws: the panel's most likely ones."""
LIVE_TOKENS = 4096
"""The most likely logits the browser gets (16 KiB): every cut within them is computed there."""
LIVE_STAGES = ("temperature", "top_p", "top_k", "min_p")
"""The stages the browser computes, as its sliders stand: the panel's two main ones, then the filters."""
CONTROLS = tuple(state.SAMPLING_CONTROLS_BY_NAME[name] for name in LIVE_STAGES)
TEMPERATURE = CONTROLS[0]
_component = components.declare_component("live_samplers",
                                          path=str(Path(__file__).parent / "components" / "live_samplers"))


def browser_data(logits: torch.Tensor, sent: int = LIVE_TOKENS, for_llama_cpp: bool = False) -> dict:
    """What the browser needs of ``logits`` ``[vocab]`` (the logits the live stages start from):
    the ``sent`` most likely of them, sorted, and their ids, as base64 float32 and int32; the
    first ids, for the chart's rows; the number the engine can draw; and the whole vocabulary's
    figures (`whole_vocabulary`) at every position of the temperature slider and at 1."""
    positions = torch.arange(round((TEMPERATURE.high - TEMPERATURE.low) / TEMPERATURE.step) + 1, dtype=torch.float64)
    drawable = int((logits > float("-inf")).sum())
    top = torch.topk(logits, min(sent, drawable))
    return {"logits": _base64(top.values.numpy().astype("<f4")), "ids": _base64(top.indices.numpy().astype("<i4")),
            "top_ids": top.indices[:ROWS].tolist(), "vocab": drawable,
            "table": {"low": TEMPERATURE.low, "step": TEMPERATURE.step,
                      "entries": whole_vocabulary(logits, (TEMPERATURE.low + positions * TEMPERATURE.step).tolist(),
                                                  for_llama_cpp)},
            "unit": whole_vocabulary(logits, [1.0], for_llama_cpp)[0]}


def whole_vocabulary(logits: torch.Tensor, temperatures: list[float], for_llama_cpp: bool) -> list[dict | None]:
    """For each temperature (None at T 0, which is greedy): log Z and the entropy (bits) of
    ``softmax(logits / T)`` over the whole vocabulary, in float64; for llama.cpp also the float32
    sum its softmax adds up over every candidate in id order (`llama_cpp.softmax_sum`)."""
    entries: list[dict | None] = [None] * len(temperatures)
    positive = [index for index, temperature in enumerate(temperatures) if temperature > 0]
    if not positive:
        return entries
    log_z, bits = temperature_table(logits, torch.tensor([temperatures[index] for index in positive], dtype=torch.float64))
    for index, entry_log_z, entry_bits in zip(positive, log_z.tolist(), bits.tolist(), strict=True):
        entries[index] = {"temperature": temperatures[index], "log_z": entry_log_z, "entropy_bits": entry_bits}
        if for_llama_cpp:
            entries[index]["llama_sum"] = llama_cpp.softmax_sum(logits.numpy(), temperatures[index])
    return entries


def _base64(values: np.ndarray) -> str:
    return base64.b64encode(values.tobytes()).decode("ascii")


@st.cache_data(max_entries=32, show_spinner=False)
def slider_table(_logits: torch.Tensor, digest: str, for_llama_cpp: bool) -> dict:
    """`browser_data`, once per logits and engine: ``digest`` names the logits, so that a move of a
    live control, which leaves them as they are, finds it computed."""
    return browser_data(_logits, for_llama_cpp=for_llama_cpp)


def live_chain(config: sampling.SamplingConfig) -> tuple[list[str], list[str], list[str]]:
    """For ``config``'s engine: the live stages in its order (whatever their values now), the
    stages that move logits before all of them (folded into the logits sent), and the active
    stages the browser leaves to the server."""
    every = chain(config.with_values(temperature=0.5, top_k=1, top_p=0.5, min_p=0.5))
    live = [name for name in every if name in LIVE_STAGES]
    if config.order in LLAMA_ORDERS and config.dynatemp_range > 0:
        live.remove("temperature")  # llama.cpp's dynamic temperature reads the entropy of the candidates
    first = min((every.index(name) for name in live), default=len(every))
    folded = [name for name in every[:first] if name in CONTEXT_STAGES]
    others = [name for name in chain(config) if name not in (*live, *folded, "greedy")]
    return live, folded, others


def live_samplers(panel: str, trace: sampling.Trace, config: sampling.SamplingConfig, labeller: Labeller,
                  lang: str) -> None:
    """The live sliders and chart of one panel, at the panel's values."""
    live, folded, others = live_chain(config)
    logits = tables.adjusted_logits(trace, moved_by=folded)
    digest = hashlib.blake2b(logits.numpy(), digest_size=16).hexdigest()
    for_llama_cpp = config.order in LLAMA_ORDERS
    table = dict(slider_table(logits, digest, for_llama_cpp))
    ids = table.pop("top_ids")
    # A value off the slider's steps (from the URL or a model's defaults) is shown as it is until
    # the slider moves: its whole-vocabulary figures too (on a step, the table has them).
    temperature = config.temperature
    if config.order == "vllm" and temperature > 0:
        temperature = max(temperature, vllm.MIN_TEMPERATURE)
    step = round((temperature - TEMPERATURE.low) / TEMPERATURE.step)
    if not math.isclose(TEMPERATURE.low + step * TEMPERATURE.step, temperature, abs_tol=1e-9):
        [table["current"]] = whole_vocabulary(logits, [temperature], for_llama_cpp)
    template = t(lang, "live_figure_others" if others else "live_figure", others=", ".join(others),
                 entropy="{entropy}", kept="{kept}")  # {entropy} and {kept} stay for the browser to fill
    texts = {"figure": template,
             "deferred": {reason: t(lang, f"live_deferred_{reason}", stage="{stage}", sent="{sent}")
                          for reason in ("tail", "tie")}}
    controls = [{"name": control.name, "label": control.name if control.name != "temperature" else "T",
                 "low": control.low, "high": control.high, "step": control.step} for control in CONTROLS]
    _component(**table, rows=unique_labels(labeller(ids), ids), chain=live,
               engine="llama.cpp" if config.order in LLAMA_ORDERS else config.order,
               values={name: getattr(config, name) for name in LIVE_STAGES}, controls=controls, texts=texts,
               height=LIVE_HEIGHT,
               # A component passes every keyword to the browser, ``args`` too: the panel goes in a partial.
               key=state.panel_key(panel, "live"), on_change=partial(apply_live, panel), default=None)


LIVE_HEIGHT = 120 + 15 * ROWS
"""The live view's least height: the same in both panels, so that the charts below them line up."""


def apply_live(panel: str) -> None:
    """On release: the released slider's control takes its value, when it is a value that slider
    can take (anything else a crafted client sends is ignored)."""
    released = st.session_state.get(state.panel_key(panel, "live"))
    if not isinstance(released, dict) or released.get("name") not in LIVE_STAGES:
        return
    control, value = state.SAMPLING_CONTROLS_BY_NAME[released["name"]], released.get("value")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and math.isfinite(value) and control.low <= value <= control.high:
        snapped = round(round((value - control.low) / control.step) * control.step + control.low, 10)
        st.session_state[state.panel_key(panel, control.name)] = int(snapped) if control.integer else snapped
