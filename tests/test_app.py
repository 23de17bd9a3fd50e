"""The page, through Streamlit's AppTest, on the bundled default model."""

import html
import re

import pytest
import torch

from apptest_helpers import chart_spec, charts, new_app, panel_charts, panel_metric

ENTROPY, KEPT = "Entropy (bits)", "Tokens kept"


@pytest.fixture
def page():
    at = new_app()
    at.run()
    assert not at.exception, at.exception
    return at


def test_default_page_renders_every_chart_and_metric(page):
    data = panel_charts(page)
    for panel in "ab":
        assert len(data[panel]["top"]) == 20
        assert set(data[panel]["top"].columns) >= {"label", "token_id", "raw_prob", "final_prob", "kept"}
        assert data[panel]["stages"]["stage"].iloc[0] == "raw"
        assert data[panel]["cumulative"]["cumulative"].is_monotonic_increasing
    labels = [label for label, _ in [(m.label, m.value) for m in page.metric]]
    for label in (ENTROPY, "Effective tokens", KEPT, "Top-1 probability", "KL(A‖B) bits", "Jensen–Shannon bits",
                  "distinct-1", "self-BLEU"):
        assert label in labels
    tooltips = chart_spec(charts(page)[0])["layer"][1]["encoding"]["tooltip"]
    assert {"label", "token_id", "final_prob"} <= {tooltip["field"] for tooltip in tooltips}
    assert page.text_area(key="prompt").value == "hello, this is my favorite"


def test_the_original_explanation_temperature_pair(page):
    page.button(key="pair_temperature").click().run()
    assert page.slider(key="a_temperature").value == 0.9 and page.slider(key="b_temperature").value == 0.1
    assert panel_metric(page, "b", ENTROPY) < panel_metric(page, "a", ENTROPY)
    data = panel_charts(page)
    # Lower temperature concentrates the mass on the top token.
    assert data["b"]["top"]["final_prob"].iloc[0] > data["a"]["top"]["final_prob"].iloc[0]
    stages = data["b"]["stages"]
    assert set(stages["stage"]) == {"raw", "temperature"}
    assert set(stages[stages["stage"] == "temperature"]["value"]) == {"0.1"}


def test_the_original_explanation_top_p_pair(page):
    page.button(key="pair_top_p").click().run()
    kept_a, kept_b = panel_metric(page, "a", KEPT), panel_metric(page, "b", KEPT)
    assert kept_b < kept_a
    data = panel_charts(page)
    curve = data["b"]["cumulative"]
    # top_p keeps the tokens up to the one whose cumulative probability reaches 0.1.
    assert curve["kept"].sum() == kept_b
    assert (curve[curve["kept"]]["cumulative"].iloc[:-1] < 0.1).all()
    assert curve[curve["kept"]]["cumulative"].iloc[-1] >= 0.1


def test_greedy_keeps_exactly_one_token(page):
    page.selectbox(key="a_preset").set_value("greedy").run()
    assert page.slider(key="a_temperature").value == 0.0
    assert panel_metric(page, "a", KEPT) == 1
    assert panel_metric(page, "a", "Top-1 probability") == 1.0
    assert panel_metric(page, "a", ENTROPY) == 0.0


def test_slider_changes_chart_data_and_metrics(page):
    before = panel_charts(page)["a"]["top"]["final_prob"].tolist()
    entropy_before = panel_metric(page, "a", ENTROPY)
    page.slider(key="a_temperature").set_value(0.5).run()
    after = panel_charts(page)["a"]["top"]["final_prob"].tolist()
    assert after != before and after[0] > before[0]
    assert panel_metric(page, "a", ENTROPY) < entropy_before
    page.pills(key="a_more").set_value("filters").run()
    page.slider(key="a_top_k").set_value(5).run()
    assert panel_metric(page, "a", KEPT) == 5
    assert panel_charts(page)["a"]["top"]["kept"].sum() == 5
    # Folding the group away hides its sliders, not their values.
    page.pills(key="a_more").set_value(None).run()
    assert not [slider for slider in page.slider if slider.key == "a_top_k"]
    page.slider(key="a_temperature").set_value(0.6).run()
    assert panel_metric(page, "a", KEPT) == 5 and page.query_params["a_top_k"] in ("5", ["5"])


