"""The sidebar: view, model, prompt, language, how many tokens the charts show, and the pairs.
The Study view reads results files, not the model: there it keeps only the view and the language."""

from __future__ import annotations

import streamlit as st

from app import resources, state
from app.settings import Settings
from app.text import t
from sampling.models import ModelHandle, ModelLoadError


def render(settings: Settings, lang: str, compare: bool = True, handle: ModelHandle | None = None) -> None:
    with st.sidebar:
        st.radio(t(lang, "view"), ("compare", "study"), key="view", horizontal=True,
                 format_func=lambda view: t(lang, f"view_{view}"))
        if not compare:
            language_choice(lang)
            return
        options = list(dict.fromkeys([*settings.models, st.session_state["model"]]))
        st.selectbox(t(lang, "model"), options, key="model", on_change=switch_model, args=(settings,),
                     accept_new_options=settings.open_models,
                     help=t(lang, "model_help_open" if settings.open_models else "model_help_hosted"))
        if handle is not None and handle.has_chat_template:
            st.radio(t(lang, "chat"), ("off", "on"), key="chat", horizontal=True,
                     format_func=lambda choice: t(lang, f"chat_{choice}"), help=t(lang, "chat_help"))
        if handle is not None and len(handle.runtimes()) > 1:
            st.radio(t(lang, "runtime"), handle.runtimes(), key="runtime", horizontal=True,
                     help=t(lang, "runtime_help"))
        if settings.servers:
            st.selectbox(t(lang, "server"), ("none", *(server.name for server in settings.servers)), key="server",
                         format_func=lambda name: "—" if name == "none" else name, help=t(lang, "server_help"))
        st.text_area(t(lang, "prompt"), key="prompt", height=100, max_chars=settings.limits.max_prompt_chars)
        language_choice(lang)
        top_n = state.PAGE_CHOICES_BY_NAME["top_n"]
        st.slider(t(lang, "top_n"), top_n.low, top_n.high, key="top_n")
        st.caption(t(lang, "pair_presets"))
        for name in state.PAIR_PRESETS:
            st.button(t(lang, f"pair_{name}"), key=f"pair_{name}", on_click=state.apply_pair_preset,
                      args=(st.session_state, name), width="stretch")
        st.button(t(lang, "copy"), key="copy_a_to_b", on_click=state.copy_panel,
                  args=(st.session_state, "a", "b"), width="stretch")


def language_choice(lang: str) -> None:
    st.radio(t(lang, "language"), state.LANGUAGES, key="lang", horizontal=True,
             format_func={"en": "English", "zh": "中文"}.get)


def switch_model(settings: Settings) -> None:
    """Load the chosen model now; if it fails, keep the one in use and say why."""
    try:
        resources.model(st.session_state["model"])
    except ModelLoadError as error:
        st.session_state["model_error"] = str(error)
        st.session_state["model"] = st.session_state.get("model_in_use", settings.models[0])
