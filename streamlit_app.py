"""Sampling explained: see and compare what temperature, top_p and the other controls do.

The router: settings and state, then the chosen view. The views live in `app.views`, the computing
in `sampling`.
"""

from __future__ import annotations

import streamlit as st

from app import resources, state
from app.views import compare, sidebar, study

st.set_page_config(page_title="Sampling explained", page_icon="🎲", layout="wide")


def main() -> None:
    settings = resources.settings()
    state.initialize(st.session_state, st.query_params.to_dict(), settings)
    lang = st.session_state["lang"]
    if st.session_state["view"] == "study":
        sidebar.render(settings, lang)
        study.render(lang)
    else:
        compare.render(settings, lang)
    state.sync_url(st.session_state, st.query_params, settings)


main()
