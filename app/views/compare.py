"""The Compare view: two settings, A and B, side by side on the same next-token logits.

The model reads the prompt once (cached per model and prompt); each panel turns the logits into the
distribution its engine would sample from, stage by stage. Moving a slider never runs the model.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import pandas as pd
import streamlit as st
import torch

import sampling
from app import charts, live, notices, resources, state, tables
from app.sampler_chain import sampler_chain
from app.views import sidebar
from app.html import REASON_CHARACTERS, continuation_html, escape_markdown, prompt_html, safe_markdown
from app.settings import Settings
from sampling.fetch import fetched_models
from app.slots import LeftTheQueue
from app.text import chart_titles, t, template
from sampling import metrics
from sampling.models import BUNDLED_CORPUS, BUNDLED_MODELS, ModelHandle, ModelLoadError
from sampling.limits import WorkCancelled
from sampling.config import LLAMA_ORDERS
from sampling.runtime import compare_runtimes
from sampling.servers import ServerError

CHART_KEYS = ("chart_top", "chart_stages", "chart_cumulative")


@st.cache_resource(max_entries=8, show_spinner=False)
def panel_trace(source: resources.Source, prompt: str, config: sampling.SamplingConfig) -> sampling.Trace:
    """A setting's trace after the prompt: one `apply` per setting, shared by the panel's figures,
    rows and notices and by the A-vs-B figures (a refused setting raises, and is not kept)."""
    next_token = resources.next_token(source, prompt)
    return sampling.apply(next_token.logits, config, context=next_token.context)


@st.cache_data(max_entries=64, show_spinner=False)
def panel_tables(source: resources.Source, prompt: str, config: sampling.SamplingConfig, top_n: int) -> dict:
    """The rows a panel's charts draw, computed once per setting: moving a slider of panel A
    leaves panel B's rows as they were, so they cost nothing on that rerun."""
    handle = resources.model(source.model)
    trace = panel_trace(source, prompt, config)
    top = tables.top_tokens(trace, handle.labels, top_n)
    curve, cut = tables.cumulative_curve(trace, handle.labels, top_n)
    return {"top": top, "stages": tables.stage_probabilities(trace, top), "stage_names": tables.stage_names(trace),
            "curve": curve, "cut": cut, "thresholds": tables.thresholds(trace)}


@st.cache_data(max_entries=64, show_spinner=False)
def chart_specs(labels: tuple[str, ...], stage_names: tuple[str, ...], vocab_size: int, lang: str) -> list[dict]:
    """The three specs of a panel, without data. They depend on the model, the prompt, the stages
    that run and the language, never on a slider's value: built once, and a moved slider only
    sends new rows, which the browser draws into the charts it has."""
    titles = chart_titles(lang)
    empty = pd.DataFrame()
    return [
        charts.top_tokens_chart(empty, titles, list(labels)).spec,
        charts.stages_chart(empty, list(stage_names), list(labels), titles).spec,
        charts.cumulative_chart(empty, empty, vocab_size, titles).spec,
    ]


def panel_charts(handle: ModelHandle, source: resources.Source, prompt: str, config: sampling.SamplingConfig,
                 top_n: int, lang: str) -> list[charts.ChartSpec]:
    rows = panel_tables(source, prompt, config, top_n)
    specs = chart_specs(tuple(rows["top"]["label"]), tuple(rows["stage_names"]), handle.vocab_size, lang)
    datasets = ({"tokens": rows["top"]}, {"stages": rows["stages"]}, {"curve": rows["curve"], "cut": rows["cut"]})
    return [charts.ChartSpec(spec, data) for spec, data in zip(specs, datasets, strict=True)]


@st.cache_data(max_entries=64, show_spinner=False)
def panel_notices(source: resources.Source, prompt: str, config: sampling.SamplingConfig, lang: str) -> list[str]:
    """What computed the panel, what the engine changed in the setting and where a cut split tied
    logits, one line each."""
    trace = panel_trace(source, prompt, config)
    return [t(lang, "computed_by", implementation=notices.implementation_text(config.order, lang)),
            *notices.stage_notices(trace, lang)]


