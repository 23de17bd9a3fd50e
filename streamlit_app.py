"""Sampling explained: see and compare what temperature, top_p and the other controls do.

The router: settings and state, then the chosen view. The views live in `app.views`, the computing
in `sampling`. The first run of a fresh server imports torch and transformers (seconds): the page
shows its title first, so that a visitor sees it at once.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Sampling explained", page_icon="🎲", layout="wide")
FIRST_PAINT = {
    "en": ("How sampling shapes what a model writes", "Loading the model and the charts…"),
    "zh": ("采样参数如何塑造模型的输出", "正在加载模型和图表…"),
}
loading = st.empty()
with loading.container():
    title, caption = FIRST_PAINT.get(st.query_params.get("lang", "en"), FIRST_PAINT["en"])
    st.title(title)
    st.caption(caption)

from app import resources, state, widget_guard  # noqa: E402 - after the first paint, on purpose
from app.views import compare, sidebar, study  # noqa: E402

widget_guard.install()


def main() -> None:
    try:
        resources.bring_real_default(st.query_params.get("lang", "en"))
        settings = resources.settings()
    except ValueError as error:  # a deployment setting that cannot be used: say which, load nothing
        loading.empty()
        st.error(f"This server is misconfigured: {error}")
        st.stop()
    state.initialize(st.session_state, st.query_params.to_dict(), settings)
    dropped = st.session_state.pop(widget_guard.DROPPED, [])
    if dropped:
        st.session_state.setdefault("url_notices", []).append(
            state.Notice("widget_value_rejected", {"keys": ", ".join(dict.fromkeys(dropped))}))
    lang = st.session_state["lang"]
    loading.empty()
    if st.session_state["view"] == "study":
        sidebar.render(settings, lang, compare=False)
        study.render(lang)
    else:
        compare.render(settings, lang)
    state.sync_url(st.session_state, st.query_params, settings)


main()
