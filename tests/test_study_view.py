"""The Study view leads with the answer computed from the shipped results, overlays every model,
and shows one model in detail; the Compare-only controls are hidden there."""

import re
from pathlib import Path

from apptest_helpers import chart_frames, charts, new_app

from sampling.study import exchange_table, margin_table, read_results, rule_table, verdict, vocab_sizes

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "study" / "sweep.parquet"


def test_study_view_renders_the_report_results():
    at = new_app()
    at.run()
    at.radio(key="view").set_value("study").run()
    assert not at.exception, at.exception
    results = read_results(RESULTS)
    models = sorted(results["model"].unique())
    margin, exchange = margin_table(results), exchange_table(results)
    expected = verdict(margin, exchange, rule_table(results, vocab_sizes(results)))
    assert expected.leader == "temperature", "the shipped results: temperature leads in every model at 0.5"
    shown = re.sub(r"\\(.)", r"\1", at.info[0].value)  # the page escapes markdown
    assert shown.startswith(f"Temperature moved next-token entropy more: at equal values (0.5), in all "
                          f"{len(models)} models")
    assert f"temperature 0.5 matches top_p {expected.matched_top_p:.2f}" in shown
    elements = charts(at)
    margin, exchange = (max(chart_frames(element), key=len) for element in elements[:2])
    assert set(margin["model"]) == set(models) == set(exchange["model"])
    assert {"margin_low", "margin_high"} <= set(margin.columns)
    assert not at.get("slider") and not at.text_area, "the Compare controls are hidden"
    at.selectbox(key="study_model").set_value(models[-1]).run()
    assert not at.exception
    assert any(text.value.startswith(models[-1]) for text in at.text)

    at.radio(key="view").set_value("compare").run()
    assert not at.exception
    assert len(charts(at)) == 6


def test_the_answer_line_follows_the_data():
    import pandas as pd

    from app.text import study_answer

    def margins(*intervals):
        return pd.DataFrame([{"model": f"m{i}", "value": 0.5, "margin_low": low, "margin_high": high}
                             for i, (low, high) in enumerate(intervals)])

    exchange = pd.DataFrame({"model": ["m0"], "temperature": [0.5], "top_p": [0.42]})
    rule = pd.DataFrame({"model": ["m0"], "value": [0.5], "zipf_crossing": [1.31]})
    mixed = verdict(margins((0.1, 0.3), (-0.4, -0.2), (-0.1, 0.2)), exchange, rule)
    assert (mixed.leader, mixed.temperature_leads, mixed.top_p_leads) == ("mixed", 1, 1)
    assert study_answer(mixed, "en").startswith("Neither control wins everywhere: at equal values (0.5), "
                                                "temperature moved next-token entropy more in 1 of 3 models "
                                                "and top_p in 1")
    assert "about 1.31" in study_answer(mixed, "en") and "top_p 0.42" in study_answer(mixed, "en")
    assert verdict(margins((-0.4, -0.2), (-0.3, -0.1)), exchange, rule).leader == "top_p"
    undecided = verdict(margins((0.1, 0.3), (-0.1, 0.2)), exchange.iloc[:0], rule.iloc[:0])
    assert undecided.leader == "mixed"
    assert "Zipf" not in study_answer(undecided, "zh") and "相当于" not in study_answer(undecided, "zh")