def usable_model(settings: Settings, lang: str) -> ModelHandle | None:
    """The chosen model, or the one in use before it if it fails to load (with the reason shown)."""
    if "model_error" in st.session_state:
        st.error(safe_markdown(template(lang, "model_failed"), REASON_CHARACTERS,
                               reason=st.session_state.pop("model_error")))
    candidates = dict.fromkeys([st.session_state["model"], st.session_state.get("model_in_use"), *settings.models])
    for name in filter(None, candidates):
        try:
            if resources.registry().loaded(name):
                handle = resources.model(name)
            else:
                with st.spinner(t(lang, "loading_model", model=name)):
                    handle = resources.model(name)
        except ModelLoadError as error:
            st.error(safe_markdown(template(lang, "model_failed"), REASON_CHARACTERS, reason=str(error)))
            continue
        st.session_state["model_in_use"] = st.session_state["model"] = name
        return handle
    return None


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


def apply_chosen_preset(panel: str) -> None:
    preset_key = state.panel_key(panel, "preset")
    chosen = st.session_state[preset_key]
    if chosen is not None and chosen != state.MODEL_PRESET and chosen not in state.PRESETS:
        st.session_state.setdefault("url_notices", []).append(state.Notice("preset_unknown", {"preset": chosen}))
        chosen = None
    if chosen == state.MODEL_PRESET:
        handle = resources.model(st.session_state["model"])
        try:
            config = handle.default_config(st.session_state[state.panel_key(panel, "order")])
        except ValueError as error:  # a generation_config.json the engine would refuse
            st.session_state[state.panel_key(panel, "preset_note")] = str(error)
        else:
            clamped = state.set_config(st.session_state, panel, config)
            st.session_state[state.panel_key(panel, "preset_note")] = (handle.name, config, clamped)
    elif chosen:
        state.apply_preset(st.session_state, panel, chosen)
    st.session_state[preset_key] = None


def panel_controls(panel: str, lang: str) -> None:
    """Preset and engine order side by side, then temperature and top_p (the two the page is
    about): the same height in both panels, whatever either holds, so that A and B line up."""
    preset, order = st.columns(2)
    preset.selectbox(t(lang, "preset"), [state.MODEL_PRESET, *state.PRESETS], index=None,
                     key=state.panel_key(panel, "preset"), placeholder="—", on_change=apply_chosen_preset,
                     args=(panel,), help=t(lang, "preset_help"), format_func=lambda name: t(lang, f"preset:{name}"))
    order.selectbox(t(lang, "order"), sampling.ORDERS, key=state.panel_key(panel, "order"), help=t(lang, "order_help"))
    controls = state.SAMPLING_CONTROLS_BY_NAME
    for name in ("temperature", "top_p"):
        control_slider(panel, controls[name], lang)


FOLDED_GROUPS = {"filters": ("top_k", "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff"),
                 "penalties": ("repetition_penalty", "frequency_penalty", "presence_penalty", "penalty_last_n"),
                 "llama_samplers": ("dry_multiplier", "dry_base", "dry_allowed_length", "dry_penalty_last_n",
                                    "top_n_sigma", "xtc_probability", "xtc_threshold", "dynatemp_range",
                                    "dynatemp_exponent", "mirostat", "mirostat_tau", "mirostat_eta")}


def more_samplers(panel: str, lang: str, trace: sampling.Trace | None = None) -> None:
    """The other controls, one group at a time, drawn only when picked (the browser builds a few
    sliders instead of forty; see state.initialize for the values kept). Below the panel's charts:
    opening a group moves nothing that the other panel has beside it."""
    order_key = state.panel_key(panel, "order")
    controls = state.SAMPLING_CONTROLS_BY_NAME
    unsupported = state.unsupported(st.session_state[order_key])
    group = st.pills(t(lang, "advanced"), list(FOLDED_GROUPS), format_func=lambda title: t(lang, title),
                     key=state.panel_key(panel, "more"), help=t(lang, "advanced_help"))
    if group is None:
        return
    for name in FOLDED_GROUPS[group]:
        control_slider(panel, controls[name], lang, disabled=name in unsupported)
    if group == "penalties":
        st.text_input(t(lang, "logit_bias"), key=state.panel_key(panel, "logit_bias"),
                      max_chars=controls["logit_bias"].max_length,
                      help=t(lang, "logit_bias_help"), placeholder="13:-100, 262:5")
    if group == "llama_samplers":
        if "samplers" not in unsupported:
            sampler_chain(panel, trace, lang)
        samplers_picker(panel, lang, disabled="samplers" in unsupported)
    missing = [name for name in FOLDED_GROUPS[group] if name in unsupported]
    if missing:
        st.caption(escape_markdown(
            f"{', '.join(missing)}: {t(lang, 'unsupported', order=st.session_state[order_key])}"))