def test_engine_order_changes_the_stages(page):
    page.pills(key="b_more").set_value("filters").run()
    for key, value in (("b_temperature", 1.5), ("b_min_p", 0.3), ("b_top_p", 0.9)):
        page.slider(key=key).set_value(value).run()
    transformers_stages = panel_charts(page)["b"]["stages"].drop_duplicates("stage")[["stage", "value"]]
    kept_transformers = panel_metric(page, "b", KEPT)
    page.selectbox(key="b_order").set_value("llama.cpp").run()
    llama_stages = panel_charts(page)["b"]["stages"].drop_duplicates("stage")[["stage", "value"]]
    assert transformers_stages.values.tolist() == [["raw", "T = 1"], ["temperature", "1.5"], ["top_p", "0.9"],
                                                   ["min_p", "0.3"]]
    assert llama_stages.values.tolist() == [["raw", "T = 1"], ["top_p", "0.9"], ["min_p", "0.3"],
                                            ["temperature", "1.5"]]
    # Filtering before flattening keeps fewer tokens.
    assert panel_metric(page, "b", KEPT) < kept_transformers


def test_prompt_change_changes_the_distribution(page):
    before = panel_charts(page)["a"]["top"]["label"].tolist()
    page.text_area(key="prompt").input("Once upon a time there was a").run()
    assert not page.exception
    assert panel_charts(page)["a"]["top"]["label"].tolist() != before


def test_url_parameters_restore_a_comparison():
    at = new_app()
    at.query_params.update({"a_temperature": "0.3", "b_top_p": "0.5", "b_order": "vllm", "top_n": "12"})
    at.run()
    assert not at.exception and not at.warning
    assert at.slider(key="a_temperature").value == 0.3
    assert at.slider(key="b_top_p").value == 0.5
    assert at.selectbox(key="b_order").value == "vllm"
    assert len(panel_charts(at)["a"]["top"]) == 12
    at.pills(key="a_more").set_value("filters").run()
    at.slider(key="a_top_k").set_value(7).run()
    assert at.query_params["a_top_k"] == "7"
    assert at.query_params["b_order"] == "vllm"
    assert at.query_params["a_temperature"] == "0.3"


def test_invalid_url_value_falls_back_with_a_notice():
    at = new_app()
    at.query_params.update({"a_temperature": "warm", "b_order": "sglang"})
    at.run()
    assert not at.exception
    notices = " ".join(warning.value for warning in at.warning)
    assert "a_temperature" in notices and "not a number" in notices
    assert "b_order" in notices
    assert at.slider(key="a_temperature").value == 0.9  # the opening pair's A
    assert at.selectbox(key="b_order").value == "transformers"


def test_copy_a_to_b(page):
    page.pills(key="a_more").set_value("filters").run()
    page.slider(key="a_top_k").set_value(13).run()
    page.button(key="copy_a_to_b").click().run()
    page.pills(key="b_more").set_value("filters").run()
    assert page.slider(key="b_top_k").value == 13
    assert panel_metric(page, "b", KEPT) == panel_metric(page, "a", KEPT) == 13


def test_injected_markup_in_the_prompt_is_shown_as_text(page):
    prompt = "<img src=x onerror=alert(1)> ![x](http://example.com/x.png) <script>alert(2)</script>"
    page.text_area(key="prompt").input(prompt).run()
    assert not page.exception
    for element in page.get("html"):
        assert "<img" not in element.proto.body and "<script" not in element.proto.body
    shown_text = [html.unescape(re.sub(r"<[^>]+>", "", element.proto.body)).replace("␣", " ")
                  for element in page.get("html")]
    assert any("<img src=x onerror=alert(1)>" in text for text in shown_text), shown_text
    for element in list(page.markdown) + list(page.caption):
        assert "![x]" not in element.value and "<img" not in element.value
    page.button(key="a_sample").click().run()
    assert not page.exception


def test_the_step_through_always_shows_the_drawn_token_marked_whatever_its_rank(page):
    from apptest_helpers import chart_frames

    from app import resources

    continuations = resources.generation(*page.session_state["a_drawn"]).continuations
    row, step = next((row, step) for row, continuation in enumerate(continuations)
                     for step, token in enumerate(continuation.tokens) if token.raw_rank > 10)
    page.selectbox(key="a_step_sample").set_value(row).run()
    page.pills(key="a_step_token").set_value(step).run()
    assert not page.exception
    tokens = chart_frames(charts(page)[-1])[0]
    token = continuations[row].tokens[step]
    drawn = tokens[tokens["token_id"] == token.id]
    assert len(drawn) == 1 and drawn["label"].iloc[0].startswith("▶ ") and drawn["rank"].iloc[0] == token.raw_rank
    assert sum(label.startswith("▶ ") for label in tokens["label"]) == 1


