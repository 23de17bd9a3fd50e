"""The custom order as cards to drag: llama.cpp's samplers in the order they run, each card with the
tokens kept and the entropy after it on this panel's prompt (a bar shows that entropy against the
vocabulary's most), and the samplers left out beside them. Dragging a card (mouse, pen or touch) or
moving it with the arrow keys sets the panel's order; the multiselect below it stays, for those who
would rather pick.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

import sampling
from app import state
from app.text import t
from sampling.engines.llama_cpp import SAMPLERS
from sampling.metrics import drawn_distribution, entropy

_component = components.declare_component("sampler_chain",
                                          path=str(Path(__file__).parent / "components" / "sampler_chain"))


def figures_after(trace: sampling.Trace, lang: str) -> dict[str, dict]:
    """For each sampler: the tokens kept and the entropy after its last stage in ``trace``, as text,
    and that entropy as a fraction of ``log2(vocab)``; "off" where it did not run."""
    most = math.log2(trace.logits.shape[-1])
    positions = {stage.name: index for index, stage in enumerate(trace.stages)}
    after = {}
    for sampler, stages in SAMPLERS.items():
        ran = [positions[name] for name in stages if name in positions]
        if not ran:
            after[sampler] = {"text": t(lang, "chain_card_off"), "fraction": 0.0}
            continue
        stage = trace.stages[max(ran)]
        bits = entropy(drawn_distribution(stage.probs), bits=True).item()
        after[sampler] = {"text": t(lang, "chain_card", kept=f"{int(stage.kept.sum()):,}", bits=f"{bits:.2f}"),
                          "fraction": bits / most if most > 0 else 0.0}
    return after


def sampler_chain(panel: str, trace: sampling.Trace | None, lang: str) -> None:
    """The panel's custom order as cards (``trace``: the panel's, for the cards' figures; None when
    it could not be computed)."""
    chosen = [name for name in st.session_state[state.panel_key(panel, "samplers")].split(",") if name in SAMPLERS]
    _component(chain=chosen, all=list(SAMPLERS), after=figures_after(trace, lang) if trace is not None else {},
               hints={name: ", ".join(stages) for name, stages in SAMPLERS.items()},
               texts={"title": t(lang, "chain_title"), "off": t(lang, "chain_off")},
               # A component passes every keyword to the browser, ``args`` too: the panel goes in a partial.
               key=state.panel_key(panel, "chain"), on_change=partial(apply_order, panel), default=None)


def apply_order(panel: str) -> None:
    """A dragged order becomes the panel's, when it names llama.cpp's samplers, each once (anything
    else a crafted client sends is ignored)."""
    sent = st.session_state.get(state.panel_key(panel, "chain"))
    order = sent.get("order") if isinstance(sent, dict) else None
    if (isinstance(order, list) and all(isinstance(name, str) and name in SAMPLERS for name in order)
            and len(set(order)) == len(order)):
        st.session_state[state.panel_key(panel, "samplers")] = ",".join(order)
