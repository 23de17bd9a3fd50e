"""The Study view: does temperature or top_p move entropy more? Read from a sweep's results."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import streamlit as st

from app import charts
from app.html import REASON_CHARACTERS, safe_markdown
from app.text import t
from sampling import study

STUDY_RESULTS = Path(__file__).resolve().parent.parent.parent / "docs" / "study" / "sweep.parquet"


@st.cache_data(max_entries=8, show_spinner=False)
def cached_results(data: bytes | None, name: str) -> pd.DataFrame:
    """The study results: an uploaded file's bytes, or the results shipped with the report."""
    if data is None:
        return study.read_results(STUDY_RESULTS)
    buffer = io.BytesIO(data)
    buffer.name = name
    return study.read_results(buffer)


def render(lang: str) -> None:
    st.title(t(lang, "study_title"))
    st.caption(t(lang, "study_intro"))
    upload = st.file_uploader(t(lang, "study_upload"), type=["parquet", "csv"], key="study_upload")
    try:
        results = cached_results(upload.getvalue() if upload else None, upload.name if upload else "")
    except (ValueError, OSError) as error:
        st.error(safe_markdown("{reason}", REASON_CHARACTERS, reason=str(error)))
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
