"""The Study view renders the results shipped with the report."""

from pathlib import Path

from apptest_helpers import chart_frames, charts, new_app

from sampling.study import answer, read_results

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "study" / "sweep.parquet"


def test_study_view_renders_the_report_results():
    at = new_app()
    at.run()
    at.radio(key="view").set_value("study").run()
    assert not at.exception, at.exception
    results = read_results(RESULTS)
    first_model = sorted(results["model"].unique())[0]
    shown = [text.value for text in at.text]
    assert answer(results[results["model"] == first_model]) == shown
    elements = charts(at)
    assert len(elements) == 3
    curves = max(chart_frames(elements[0]), key=len)
    assert set(curves["parameter"]) == {"temperature", "top_p"}
    heatmap = chart_frames(elements[2])[0]
    assert len(heatmap) == results[(results["sweep"] == "joint")].groupby(["temperature", "top_p"]).ngroups

    at.selectbox(key="study_model").set_value(sorted(results["model"].unique())[-1]).run()
    assert not at.exception
    assert at.text[0].value.startswith(sorted(results["model"].unique())[-1])

    at.radio(key="view").set_value("compare").run()
    assert not at.exception
    assert len(charts(at)) == 6
