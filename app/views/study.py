"""The Study view: does temperature or top_p move entropy more? The answer first, in one line with
its caveats; then the one figure that answers it (margin at equal values, exchange rate at equal
entropy, every model overlaid); then one model in detail."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from app import charts
from app.html import REASON_CHARACTERS, escape_markdown, safe_markdown, uploader_text
from app.text import chart_titles, study_answer, study_models, t
from sampling import study

UPLOAD_TYPES = ("parquet", "csv")
STUDY_RESULTS = Path(__file__).resolve().parent.parent.parent / "docs" / "study" / "sweep.parquet"


@st.cache_data(max_entries=8, show_spinner=False)
def cached_results(data: bytes | None, name: str) -> pd.DataFrame:
    """The study results: an uploaded file's bytes, or the results shipped with the report."""
    if data is None:
        return study.read_results(STUDY_RESULTS)
    buffer = io.BytesIO(data)
    buffer.name = name
    return study.read_results(buffer)


@st.cache_data(max_entries=8, show_spinner=False)
def analysis(data: bytes | None, name: str) -> dict[str, pd.DataFrame]:
    """Every table the view draws, computed once per results file."""
    results = cached_results(data, name)
    return {"margin": study.margin_table(results), "endpoint": study.margin_table(results, values=study.VALUES),
            "exchange": study.exchange_table(results), "sensitivity": study.sensitivity_table(results),
            "zipf": study.rule_table(results, study.vocab_sizes(results)),
            "rules": study.rule_summary(study.cross_model_rules(results)), "wins": study.wins_by_entropy(results),
            "joint": results[results["sweep"] == "joint"]}


def endpoint_table(endpoint: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The primary endpoint per model, as the page shows it: the mean margin with its interval and
    the shares of contexts each control wins."""
    at = endpoint[np.isclose(endpoint["value"], study.PRIMARY_VALUE)]
    return pd.DataFrame({
        t(lang, "study_column_model"): at["model"],
        t(lang, "study_column_margin"): [f"{row.margin_bits:+.2f} ({row.margin_low:+.2f} … {row.margin_high:+.2f})"
                                         for row in at.itertuples()],
        t(lang, "study_column_temperature"): [f"{row.temperature_share:.0%}" for row in at.itertuples()],
        t(lang, "study_column_top_p"): [f"{row.top_p_share:.0%}" for row in at.itertuples()],
        t(lang, "study_column_one_token"): [f"{row.one_token_share:.0%}" for row in at.itertuples()],
    })


def render(lang: str) -> None:
    st.title(t(lang, "study_title"))
    if lang != "en":
        limit = t(lang, "upload_limit", megabytes=st.get_option("server.maxUploadSize"), types=", ".join(UPLOAD_TYPES).upper())
        st.html(uploader_text("study_upload", t(lang, "upload_button"), limit))
    upload = st.file_uploader(t(lang, "study_upload"), type=list(UPLOAD_TYPES), key="study_upload")
    data, name = (upload.getvalue(), upload.name) if upload else (None, "")
    try:
        with st.spinner(t(lang, "study_computing")):
            tables = analysis(data, name)
    except (ValueError, OSError) as error:
        st.error(safe_markdown("{reason}", REASON_CHARACTERS, reason=str(error)))
        return
    answer = study.answer(tables["endpoint"], tables["exchange"], tables["rules"], study.PRIMARY_VALUE)
    st.info(escape_markdown(study_answer(answer, lang)))
    st.caption(escape_markdown(study_models(answer.models, lang)))
    st.caption(escape_markdown(t(lang, "study_caveats")))
    st.caption(escape_markdown(t(lang, "study_intro")))
    st.dataframe(endpoint_table(tables["endpoint"], lang), hide_index=True, width="stretch")
    titles = chart_titles(lang)
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{escape_markdown(t(lang, 'study_margin'))}**", help=t(lang, "study_margin_help"))
        st.altair_chart(charts.margin_chart(tables["margin"], titles), width="stretch")
    with right:
        st.markdown(f"**{escape_markdown(t(lang, 'study_exchange'))}**", help=t(lang, "study_exchange_help"))
        st.altair_chart(charts.exchange_chart(tables["exchange"], titles), width="stretch")
    st.markdown(f"**{escape_markdown(t(lang, 'study_wins'))}**", help=t(lang, "study_wins_help"))
    st.altair_chart(charts.wins_chart(tables["wins"], titles), width="stretch")

    st.subheader(t(lang, "study_detail"))
    model = st.selectbox(t(lang, "study_model"), list(answer.models), key="study_model")
    rule = tables["zipf"][tables["zipf"]["model"] == model]
    if len(rule) and not np.isnan(rule["zipf_crossing"].iloc[0]):
        row = rule.iloc[0]
        st.text(t(lang, "study_rule_detail", model=model, value=f"{row['value']:g}", crossing=row["zipf_crossing"],
                  steeper=row["steeper_share"], accuracy=row["accuracy"], low=row["accuracy_low"],
                  high=row["accuracy_high"]))
    sensitivity = tables["sensitivity"][tables["sensitivity"]["model"] == model].set_index("control")["bits_per_tenth"]
    if {"temperature", "top_p"} <= set(sensitivity.index):
        st.text(t(lang, "study_sensitivity", temperature=sensitivity["temperature"], top_p=sensitivity["top_p"]))
    joint = tables["joint"]
    if len(joint[joint["model"] == model]):
        st.markdown(f"**{escape_markdown(t(lang, 'study_heatmap'))}**", help=t(lang, "study_heatmap_help"))
        st.altair_chart(charts.entropy_heatmap(study.joint_grid(joint, model), titles), width="stretch")
