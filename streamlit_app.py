"""Sampling explained: see and compare what temperature, top_p and the other controls do.

The page only arranges widgets and charts; the computing is in `sampling`, the tables and charts
in `app`. The model is loaded once per process, next-token logits once per (model, prompt), so
moving a slider never runs the model.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import streamlit as st

import sampling
from app import charts, notices, state, tables
from app.html import continuation_html, escape_markdown, prompt_html
from app.settings import read_settings
from app.slots import ModelSlots, shared_slots
from app.text import t
from sampling import metrics, study
from sampling.models import Generation, ModelHandle, ModelLoadError, NextToken

st.set_page_config(page_title="Sampling explained", page_icon="🎲", layout="wide")


def secrets() -> dict:
    """`st.secrets` as a dict; empty when the deployment has no secrets file."""
    try:
        return dict(st.secrets)
    except Exception:  # noqa: BLE001 - a missing or unreadable secrets file means no secrets
        return {}


SETTINGS = read_settings(os.environ, secrets())
STUDY_RESULTS = Path(__file__).resolve().parent / "docs" / "study" / "sweep.parquet"


@st.cache_resource(max_entries=2, show_spinner="Loading the model…")
def cached_model(name: str) -> ModelHandle:
    return sampling.load_model(name, allowed=SETTINGS.models, limits=SETTINGS.limits)


def model_slots() -> ModelSlots:
    return shared_slots(SETTINGS.max_concurrent)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_next_token(name: str, prompt: str) -> NextToken:
    with model_slots().hold():
        return cached_model(name).next_token_logits(prompt)


@st.cache_data(max_entries=128, show_spinner=False)
def cached_generation(
    name: str, prompt: str, config: sampling.SamplingConfig, samples: int, length: int, seed: int
) -> Generation:
    with model_slots().hold():
        return cached_model(name).generate(prompt, config, n=samples, max_new_tokens=length, seed=seed)


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


@st.cache_data(max_entries=8, show_spinner=False)
def cached_results(data: bytes | None, name: str) -> pd.DataFrame:
    """The study results: an uploaded file's bytes, or the results shipped with the report."""
    if data is None:
        return study.read_results(STUDY_RESULTS)
    buffer = io.BytesIO(data)
    buffer.name = name
    return study.read_results(buffer)


@st.cache_data(max_entries=64, show_spinner=False)
def panel_chart_specs(name: str, prompt: str, config: sampling.SamplingConfig, top_n: int) -> list[dict]:
    """A panel's three Vega-Lite specs, built once per setting: moving a slider of panel A leaves
    panel B's charts as they were, so they cost nothing on that rerun. Not validated against the
    schema here (a third of the build time); the tests validate every chart function."""
    handle = cached_model(name)
    trace = sampling.apply(cached_next_token(name, prompt).logits, config)
    top = tables.top_tokens(trace, handle.labels, top_n)
    curve, threshold, cutoff = tables.cumulative_curve(trace, handle.labels, top_n)
    built = (
        charts.top_tokens_chart(top),
        charts.stages_chart(tables.stage_probabilities(trace, top)),
        charts.cumulative_chart(curve, threshold, cutoff, handle.vocab_size),
    )
    return [chart.to_dict(validate=False) for chart in built]


@st.cache_data(max_entries=64, show_spinner=False)
def panel_notices(name: str, prompt: str, config: sampling.SamplingConfig, lang: str) -> list[str]:
    """What the engine changed in the setting and where a cut split tied logits, one line each."""
    trace = sampling.apply(cached_next_token(name, prompt).logits, config)
    return [t(lang, "computed_by", implementation=trace.implementation), *notices.stage_notices(trace, lang)]


def init_state() -> None:
    """On a session's first run, take the state from the URL and say what was not usable.

    On later runs, re-assign every value: Streamlit forgets the value of a widget that a run does not
    draw (the Compare controls while the Study view is shown), and a re-assigned key is kept.
    """
    if "initialized" not in st.session_state:
        values, notices = state.read_url(st.query_params.to_dict(), SETTINGS)
        st.session_state.update(values)
        st.session_state["url_notices"] = notices
        st.session_state["initialized"] = True
        return
    for key, default in state.defaults(SETTINGS).items():
        st.session_state[key] = st.session_state.get(key, default)