def setting_notes(panel: str, lang: str) -> None:
    """What changed the setting: the model's own defaults read by the preset, the values the
    engine adjusted."""
    note = st.session_state.pop(state.panel_key(panel, "preset_note"), None)
    if isinstance(note, str):
        st.error(safe_markdown("{reason}", REASON_CHARACTERS, reason=note))
    elif note is not None:
        name, config, clamped = note
        st.caption(safe_markdown(template(lang, "model_preset_read"), 400, model=name, order=config.order,
                                 settings=notices.describe_config(config, lang)))
        if clamped:
            st.caption(safe_markdown(template(lang, "model_preset_clamped"), names=", ".join(clamped)))
    for adjustment in state.panel_adjustments(st.session_state, panel):
        st.caption(safe_markdown(template(lang, adjustment.key), **adjustment.values))


def samplers_picker(panel: str, lang: str, disabled: bool) -> None:
    """The custom order: llama.cpp's samplers picked in the order they run. The widget holds a list;
    the panel's state (and the URL) holds the names comma-separated."""
    key, widget_key = state.panel_key(panel, "samplers"), state.panel_key(panel, "samplers_picked")
    chosen = [name for name in st.session_state[key].split(",") if name in state.SAMPLERS]
    if st.session_state.get(widget_key) != chosen:
        st.session_state[widget_key] = chosen
    st.multiselect(t(lang, "samplers"), list(state.SAMPLERS), key=widget_key, help=t(lang, "samplers_help"),
                   disabled=disabled, on_change=lambda: st.session_state.update(
                       {key: ",".join(st.session_state[widget_key])}))


def metric_grid(figures: list[tuple[str, str, str | None]], per_row: int) -> None:
    """Metrics (label, value, help) in rows of ``per_row``: wide enough that no label or value is
    ever cut at 1280 px, and stacked on a phone."""
    for start in range(0, len(figures), per_row):
        row = figures[start : start + per_row]
        for column, (label, value, help_text) in zip(st.columns(per_row), row, strict=False):
            column.metric(label, value, help=help_text)


def metric_row(summary: dict[str, float], lang: str) -> None:
    metric_grid([
        (t(lang, "entropy"), f"{round(summary['entropy_bits'], 3) + 0.0:.3f}", t(lang, "metrics_help")),  # never -0.000
        (t(lang, "effective_tokens"), f"{summary['effective_tokens']:,.1f}", None),
        (t(lang, "tokens_kept"), f"{summary['tokens_kept']:,}", None),
        (t(lang, "top1"), f"{summary['top1_probability']:.3f}", None),
    ], per_row=2)


def arithmetic_table(rows: dict, lang: str) -> None:
    """The seed's walk-through as a table: logit, logit / T, softmax, cumulative sum, cut."""
    with st.expander(t(lang, "arithmetic")):
        st.caption(escape_markdown(t(lang, "arithmetic_help")))
        for table in (tables.outcome(rows["top"]), tables.arithmetic(rows["top"])):
            st.dataframe(table, hide_index=True, width="stretch", column_config={
                column: arithmetic_column(column, lang) for column in table.columns})
        for stage, value in rows["thresholds"]:
            tokens = t(lang, "word_token" if value == 1 else "word_tokens")
            st.caption(escape_markdown(t(lang, f"threshold_{stage}", value=value, tokens=tokens)))


ARITHMETIC_FORMATS = {"logit": "%.4g", "adjusted_logit": "%.4g", "scaled_logit": "%.4g", "scaled_prob": "%.4g",
                      "final_prob": "%.4g", "cumulative": "%.7f"}
"""Significant digits (small probabilities in e-notation); the running sum to float32's seven
decimals, so that it never reads 1 before it is."""


def arithmetic_column(column: str, lang: str):
    """The arithmetic table's column: its title in ``lang``, narrow, numbers to significant digits."""
    title = t(lang, f"column_{column}")
    if column in ARITHMETIC_FORMATS:
        return st.column_config.NumberColumn(title, format=ARITHMETIC_FORMATS[column], width="small")
    return st.column_config.Column(title, width="small")


