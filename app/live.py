"""The live temperature: a slider in the browser that redraws the panel's top tokens while it moves,
with no server round trip, and sets the panel's temperature when it is released (the server's
exact trace follows).

What it computes in the browser, exactly: ``softmax(logit / T)`` of each shown token over the whole
vocabulary, from the logits the temperature divides (after the logit bias and penalties) and
``log Z(T)`` and the entropy, which the server computes once per prompt and setting for every
position the slider can take (`sampling.metrics.temperature_table`). It shows temperature alone:
the panel's other samplers (top_k, top_p, min_p, …) apply on release, and the panel says so.
"""

from __future__ import annotations

import hashlib
import math
from functools import partial
from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components
import torch

import sampling
from app import state, tables
from app.text import t
from sampling.metrics import temperature_table
from sampling.pipeline import CONTEXT_STAGES

ROWS = 10
"""Tokens the live chart draws: the panel's most likely ones."""
_component = components.declare_component("live_temperature",
                                          path=str(Path(__file__).parent / "components" / "live_temperature"))


TEMPERATURE = state.SAMPLING_CONTROLS_BY_NAME["temperature"]


@st.cache_data(max_entries=32, show_spinner=False)
def slider_table(_logits: torch.Tensor, digest: str) -> dict:
    """log Z and the entropy at every position of the slider, for the logits the temperature
    divides (``digest`` names them: a move of any control that leaves them as they are, top_p or
    min_p, finds this table computed)."""
    positions = torch.arange(round((TEMPERATURE.high - TEMPERATURE.low) / TEMPERATURE.step) + 1, dtype=torch.float64)
    temperatures = TEMPERATURE.low + positions * TEMPERATURE.step
    positive = temperatures > 0  # T = 0 is greedy: no log Z, the largest logit alone has p = 1
    log_z, bits = torch.zeros(len(temperatures), dtype=torch.float64), torch.zeros(len(temperatures), dtype=torch.float64)
    log_z[positive], bits[positive] = temperature_table(_logits, temperatures[positive])
    return {"low": TEMPERATURE.low, "high": TEMPERATURE.high, "step": TEMPERATURE.step,
            "log_z": [float(value) if flag else None for flag, value in zip(positive.tolist(), log_z.tolist(), strict=True)],
            "entropy_bits": bits.tolist(), "greedy_max": float(_logits.max())}


def live_temperature(panel: str, trace: sampling.Trace, config: sampling.SamplingConfig,
                     labels: tuple[str, ...], ids: tuple[int, ...], lang: str) -> None:
    """The live slider and chart of one panel, at the panel's temperature."""
    logits = tables.adjusted_logits(trace)
    table = slider_table(logits, hashlib.blake2b(logits.numpy().tobytes(), digest_size=16).hexdigest())
    rows = [{"label": label, "logit": float(logits[token])} for label, token in zip(labels[:ROWS], ids[:ROWS], strict=True)]
    others = [name for name in config.active() if name != "temperature" and name not in CONTEXT_STAGES]
    # {entropy} stays for the browser to fill at each position.
    figure = t(lang, "live_figure_others" if others else "live_figure", others=", ".join(others), entropy="{entropy}")
    _component(**table, rows=rows, value=config.temperature, label=t(lang, "live_label"),
               # A component passes every keyword to the browser, ``args`` too: the panel goes in a partial.
               figure=figure, key=state.panel_key(panel, "live"), on_change=partial(apply_live, panel), default=None,
               height=LIVE_HEIGHT)


LIVE_HEIGHT = 70 + 15 * ROWS
"""The same in both panels, so that they line up."""


def apply_live(panel: str) -> None:
    """On release: the panel's temperature becomes the live slider's (a value the slider can take;
    anything else a crafted client sends is ignored)."""
    value = st.session_state.get(state.panel_key(panel, "live"))
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and math.isfinite(value) and TEMPERATURE.low <= value <= TEMPERATURE.high:
        step = TEMPERATURE.step
        st.session_state[state.panel_key(panel, "temperature")] = round(round(value / step) * step, 10)