def sync_url() -> None:
    st.query_params.from_dict(state.to_url(st.session_state, SETTINGS))


def control_slider(panel: str, control: state.Control, lang: str, disabled: bool = False) -> None:
    st.slider(
        t(lang, control.name),
        min_value=control.low,
        max_value=control.high,
        step=control.step,
        key=state.panel_key(panel, control.name),
        help=t(lang, f"{control.name}_help"),
        disabled=disabled,
        format="%.4f" if control.step < 0.01 else None,
    )


def sidebar(lang: str) -> None:
    with st.sidebar:
        st.radio(t(lang, "view"), ("compare", "study"), key="view", horizontal=True,
                 format_func=lambda view: t(lang, f"view_{view}"))
        st.selectbox(t(lang, "model"), SETTINGS.models, key="model", on_change=switch_model)
        st.text_area(t(lang, "prompt"), key="prompt", height=100, max_chars=SETTINGS.limits.max_prompt_chars)
        st.radio(t(lang, "language"), state.LANGUAGES, key="lang", horizontal=True,
                 format_func={"en": "English", "zh": "中文"}.get)
        top_n = state.PAGE_CHOICES_BY_NAME["top_n"]
        st.slider(t(lang, "top_n"), top_n.low, top_n.high, key="top_n")
        st.caption(t(lang, "pair_presets"))
        for name in state.PAIR_PRESETS:
            st.button(name, key=f"pair_{name}", on_click=state.apply_pair_preset, args=(st.session_state, name),
                      width="stretch")
        st.button(t(lang, "copy"), key="copy_a_to_b", on_click=state.copy_panel,
                  args=(st.session_state, "a", "b"), width="stretch")


def switch_model() -> None:
    """Load the chosen model now; if it fails, keep the one in use and say why."""
    try:
        cached_model(st.session_state["model"])
    except ModelLoadError as error:
        st.session_state["model_error"] = str(error)
        st.session_state["model"] = st.session_state.get("model_in_use", SETTINGS.models[0])


def usable_model(lang: str) -> ModelHandle | None:
    """The chosen model, or the one in use before it if it fails to load (with the reason shown)."""
    if "model_error" in st.session_state:
        st.error(t(lang, "model_failed", reason=st.session_state.pop("model_error")))
    candidates = dict.fromkeys([st.session_state["model"], st.session_state.get("model_in_use"), *SETTINGS.models])
    for name in filter(None, candidates):
        try:
            handle = cached_model(name)
        except ModelLoadError as error:
            st.error(t(lang, "model_failed", reason=str(error)))
            continue
        st.session_state["model_in_use"] = st.session_state["model"] = name
        return handle
    return None


def panel_controls(panel: str, lang: str) -> sampling.SamplingConfig:
    st.subheader(t(lang, "panel", panel=panel.upper()))
    preset_key = state.panel_key(panel, "preset")
    st.selectbox(
        t(lang, "preset"), list(state.PRESETS), index=None, key=preset_key, placeholder="—",
        on_change=lambda: apply_chosen_preset(panel),
    )
    controls = {control.name: control for control in state.SAMPLING_CONTROLS}
    order_key = state.panel_key(panel, "order")
    st.selectbox(t(lang, "order"), sampling.ORDERS, key=order_key, help=t(lang, "order_help"))
    unsupported = state.unsupported(st.session_state[order_key])
    for name in ("temperature", "top_p", "top_k", "min_p"):
        control_slider(panel, controls[name], lang)
    with st.expander(t(lang, "advanced")):
        for name in ("typical_p", "epsilon_cutoff", "eta_cutoff"):
            control_slider(panel, controls[name], lang, disabled=name in unsupported)
        if unsupported:
            st.caption(f"{', '.join(sorted(unsupported))}: {t(lang, 'unsupported', order=st.session_state[order_key])}")
    return state.panel_config(st.session_state, panel)


def apply_chosen_preset(panel: str) -> None:
    preset_key = state.panel_key(panel, "preset")
    if st.session_state[preset_key]:
        state.apply_preset(st.session_state, panel, st.session_state[preset_key])
    st.session_state[preset_key] = None