@dataclass(frozen=True)
class Placeholders:
    """Places in the main body that both a panel's fragment and its samples' fragment update in
    place (a fragment rerun redraws only itself): the A-vs-B figures and each panel's note that
    its samples were drawn with earlier settings."""

    summary: object
    divergence: list
    stale: dict[str, object]


def show_divergence(places: Placeholders, source: resources.Source, prompt: str, lang: str) -> None:
    """What A and B are (one line at the top), and KL both ways and Jensen–Shannon between them,
    from the settings as they are now."""
    configs = {panel: state.panel_config(st.session_state, panel) for panel in state.PANELS}
    places.summary.caption(escape_markdown(notices.describe_pair(configs["a"], configs["b"], lang)))
    logits = {panel: panel_trace(source, prompt, config).final_logits for panel, config in configs.items()}
    figures = (("kl_ab", metrics.kl_divergence_of_logits(logits["a"], logits["b"], bits=True)),
               ("kl_ba", metrics.kl_divergence_of_logits(logits["b"], logits["a"], bits=True)),
               ("js", metrics.js_divergence_of_logits(logits["a"], logits["b"], bits=True)))
    for place, (key, value) in zip(places.divergence, figures, strict=True):
        place.metric(t(lang, key), f"{value.item():.4f}")


def server_check(handle: ModelHandle, source: resources.Source, prompt: str, config: sampling.SamplingConfig,
                 trace: sampling.Trace, lang: str) -> None:
    """The distribution a deployment's llama-server reports after its own chain, beside this
    panel's: a live exactness check, the difference in one line."""
    settings = resources.settings()
    backend = next((server for server in settings.servers if server.name == st.session_state["server"]), None)
    if backend is None:
        return
    st.markdown(f"**{t(lang, 'server_chart')}**", help=t(lang, "server_chart_help"))
    if backend.engine != "llama.cpp" or config.order not in LLAMA_ORDERS:
        st.caption(t(lang, "server_order", engine=backend.engine))
        return
    ids = resources.next_token(source, prompt).prompt.ids
    try:
        step = resources.server_step(backend, tuple(ids), config, max(st.session_state["top_n"], 1))
    except ServerError as error:
        st.warning(safe_markdown("{reason}", REASON_CHARACTERS, reason=str(error)))
        return
    rows = tables.reported_tokens(step.candidates, trace, handle.labels)
    st.vega_lite_chart(charts.top_tokens_chart(rows, chart_titles(lang)).with_data(), width="stretch")
    largest = float((rows["final_prob"] - rows["local_prob"]).abs().max()) if len(rows) else 0.0
    st.caption(safe_markdown(template(lang, f"server_difference_{source.runtime.replace('.', '')}"),
                             server=backend.name, count=f"{len(rows):,}", largest=f"{largest:.2g}",
                             missing=f"{step.not_reported:.2g}"))


def show_stale_samples(places: Placeholders, panel: str, lang: str) -> None:
    """Say so when the panel's samples were drawn with other settings than the current ones."""
    drawn = st.session_state.get(state.panel_key(panel, "drawn"))
    if drawn is not None and drawn[2] != state.panel_config(st.session_state, panel):
        places.stale[panel].caption(t(lang, "stale_samples"))
    else:
        places.stale[panel].empty()


