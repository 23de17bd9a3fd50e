"""The Study view leads with the answer computed from the shipped results, in English and 中文,
overlays every model, shows who wins against the context's entropy, and one model in detail; the
Compare-only controls are hidden there."""

import re
from pathlib import Path

from apptest_helpers import chart_frames, charts, new_app

from app.text import study_answer
from sampling import study

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "study" / "sweep.parquet"


def shown(element) -> str:
    return re.sub(r"\\(.)", r"\1", element.value)  # the page escapes markdown


def test_study_view_renders_the_report_results_in_both_languages():
    at = new_app()
    at.run()
    at.radio(key="view").set_value("study").run()
    assert not at.exception, at.exception
    results = study.read_results(RESULTS)
    answer = study.answer(study.margin_table(results, values=study.VALUES), study.exchange_table(results),
                          study.rule_summary(study.cross_model_rules(results)))
    assert shown(at.info[0]) == study_answer(answer, "en")
    assert {"smollm2", "gemma3"} <= set(answer.models), "the shipped results hold the real models"
    assert list(answer.models[:2]) == ["smollm2", "gemma3"], "real models first"
    elements = charts(at)
    margin, exchange, wins = (max(chart_frames(element), key=len) for element in elements[:3])
    assert set(margin["model"]) == set(answer.models) == set(exchange["model"]) == set(wins["model"])
    assert {"margin_low", "margin_high", "mean_top_p", "median_top_p"} <= set(margin.columns) | set(exchange.columns)
    endpoint = at.dataframe[0].value
    assert list(endpoint.iloc[:, 0]) == list(answer.models)
    assert not at.get("slider") and not at.text_area, "the Compare controls are hidden"
    at.selectbox(key="study_model").set_value(answer.models[-1]).run()
    assert not at.exception
    assert any(text.value.startswith(answer.models[-1]) for text in at.text)

    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert shown(at.info[0]) == study_answer(answer, "zh") and shown(at.info[0]).startswith("平均而言")

    at.session_state["lang"] = "en"
    at.radio(key="view").set_value("compare").run()
    assert not at.exception
    assert len(charts(at)) == 6
