"""The page's state helpers, without Streamlit: URL round trip, presets, one place for the config."""

import io
import random

import json

import pytest

import pandas as pd

from app import charts, state, tables
from app.text import chart_titles
from app.html import continuation_html
from app.settings import read_settings
from app.tables import HEADER_LINES, continuations_csv, distribution_csv
from sampling import SamplingConfig, apply, load_model
from sampling.models import Continuation, GeneratedToken

SETTINGS = read_settings({"SAMPLING_ALLOWED_MODELS": "fortune-base,fortune-small"})


def test_url_round_trip_keeps_only_changed_values():
    values = state.defaults(SETTINGS)
    values.update({"a_temperature": 0.3, "b_order": "llama.cpp", "b_top_k": 40, "prompt": "Hi <b>"})
    params = state.to_url(values, SETTINGS)
    assert params == {"a_temperature": "0.3", "b_order": "llama.cpp", "b_top_k": "40", "prompt": "Hi <b>"}
    restored, notices = state.read_url(params, SETTINGS)
    assert restored == values and notices == []


def test_panel_config_switches_off_what_the_engine_lacks():
    values = state.defaults(SETTINGS)
    values.update({"a_order": "vllm", "a_typical_p": 0.5, "a_eta_cutoff": 0.01, "a_top_p": 0.8})
    assert state.panel_config(values, "a") == SamplingConfig(order="vllm", top_p=0.8, temperature=0.9)
    llama_only = {"penalty_last_n", "top_n_sigma", "xtc_probability", "xtc_threshold", "dynatemp_range",
                  "dynatemp_exponent", "mirostat", "mirostat_tau", "mirostat_eta", "samplers", "dry_multiplier",
                  "dry_base", "dry_allowed_length", "dry_penalty_last_n"}
    assert state.unsupported("vllm") == {"typical_p", "epsilon_cutoff", "eta_cutoff", *llama_only}
    assert state.unsupported("transformers") == {"frequency_penalty", "presence_penalty", *llama_only}
    assert state.unsupported("llama.cpp") == {"epsilon_cutoff", "eta_cutoff", "samplers"}
    assert state.unsupported("custom") == {"epsilon_cutoff", "eta_cutoff"}
    values.update({"a_frequency_penalty": 0.5, "a_penalty_last_n": 8})
    assert state.panel_config(values, "a") == SamplingConfig(order="vllm", top_p=0.8, temperature=0.9,
                                                             frequency_penalty=0.5)


def test_the_custom_order_and_the_logit_bias_round_trip_through_the_url():
    values = state.defaults(SETTINGS)
    values.update({"b_order": "custom", "b_samplers": "temperature,top_p", "b_temperature": 0.5, "b_top_p": 0.6,
                   "a_logit_bias": "13:-100, 262:2.5"})
    params = state.to_url(values, SETTINGS)
    assert params["b_samplers"] == "temperature,top_p" and params["a_logit_bias"] == "13:-100, 262:2.5"
    restored, notices = state.read_url(params, SETTINGS)
    assert restored == values and notices == []
    config = state.panel_config(restored, "b")
    assert config == SamplingConfig(order="custom", samplers=("temperature", "top_p"), temperature=0.5, top_p=0.6)
    assert config != state.panel_config({**restored, "b_samplers": "top_p,temperature"}, "b")
    assert state.panel_config(restored, "a").logit_bias == ((13, -100.0), (262, 2.5))