@st.fragment
def panel_view(panel: str, handle: ModelHandle, source: resources.Source, prompt: str, lang: str,
               places: Placeholders) -> None:
    """One panel, top to bottom: the key figures and the top-tokens chart, the main controls,
    the other two charts; then what varies from panel to panel (notes, the other samplers, the
    arithmetic), so that A's and B's charts always line up. A fragment, so that moving one of its
    sliders reruns only this panel (and updates the A-vs-B figures in place)."""
    st.subheader(t(lang, "panel", panel=panel.upper()))
    figures = st.container()  # drawn into after the controls below it have their values
    panel_controls(panel, lang)
    rest = st.container()
    setting_notes(panel, lang)
    config = state.panel_config(st.session_state, panel)
    try:
        trace = panel_trace(source, prompt, config)
    except ValueError as error:
        figures.error(safe_markdown(template(lang, "bad_logits"), REASON_CHARACTERS, reason=str(error)))
        more_samplers(panel, lang)
        return
    specs = panel_charts(handle, source, prompt, config, st.session_state["top_n"], lang)
    rows = panel_tables(source, prompt, config, st.session_state["top_n"])
    with figures:
        metric_row(metrics.summary(trace), lang)
        chart_with_title(panel, CHART_KEYS[0], specs[0], lang)
        live.live_samplers(panel, trace, config, handle.labels, lang)
    with rest:
        for key, chart in zip(CHART_KEYS[1:], specs[1:], strict=True):
            chart_with_title(panel, key, chart, lang)
    if config.greedy:
        st.caption(t(lang, "greedy_note"))
    for line in panel_notices(source, prompt, config, lang):
        st.caption(escape_markdown(line))
    more_samplers(panel, lang, trace)
    server_check(handle, source, prompt, config, trace, lang)
    arithmetic_table(rows, lang)
    # Built only when clicked, from what this run holds: no Streamlit call, so no script context needed.
    st.download_button(t(lang, "download_distribution"),
                       data=lambda: tables.distribution_csv(trace, handle.labels, panel, handle.name, prompt),
                       file_name=tables.download_name("distribution", handle.name, panel, config), mime="text/csv",
                       on_click="ignore",
                       key=state.panel_key(panel, "download_distribution"))
    show_divergence(places, source, prompt, lang)
    show_stale_samples(places, panel, lang)
    state.sync_url(st.session_state, st.query_params, resources.settings())


def chart_with_title(panel: str, key: str, chart: charts.ChartSpec, lang: str) -> None:
    st.markdown(f"**{t(lang, key)}**", help=t(lang, f"{key}_help"))
    st.vega_lite_chart(chart.with_data(), width="stretch", key=state.panel_key(panel, key))


@st.fragment
def samples_section(panel: str, source: resources.Source, prompt: str, lang: str, settings: Settings,
                    places: Placeholders) -> None:
    """Sampled continuations of one panel; its own controls rerun only this section.

    Samples are drawn on request (Sample, Resample, a change of the sample controls, a new prompt
    or model), never because a sampling slider moved: that would run the model on every move.
    """
    st.markdown(f"**{t(lang, 'samples_title')}**", help=t(lang, "samples_help"))
    controls = {control.name: control for control in state.generation_controls(settings)}
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
    config = state.panel_config(st.session_state, panel)
    sampling_source = source.for_sampling(config.order)
    if sampling_source != source:
        st.caption(t(lang, "samples_runtime_fallback", order=config.order))
    request = (sampling_source, prompt, config,
               *(st.session_state[keys[key]] for key in ("samples", "length", "seed")))
    drawn = st.session_state.get(drawn_key)
    if st.session_state.pop(draw_key, False) or drawn is None or drawn[:2] != request[:2] or drawn[3:] != request[3:]:
        drawn = st.session_state[drawn_key] = request
    show_stale_samples(places, panel, lang)
    try:
        with resources.request(lang) as work, st.spinner(t(lang, "sampling")):
            generation = resources.generation(*drawn, request=work)
    except (LeftTheQueue, WorkCancelled):
        st.stop()  # a newer request of this session replaced this one, or the session has gone
    except Exception as error:  # noqa: BLE001 - the page stays usable whatever the model did
        st.error(safe_markdown(template(lang, "sampling_failed"), REASON_CHARACTERS,
                               reason=f"{type(error).__name__}: {error}"))
        return
    for continuation in generation.continuations:
        st.html(continuation_html(continuation))
    step_through(panel, generation, drawn, lang)
    st.download_button(t(lang, "download_continuations"),
                       data=lambda: tables.continuations_csv(generation, panel, drawn[0].model, drawn[1]),
                       file_name=tables.download_name("continuations", drawn[0].model, panel, drawn[2]),
                       mime="text/csv", on_click="ignore",
                       key=state.panel_key(panel, "download_continuations"))
    labels = [t(lang, "distinct", n=n) for n in (1, 2, 3)] + [t(lang, "self_bleu"), t(lang, "mean_entropy")]
    metric_grid([(label, "—" if math.isnan(value) else f"{value:.3f}", t(lang, "too_short") if math.isnan(value) else None)
                 for label, value in zip(labels, diversity(*drawn), strict=True)], per_row=3)
    st.caption(escape_markdown(t(lang, "diversity_help")))
    state.sync_url(st.session_state, st.query_params, settings)