def metric_row(summary: dict[str, float], lang: str) -> None:
    columns = st.columns(4)
    columns[0].metric(t(lang, "entropy"), f"{summary['entropy_bits']:.3f}", help=t(lang, "metrics_help"))
    columns[1].metric(t(lang, "effective_tokens"), f"{summary['effective_tokens']:.1f}")
    columns[2].metric(t(lang, "tokens_kept"), f"{summary['tokens_kept']:,}")
    columns[3].metric(t(lang, "top1"), f"{summary['top1_probability']:.3f}")


@st.fragment
def samples_section(panel: str, name: str, prompt: str, config: sampling.SamplingConfig, lang: str) -> None:
    """Sampled continuations of one panel; its own controls rerun only this section.

    Samples are drawn on request (Sample, Resample, a change of the sample controls, a new prompt
    or model), never because a sampling slider moved: that would run the model on every move.
    """
    st.markdown(f"**{t(lang, 'samples_title')}**", help=t(lang, "samples_help"))
    controls = {control.name: control for control in state.generation_controls(SETTINGS)}
    keys = {name_: state.panel_key(panel, name_) for name_ in controls}
    draw_key, drawn_key = state.panel_key(panel, "draw"), state.panel_key(panel, "drawn")
    columns = st.columns([2, 3, 2], vertical_alignment="bottom")
    columns[0].number_input(t(lang, "samples"), 1, controls["samples"].high, key=keys["samples"])
    columns[1].slider(t(lang, "length"), 1, controls["length"].high, key=keys["length"])
    columns[2].number_input(t(lang, "seed"), 0, controls["seed"].high, key=keys["seed"])
    columns = st.columns(2)
    columns[0].button(t(lang, "sample"), key=state.panel_key(panel, "sample"),
                      on_click=lambda: st.session_state.update({draw_key: True}))
    columns[1].button(t(lang, "resample"), key=state.panel_key(panel, "resample"),
                      on_click=lambda: st.session_state.update(
                          {draw_key: True, keys["seed"]: (st.session_state[keys["seed"]] + 1) % 2**31}))
    request = (name, prompt, config, *(st.session_state[keys[key]] for key in ("samples", "length", "seed")))
    drawn = st.session_state.get(drawn_key)
    if st.session_state.pop(draw_key, False) or drawn is None or drawn[:2] != request[:2] or drawn[3:] != request[3:]:
        drawn = st.session_state[drawn_key] = request
    try:
        with queue_notice(lang), st.spinner(t(lang, "sampling")):
            generation = cached_generation(*drawn)
    except Exception as error:  # noqa: BLE001 - the page stays usable whatever the model did
        st.error(t(lang, "sampling_failed", reason=f"{type(error).__name__}: {error}"))
        return
    if drawn[2] != config:
        st.caption(t(lang, "stale_samples"))
    for continuation in generation.continuations:
        st.html(continuation_html(continuation))
    token_ids = [[token.id for token in c.tokens] for c in generation.continuations]
    entropies = [token.entropy_after_bits for c in generation.continuations for token in c.tokens]
    figures = [(t(lang, "distinct", n=n), metrics.distinct_n(token_ids, n)) for n in (1, 2, 3)]
    figures += [(t(lang, "self_bleu"), metrics.self_bleu([c.text for c in generation.continuations])),
                (t(lang, "mean_entropy"), metrics.mean_token_entropy(entropies))]
    for column, (label, value) in zip(st.columns(len(figures)), figures, strict=True):
        column.metric(label, f"{value:.3f}", help=t(lang, "diversity_help"))
    sync_url()


def csv_download(traces: dict[str, sampling.Trace], labeller: tables.Labeller) -> bytes:
    """Both full distributions, then the continuations each panel drew (built only when clicked)."""
    drawn = {panel: st.session_state.get(state.panel_key(panel, "drawn")) for panel in traces}
    generations = {panel: cached_generation(*request) for panel, request in drawn.items() if request}
    return tables.comparison_csv(traces, labeller, generations).encode("utf-8")


