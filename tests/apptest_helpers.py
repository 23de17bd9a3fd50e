"""Reading what an AppTest run put on the page: charts' data, metrics, text."""

from __future__ import annotations

import json
import re

from pathlib import Path

import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
TIMEOUT = 180


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def charts(at: AppTest) -> list:
    return list(at.get("arrow_vega_lite_chart")) + list(at.get("vega_lite_chart"))


def chart_frames(element) -> list[pd.DataFrame]:
    return [pa.ipc.open_stream(dataset.data.data).read_all().to_pandas() for dataset in element.proto.datasets]


def chart_spec(element) -> dict:
    return json.loads(element.proto.spec)


def panel_charts(at: AppTest) -> dict[str, dict[str, pd.DataFrame]]:
    """The main data of each panel's three charts: top tokens, stages, cumulative curve."""
    elements = charts(at)
    assert len(elements) == 6, f"expected 3 charts per panel, got {len(elements)}"
    result = {}
    for panel, offset in (("a", 0), ("b", 3)):
        top, stages, cumulative = (chart_frames(elements[offset + i]) for i in range(3))
        result[panel] = {
            "top": top[0],
            "stages": stages[0],
            "cumulative": max(cumulative, key=len),
        }
    return result


def metrics(at: AppTest) -> list[tuple[str, str]]:
    return [(metric.label, metric.value) for metric in at.metric]


def panel_metric(at: AppTest, panel: str, label: str) -> float:
    """A headline metric of panel A (first occurrence) or B (second)."""
    values = [value for name, value in metrics(at) if name == label]
    return float(values[0 if panel == "a" else 1].replace(",", ""))


def plain_text(markdown: str) -> str:
    """What a notice built by `app.html.safe_markdown` reads as: code spans and escapes removed."""
    text = re.sub(r"(`+) (.*?) \1", r"\2", markdown)
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)