def test_stepping_through_a_continuation_shows_the_distribution_of_that_step(page):
    from apptest_helpers import chart_frames

    from app import resources

    page.pills(key="a_step_token").set_value(2).run()
    assert not page.exception
    captions = [caption.value for caption in page.caption if "drawn with p" in caption.value]
    assert len(captions) == 1 and "Step ` 3 `" in captions[0]
    step_chart = charts(page)[-1]
    tokens = chart_frames(step_chart)[0]
    drawn = page.session_state["a_drawn"]
    continuation = resources.generation(*drawn).continuations[0]
    token = continuation.tokens[2]
    # The distribution shown is the one generate drew that token from (KV cache vs one full pass).
    shown = tokens.set_index("token_id")["final_prob"]
    if token.id in shown.index:
        assert shown[token.id] == pytest.approx(token.probability, abs=1e-4)
    assert tokens["final_prob"].sum() <= 1.0 + 1e-6


def test_the_arithmetic_table_is_the_pipeline_worked_out(page):
    from app import resources, state, tables
    from sampling import SamplingConfig, apply

    page.slider(key="a_temperature").set_value(0.7).run()
    page.slider(key="a_top_p").set_value(0.8).run()
    # Panel A's two tables (the first of each): what each token ends with, and how it got there.
    outcome = next(frame.value for frame in page.dataframe if "removed_by" in frame.value.columns)
    shown = next(frame.value for frame in page.dataframe if "scaled_logit" in frame.value.columns)
    assert outcome["label"].tolist() == shown["label"].tolist()
    shown = shown.join(outcome[["final_prob", "removed_by"]])
    handle = resources.model(page.session_state["model"])
    logits = handle.next_token_logits(page.session_state["prompt"]).logits
    config = state.panel_config(page.session_state, "a")
    assert config == SamplingConfig(temperature=0.7, top_p=0.8)
    trace = apply(logits, config)
    expected = tables.top_tokens(trace, handle.labels, len(shown))
    ids = expected["token_id"].tolist()
    assert shown["logit"].tolist() == pytest.approx(logits[ids].tolist(), abs=1e-6)
    assert shown["scaled_logit"].tolist() == pytest.approx((logits[ids] / 0.7).tolist(), abs=1e-6)
    assert shown["scaled_prob"].tolist() == pytest.approx(torch.softmax(logits / 0.7, -1)[ids].tolist(), abs=1e-6)
    assert shown["final_prob"].tolist() == pytest.approx(trace.probs[ids].tolist(), abs=1e-6)
    removed = [name for name, kept in zip(shown["removed_by"], trace.kept[ids].tolist()) if not kept]
    assert removed and set(removed) == {"top_p"}, "the cut tokens name the stage that cut them"
    # top_p keeps the smallest prefix whose cumulative probability reaches 0.8.
    first_over = next(i for i, value in enumerate(shown["cumulative"]) if value >= 0.8 - 1e-6)
    assert trace.kept[ids].tolist() == [i <= first_over for i in range(len(ids))]
    kept = int(trace.kept.sum())
    assert any(caption.value == f"top\\_p\\: the first {kept:,} tokens kept" for caption in page.caption)


def test_a_bundled_model_is_introduced_as_a_tiny_stand_in(page):
    captions = [re.sub(r"\\(.)", r"\1", caption.value) for caption in page.caption]  # the page escapes markdown
    notices = [caption for caption in captions if "stand-in" in caption]
    assert len(notices) == 1 and notices[0].startswith("fortune-base is a tiny stand-in bundled for offline use (")
    assert "trained on English fortune cookies" in notices[0] and "This server allows: fortune-base" in notices[0]


def test_one_token_is_one_token(page):
    page.slider(key="a_top_p").set_value(0.01).run()
    assert any(caption.value == "top\\_p\\: the first 1 token kept" for caption in page.caption)


def test_every_preset_is_named_in_both_languages():
    from app.state import MODEL_PRESET, PRESETS
    from app.text import t

    for name in (MODEL_PRESET, *PRESETS):
        assert t("en", f"preset:{name}") == name
        assert t("zh", f"preset:{name}") != name, name
