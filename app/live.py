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

ROWS = 10
"""Tokens the live chart draws: the panel's most likely ones."""
_component = components.declare_component("live_temperature",
                                          path=str(Path(__file__).parent / "components" / "live_temperature"))


@st.cache_data(max_entries=32, show_spinner=False)
def live_rows(_trace: sampling.Trace, key: tuple, labels: tuple[str, ...], ids: tuple[int, ...]) -> dict:
    """What the browser needs, computed once per prompt and setting (``key``): the shown tokens'
    logits as the temperature divides them, and log Z and the entropy at every slider position."""
    control = next(control for control in state.SAMPLING_CONTROLS if control.name == "temperature")
    positions = torch.arange(round((control.high - control.low) / control.step) + 1, dtype=torch.float64)
    temperatures = control.low + positions * control.step
    logits = tables.adjusted_logits(_trace)
    positive = temperatures > 0
    log_z, bits = temperature_table(logits, temperatures[positive])
    # T = 0 is greedy (no log Z: the largest logit alone has p = 1).
    return {"low": control.low, "high": control.high, "step": control.step,
            "rows": [{"label": label, "logit": float(logits[token])} for label, token in zip(labels, ids, strict=True)],
            "log_z": [float(value) if flag else None for flag, value in
                      zip(positive.tolist(), _fill(log_z, positive).tolist(), strict=True)],
            "entropy_bits": _fill(bits, positive).tolist(), "greedy_max": float(logits.max())}


def _fill(values: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """``values`` at the positions ``where`` is true, 0 elsewhere."""
    full = torch.zeros(len(where), dtype=values.dtype)
    full[where] = values
    return full


def live_temperature(panel: str, trace: sampling.Trace, config: sampling.SamplingConfig, key: tuple,
                     labels: tuple[str, ...], ids: tuple[int, ...], lang: str) -> None:
    """The live slider and chart of one panel, at the panel's temperature."""
    others = [name for name in config.active() if name not in ("temperature", "logit_bias", "repetition_penalty",
                                                                "frequency_penalty", "presence_penalty")]
    # {entropy} stays for the browser to fill at each position.
    figure = t(lang, "live_figure_others" if others else "live_figure", others=", ".join(others), entropy="{entropy}")
    _component(**live_rows(trace, key, labels[:ROWS], ids[:ROWS]), value=config.temperature, label=t(lang, "live_label"),
               # A component passes every keyword to the browser, ``args`` too: the panel goes in a partial.
               figure=figure, key=state.panel_key(panel, "live"), on_change=partial(apply_live, panel), default=None,
               height=LIVE_HEIGHT)


LIVE_HEIGHT = 70 + 15 * ROWS
"""The same in both panels, so that they line up."""


def apply_live(panel: str) -> None:
    """On release: the panel's temperature becomes the live slider's (a value the slider can take;
    anything else a crafted client sends is ignored)."""
    value = st.session_state.get(state.panel_key(panel, "live"))
    control = next(control for control in state.SAMPLING_CONTROLS if control.name == "temperature")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and math.isfinite(value) and control.low <= value <= control.high:
        st.session_state[state.panel_key(panel, "temperature")] = round(round(value / control.step) * control.step, 10)