def step_through(panel: str, generation, drawn: tuple, lang: str) -> None:
    """Pick a sample and click one of its tokens: the distribution that token was drawn from, at
    that step, under the panel's setting (recomputed from the prompt and the tokens before it)."""
    source, config = drawn[0], drawn[2]
    with st.expander(t(lang, "step_through")):
        index = st.selectbox(t(lang, "step_sample"), range(len(generation.continuations)),
                             format_func=lambda row: str(row + 1), key=state.panel_key(panel, "step_sample"))
        tokens = generation.continuations[index].tokens
        # Each token with its position as a subscript: a token can occur twice in one continuation.
        step = st.pills(t(lang, "step_token"), range(len(tokens)), key=state.panel_key(panel, "step_token"),
                        format_func=lambda position: safe_markdown("{label}", label=tokens[position].label)
                        + str(position + 1).translate(SUBSCRIPT_DIGITS))
        if step is None or step >= len(tokens):
            return
        before = [token.id for token in tokens[:step]]
        with resources.request(lang) as work:
            logits = resources.logits_after(source, (*generation.prompt.ids, *before), request=work)
        context = sampling.Context.of(generation.prompt.ids, torch.tensor([before], dtype=torch.long),
                                      resources.model(source.model).vocabulary)
        token = tokens[step]
        # The draw's own XTC chance and mirostat μ, so that this is the distribution it was drawn from.
        trace = sampling.apply(logits, config, context=context, xtc_fires=token.xtc_fired,
                               mirostat_mu=None if token.mirostat_mu is None else [token.mirostat_mu])
        st.caption(safe_markdown(template(lang, "step_drawn"), step=step + 1, label=token.label,
                                 probability=f"{token.probability:.4f}", rank=token.raw_rank,
                                 kept=f"{int(trace.kept.sum()):,}"))
        top = tables.top_tokens(trace, resources.model(source.model).labels, 10, drawn=token.id)
        st.vega_lite_chart(charts.top_tokens_chart(top, chart_titles(lang)).with_data(), width="stretch")


@st.cache_data(max_entries=128, show_spinner=False)
def diversity(*request) -> list[float]:
    """distinct-1/2/3, self-BLEU and mean token entropy of one drawn set of continuations."""
    continuations = resources.generation(*request).continuations
    token_ids = [[token.id for token in c.tokens] for c in continuations]
    entropies = [token.entropy_after_bits for c in continuations for token in c.tokens]
    return [*(metrics.distinct_n(token_ids, n) for n in (1, 2, 3)),
            metrics.self_bleu([c.text for c in continuations]), metrics.mean_token_entropy(entropies)]


PAGE_STYLE = ("<style>[data-testid='stMainBlockContainer'] {padding-top: 2.5rem} "
              "[data-testid='stMainBlockContainer'] h1 {font-size: 2.25rem}</style>")
"""The page's own top margin and title size: Streamlit's would push the charts below the first screen."""
BYTE_LABEL = re.compile(r"<0x[0-9A-F]{2}>")
SUBSCRIPT_DIGITS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def stand_in_notice(handle: ModelHandle, settings: Settings, lang: str) -> str:
    """One line: the model in use is a tiny bundled stand-in, what it learned from, how to switch."""
    if not fetched_models():
        switch = t(lang, "switch_fetch")
    elif settings.open_models:
        switch = t(lang, "switch_open")
    else:
        switch = t(lang, "switch_hosted", models=", ".join(settings.models))
    parameters = sum(parameter.numel() for parameter in handle.model.parameters())
    return t(lang, "stand_in", name=handle.name, parameters=parameters,
             data=t(lang, f"corpus_{BUNDLED_CORPUS[handle.name]}"), switch=switch)