def test_panel_config_never_refuses_and_says_what_it_changed():
    values = state.defaults(SETTINGS)
    values.update({"a_order": "custom", "a_samplers": "top_k,nonsense,top_k", "a_top_p": 0.5, "a_top_k": 5,
                   "a_logit_bias": "1:2, hello, 99999:1, 3:500", "vocab": 4096})
    config = state.panel_config(values, "a")
    assert config.samplers == ("top_k",) and config.top_p == 1.0 and config.top_k == 5
    assert config.logit_bias == ((1, 2.0), (3, 500.0)), "engines take a bias beyond ±100"
    notices = {notice.key: notice.values for notice in state.panel_adjustments(values, "a")}
    assert notices["logit_bias_unusable"] == {"entries": "hello, 99999:1"}
    assert "top_p" in notices["left_out"]["names"]
    values.update({"b_order": "llama.cpp", "b_temperature": 0.0, "b_dynatemp_range": 0.5})
    assert state.panel_config(values, "b").dynatemp_range == 0.0
    assert [notice.key for notice in state.panel_adjustments(values, "b")] == ["dynatemp_greedy"]
    # Mirostat replaces llama.cpp's chain: the other samplers are off, and the panel says which.
    values.update({"b_temperature": 0.7, "b_top_k": 40, "b_min_p": 0.05, "b_mirostat": 2, "b_dynatemp_range": 0.5})
    assert state.panel_config(values, "b") == SamplingConfig(order="llama.cpp", temperature=0.7, mirostat=2)
    assert [(notice.key, notice.values) for notice in state.panel_adjustments(values, "b")] == [
        ("mirostat_only", {"names": "top_k, min_p, dynatemp_range"})]
    # Another engine: the llama.cpp-only settings are simply off.
    values.update({"b_order": "vllm", "b_temperature": 0.7, "b_top_n_sigma": 1.0})
    assert state.panel_config(values, "b") == SamplingConfig(order="vllm", temperature=0.7, top_k=40, min_p=0.05)


def test_the_model_preset_writes_every_control_in_its_own_form():
    values = state.defaults(SETTINGS)
    config = SamplingConfig(order="custom", samplers=("top_k", "temperature"), top_k=3, logit_bias={7: -1.5})
    assert state.set_config(values, "a", config) == []
    assert (values["a_samplers"], values["a_logit_bias"]) == ("top_k,temperature", "7:-1.5")
    assert state.panel_config(values, "a") == config


def test_presets_and_copy():
    values = state.defaults(SETTINGS)
    state.apply_preset(values, "a", "llama.cpp defaults")
    assert state.panel_config(values, "a") == SamplingConfig(order="llama.cpp", temperature=0.8, top_k=40,
                                                             top_p=0.95, min_p=0.05)
    state.apply_preset(values, "b", "transformers do_sample=True defaults")
    assert state.panel_config(values, "b").top_k == 50
    state.copy_panel(values, "a", "b")
    assert state.panel_config(values, "b") == state.panel_config(values, "a")
    state.apply_pair_preset(values, "top_p")
    assert (values["a_top_p"], values["b_top_p"], values["a_temperature"]) == (0.9, 0.1, 1.0)


def test_generation_controls_follow_the_limits():
    small = read_settings({"SAMPLING_MAX_SAMPLES": "3", "SAMPLING_MAX_NEW_TOKENS": "10"})
    controls = {control.name: control for control in state.generation_controls(small)}
    assert (controls["samples"].default, controls["samples"].high) == (3, 3)
    assert (controls["length"].default, controls["length"].high) == (10, 10)


def test_continuation_html_escapes_model_text():
    token = GeneratedToken(id=1, label="<script>alert(1)</script>", probability=0.5, raw_rank=1,
                           entropy_before_bits=1.0, entropy_after_bits=0.5, tokens_kept=3)
    quote = GeneratedToken(id=2, label='" onmouseover="alert(2)', probability=0.1, raw_rank=4,
                           entropy_before_bits=1.0, entropy_after_bits=0.5, tokens_kept=3)
    html = continuation_html(Continuation("", (token, quote), stopped_at_eos=False))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'onmouseover="alert' not in html


def test_charts_are_valid_vega_lite_with_fixed_domains():
    from altair.vegalite.v6.schema import load_schema
    from jsonschema import validate

    handle = load_model("fortune-small")
    trace = apply(handle.next_token_logits("The").logits, SamplingConfig(top_p=0.5, temperature=0.7))
    top = tables.top_tokens(trace, handle.labels, 10)
    curve, cut = tables.cumulative_curve(trace, handle.labels, 10)
    titles = chart_titles("en")
    built = (charts.top_tokens_chart(top, titles),
             charts.stages_chart(tables.stage_probabilities(trace, top), tables.stage_names(trace),
                                 top["label"].tolist(), titles),
             charts.cumulative_chart(curve, cut, handle.vocab_size, titles))
    for chart in built:
        validate(chart.spec, load_schema())
        assert "datasets" not in chart.spec and "values" not in json.dumps(chart.spec)
    rank_scale = built[2].spec["layer"][0]["encoding"]["x"]["scale"]
    assert rank_scale == {"domain": [1, handle.vocab_size], "nice": False, "type": "log"}


