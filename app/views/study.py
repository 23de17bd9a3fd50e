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
from app.html import REASON_CHARACTERS, escape_markdown, safe_markdown
from app.text import chart_titles, study_answer, t
from sampling import study

STUDY_RESULTS = Path(__file__).resolve().parent.parent.parent / "docs" / "study" / "sweep.parquet"
ANSWER_VALUE = 0.5


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
    return {"margin": study.margin_table(results), "exchange": study.exchange_table(results),
            "sensitivity": study.sensitivity_table(results), "rule": study.rule_table(results, study.vocab_sizes(results)),
            "joint": results[results["sweep"] == "joint"]}


def render(lang: str) -> None:
    st.title(t(lang, "study_title"))
    upload = st.file_uploader(t(lang, "study_upload"), type=["parquet", "csv"], key="study_upload")
    data, name = (upload.getvalue(), upload.name) if upload else (None, "")
    try:
        with st.spinner():
            tables = analysis(data, name)
    except (ValueError, OSError) as error:
        st.error(safe_markdown("{reason}", REASON_CHARACTERS, reason=str(error)))
        return
    verdict = study.verdict(tables["margin"], tables["exchange"], tables["rule"], ANSWER_VALUE)
    st.info(escape_markdown(study_answer(verdict, lang)))
    st.caption(escape_markdown(t(lang, "study_caveats")))
    st.caption(escape_markdown(t(lang, "study_intro")))
    titles = chart_titles(lang)
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{escape_markdown(t(lang, 'study_margin'))}**", help=t(lang, "study_margin_help"))
        st.altair_chart(charts.margin_chart(tables["margin"], titles), width="stretch")
    with right:
        st.markdown(f"**{escape_markdown(t(lang, 'study_exchange'))}**", help=t(lang, "study_exchange_help"))
        st.altair_chart(charts.exchange_chart(tables["exchange"], titles), width="stretch")

    st.subheader(t(lang, "study_detail"))
    models = sorted(tables["margin"]["model"].unique())
    model = st.selectbox(t(lang, "study_model"), models, key="study_model")
    rule = tables["rule"][tables["rule"]["model"] == model]
    if len(rule) and not np.isnan(rule["zipf_crossing"].iloc[0]):
        row = rule.iloc[0]
        st.text(t(lang, "study_rule", model=model, value=f"{row['value']:g}", crossing=row["zipf_crossing"],
                  steeper=row["steeper_share"], accuracy=row["accuracy"], low=row["accuracy_low"],
                  high=row["accuracy_high"]))
    sensitivity = tables["sensitivity"][tables["sensitivity"]["model"] == model].set_index("control")["bits_per_tenth"]
    if {"temperature", "top_p"} <= set(sensitivity.index):
        st.text(t(lang, "study_sensitivity", temperature=sensitivity["temperature"], top_p=sensitivity["top_p"]))
    joint = tables["joint"]
    if len(joint[joint["model"] == model]):
        st.markdown(f"**{escape_markdown(t(lang, 'study_heatmap'))}**", help=t(lang, "study_heatmap_help"))
        st.altair_chart(charts.entropy_heatmap(study.joint_grid(joint, model), titles), width="stretch")