def study_view(lang: str) -> None:
    """The answer to "does temperature or top_p move entropy more?", from a sweep's results."""
    st.title(t(lang, "study_title"))
    st.caption(t(lang, "study_intro"))
    upload = st.file_uploader(t(lang, "study_upload"), type=["parquet", "csv"], key="study_upload")
    try:
        results = cached_results(upload.getvalue() if upload else None, upload.name if upload else "")
    except (ValueError, OSError) as error:
        st.error(str(error))
        return
    models = sorted(results["model"].unique())
    model = st.selectbox(t(lang, "study_model"), models, key="study_model")
    for sentence in study.answer(results[results["model"] == model]):
        st.text(sentence)
    st.markdown(f"**{t(lang, 'study_curves')}**", help=t(lang, "study_curves_help"))
    st.altair_chart(charts.entropy_against_value(study.entropy_curves(results, model)), width="stretch")
    st.markdown(f"**{t(lang, 'study_spread')}**", help=t(lang, "study_spread_help"))
    st.altair_chart(charts.change_spread(study.change_by_prompt(results, model)))
    st.markdown(f"**{t(lang, 'study_heatmap')}**", help=t(lang, "study_heatmap_help"))
    st.altair_chart(charts.entropy_heatmap(study.joint_grid(results, model)), width="stretch")


def main() -> None:
    init_state()
    lang = st.session_state["lang"]
    if st.session_state["view"] == "study":
        sidebar(lang)
        study_view(lang)
        sync_url()
        return
    st.title(t(lang, "title"))
    st.caption(t(lang, "intro"))
    for notice in st.session_state.pop("url_notices", []):
        st.warning(notice, icon="🔗")
    handle = usable_model(lang)  # before the sidebar, which shows the model actually in use
    sidebar(lang)
    if handle is None:
        st.stop()
    name, prompt = handle.name, st.session_state["prompt"]
    if prompt and not prompt.strip():
        st.info(t(lang, "whitespace_prompt"))
    try:
        with queue_notice(lang):
            next_token = cached_next_token(name, prompt)
    except ValueError as error:
        st.error(str(error))
        st.stop()
    with st.expander(t(lang, "prompt_tokens")):
        st.html(prompt_html(next_token.prompt.labels, next_token.prompt.ids))
    if next_token.prompt.truncated:
        st.info(t(lang, "truncated", context=handle.context_length))
    if next_token.prompt.conditioned_on_bos:
        st.info(t(lang, "empty_prompt"))

    columns = dict(zip(state.PANELS, st.columns(2, gap="large"), strict=True))
    configs = {}
    for panel, column in columns.items():
        with column:
            configs[panel] = panel_controls(panel, lang)
    try:
        traces = {panel: sampling.apply(next_token.logits, config) for panel, config in configs.items()}
    except ValueError as error:
        st.error(t(lang, "bad_logits", reason=str(error)))
        st.stop()

    for panel, column in columns.items():
        with column:
            if configs[panel].greedy:
                st.caption(t(lang, "greedy_note"))
            metric_row(metrics.summary(traces[panel]), lang)
            for line in panel_notices(name, prompt, configs[panel], lang):
                st.caption(escape_markdown(line))
            specs = panel_chart_specs(name, prompt, configs[panel], st.session_state["top_n"])
            for key, spec in zip(("chart_top", "chart_stages", "chart_cumulative"), specs, strict=True):
                st.markdown(f"**{t(lang, key)}**", help=t(lang, f"{key}_help"))
                st.vega_lite_chart(spec, width="stretch")

    st.subheader(t(lang, "divergence"), help=t(lang, "divergence_help"))
    probs_a, probs_b = traces["a"].probs, traces["b"].probs
    divergence = st.columns(3)
    divergence[0].metric(t(lang, "kl_ab"), f"{metrics.kl_divergence(probs_a, probs_b, bits=True).item():.4f}")
    divergence[1].metric(t(lang, "kl_ba"), f"{metrics.kl_divergence(probs_b, probs_a, bits=True).item():.4f}")
    divergence[2].metric(t(lang, "js"), f"{metrics.js_divergence(probs_a, probs_b, bits=True).item():.4f}")

    for panel, column in columns.items():
        with column:
            samples_section(panel, name, prompt, configs[panel], lang)

    st.download_button(
        t(lang, "download"),
        data=lambda: csv_download(traces, handle.labels),
        file_name="sampling-comparison.csv",
        mime="text/csv",
        on_click="ignore",
    )
    sync_url()


main()