def test_the_two_tidy_csv_files_hold_what_their_buttons_promise():
    handle = load_model("fortune-small")
    logits = handle.next_token_logits("The").logits
    trace = apply(logits, SamplingConfig(top_k=5, temperature=0.5))
    table = pd.read_csv(io.BytesIO(distribution_csv(trace, handle.labels, "a")), skiprows=HEADER_LINES, keep_default_na=False)
    assert len(table) == handle.vocab_size and set(table["panel"]) == {"A"}
    assert int(table["kept"].sum()) == 5 and table["final_prob"].sum() == pytest.approx(1.0, abs=1e-5)
    assert table["scaled_logit"].tolist() == pytest.approx((table["logit"] / 0.5).tolist(), abs=1e-4)
    generation = handle.generate("The", SamplingConfig(top_k=5), n=2, max_new_tokens=4, seed=0)
    rows = pd.read_csv(io.BytesIO(continuations_csv(generation, "b")), skiprows=HEADER_LINES, keep_default_na=False)
    assert set(rows["panel"]) == {"B"} and set(rows["sample"]) == {0, 1}
    assert len(rows) == sum(len(continuation.tokens) for continuation in generation.continuations)


def test_panel_config_takes_any_values_the_controls_allow():
    rng = random.Random(0)
    controls = [control for control in state.SAMPLING_CONTROLS if control.name != "order"]
    for _ in range(400):
        values = state.defaults(SETTINGS)
        values["a_order"] = rng.choice(state.ORDERS)
        for control in rng.sample(controls, rng.randint(1, len(controls))):
            if control.name == "samplers":
                value = ",".join(rng.sample(list(state.SAMPLERS), rng.randint(0, len(state.SAMPLERS))))
            elif control.name == "logit_bias":
                value = f"{rng.randrange(5000)}:{rng.uniform(-150, 150):.1f}, x"
            else:
                value, _ = control.parse(str(rng.choice([control.low, control.high, rng.uniform(control.low,
                                                                                                  control.high)])))
            values[state.panel_key("a", control.name)] = value
        config = state.panel_config(values, "a")  # never raises
        assert config.order == values["a_order"]


def test_downloads_stand_on_their_own_and_keep_every_token_distinguishable():
    from app.tables import download_name, spreadsheet_safe

    handle = load_model("fortune-small")
    trace = apply(handle.next_token_logits("The").logits, SamplingConfig(order="llama.cpp", temperature=0.8, top_k=40))
    text = distribution_csv(trace, handle.labels, "a", "fortune-small", 'The "quoted"\nprompt').decode()
    header = text.splitlines()[:HEADER_LINES]
    assert all(line.startswith("# ") for line in header)
    assert header[1] == '# model: "fortune-small"' and header[2] == '# prompt: "The \\"quoted\\"\\nprompt"'
    assert '"top_k": 40' in header[3] and '"order": "llama.cpp"' in header[3]
    generation = handle.generate("The", SamplingConfig(top_k=5), n=2, max_new_tokens=3, seed=7)
    continuation_header = continuations_csv(generation, "b", "fortune-small", "The").decode().splitlines()[:HEADER_LINES]
    assert continuation_header[3].endswith("; seed 7") and "setting" not in pd.read_csv(
        io.BytesIO(continuations_csv(generation, "b")), skiprows=HEADER_LINES).columns
    assert download_name("distribution", "/models/fortune-small/", "a", trace.config) == \
        "distribution-fortune-small-A-llama.cpp-temperature0.8-top_k40.csv"
    # "=>" and "'=>" stay two different cells, and removing one leading ' gives each back.
    cells = spreadsheet_safe(pd.DataFrame({"label": ["=>", "'=>", "'", "plain"]}))["label"].tolist()
    assert len(set(cells)) == 4 and [cell[1:] if cell.startswith("'") else cell for cell in cells] == [
        "=>", "'=>", "'", "plain"]