def render(settings: Settings, lang: str) -> None:
    """The Compare view, with the sidebar (drawn after the model is settled, so that it shows the
    model actually in use)."""
    st.html(PAGE_STYLE)
    st.title(t(lang, "title"), anchor=False, help=t(lang, "intro"))
    for notice in st.session_state.pop("url_notices", []):
        st.warning(safe_markdown(template(lang, notice.key), **notice.values), icon="🔗")
    handle = usable_model(settings, lang)
    sidebar.render(settings, lang, handle=handle)
    if handle is None:
        st.stop()
    name, prompt = handle.name, st.session_state["prompt"]
    source = page_source(handle)
    if name in BUNDLED_MODELS:
        st.caption(escape_markdown(stand_in_notice(handle, settings, lang)))
    if prompt and not prompt.strip():
        st.info(t(lang, "whitespace_prompt"))
    try:
        with resources.request(lang) as work:
            next_token = resources.next_token(source, prompt, request=work)
    except LeftTheQueue:
        st.stop()
    except (ValueError, RuntimeError) as error:
        st.error(safe_markdown("{reason}", REASON_CHARACTERS, reason=str(error)))
        st.stop()
    st.session_state["vocab"] = next_token.logits.shape[-1]  # the logit bias takes ids below it
    runtime_line(handle, source, prompt, next_token, lang)
    if next_token.prompt.truncated:
        st.info(t(lang, "truncated", context=handle.context_length))
    if next_token.prompt.conditioned_on_bos:
        st.info(t(lang, "empty_prompt"))
    if any(BYTE_LABEL.search(label) for label in next_token.prompt.labels):
        chinese = next((model for model in settings.models if BUNDLED_CORPUS.get(model) == "fortunes-zh"), None)
        suggestion = t(lang, "bytes_only_try", model=chinese) if chinese and chinese != name else ""
        st.info(escape_markdown(t(lang, "bytes_only", suggestion=suggestion)), icon="🔤")

    summary = st.empty()
    panels = dict(zip(state.PANELS, st.columns(2, gap="large"), strict=True))
    prompt_place = st.container()
    st.subheader(t(lang, "divergence"), help=t(lang, "divergence_help"))
    divergence = [column.empty() for column in st.columns(3)]
    samples = dict(zip(state.PANELS, st.columns(2, gap="large"), strict=True))
    places = Placeholders(summary, divergence, {panel: column.empty() for panel, column in samples.items()})
    for panel, column in panels.items():
        with column:
            panel_view(panel, handle, source, prompt, lang, places)
    with prompt_place:
        with st.expander(t(lang, "prompt_tokens")):
            if source.chat:
                st.caption(t(lang, "chat_text"))
                st.code(handle.chat_text(prompt), language=None, wrap_lines=True)
            st.html(prompt_html(next_token.prompt.labels, next_token.prompt.ids))
    for panel, column in samples.items():
        with column:
            samples_section(panel, source, prompt, lang, settings, places)


def page_source(handle: ModelHandle) -> resources.Source:
    """The sidebar's chat-template and runtime choices, where this model has them."""
    chat = st.session_state["chat"] == "on" and handle.has_chat_template
    runtime = st.session_state["runtime"] if st.session_state["runtime"] in handle.runtimes() else "transformers"
    return resources.Source(handle.name, chat, runtime)


@st.cache_resource(max_entries=16, show_spinner=False)
def runtime_difference(model: str, chat: bool, prompt: str, _transformers_logits, _llama_logits):
    """`compare_runtimes` once per (model, chat, prompt): a float64 pass over the vocabulary that no
    rerun needs to repeat."""
    return compare_runtimes(_transformers_logits, _llama_logits)


def runtime_line(handle: ModelHandle, source: resources.Source, prompt: str, next_token, lang: str) -> None:
    """Which runtime computed the logits; for a GGUF model with both runtimes, how the other
    runtime's distribution for this prompt differs (KL, entropy, top-1)."""
    if len(handle.runtimes()) < 2:
        return
    other = replace(source, runtime="llama.cpp" if source.runtime == "transformers" else "transformers")
    try:
        with resources.request(lang) as work:
            other_logits = resources.next_token(other, prompt, request=work).logits
    except (ValueError, RuntimeError, LeftTheQueue):
        return
    difference = runtime_difference(source.model, source.chat, prompt,
                                    *((next_token.logits, other_logits) if source.runtime == "transformers"
                                      else (other_logits, next_token.logits)))
    labels = handle.labels(list(difference.top1))
    st.caption(safe_markdown(template(lang, f"runtime_{source.runtime.replace('.', '')}"), file=handle.gguf.name,
                             kl=f"{difference.kl_nats:.4f}", entropy_transformers=f"{difference.entropy_bits[0]:.2f}",
                             entropy_llama=f"{difference.entropy_bits[1]:.2f}", top1_transformers=labels[0],
                             top1_llama=labels[1]))
