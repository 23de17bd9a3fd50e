"""Every bad input of a hosted demo gets a clear message or a sane clamp, never a traceback."""


import pytest

from apptest_helpers import charts, new_app, panel_metric, plain_text

LONG = "x" * 100_000



# (name, URL parameters, text expected in a message (or None for none), widget values expected)
URL_CASES = [
    ("empty prompt", {"prompt": ""}, "The prompt is empty", {}),
    ("whitespace prompt", {"prompt": "  \n\t  "}, "only whitespace", {}),
    ("100,000-character prompt", {"prompt": LONG}, "100,000 characters; only the last 4,000 are kept",
     {"prompt": "x" * 4000}),
    ("control characters, NUL, emoji, CJK, RTL", {"prompt": "a\x00b\x07c\x1b[31m 😀 中文 שלום עולם \u202eabc"},
     None, {}),
    ("HTML and script", {"prompt": "<script>alert(1)</script><img src=x onerror=alert(1)>"}, None, {}),
    ("markdown link and image", {"prompt": "[click](javascript:alert(1)) ![x](http://example.com/x.png)"},
     None, {}),
    ("not a number", {"a_temperature": "hot"}, "hot is not a number", {"a_temperature": 0.9}),
    ("nan", {"a_top_p": "nan"}, "nan is not a number", {"a_top_p": 1.0}),
    ("inf", {"a_temperature": "inf"}, "clamped to 2", {"a_temperature": 2.0}),
    ("1e309", {"b_temperature": "1e309"}, "clamped to 2", {"b_temperature": 2.0}),
    ("negative", {"a_min_p": "-3"}, "clamped to 0", {"a_min_p": 0.0}),
    ("out of range", {"b_min_p": "7"}, "clamped to 1", {"b_min_p": 1.0}),
    ("top_k larger than the vocabulary", {"a_top_k": "100000"}, "clamped to 200", {"a_top_k": 200}),
    ("temperature 1e-6", {"a_temperature": "1e-6"}, None, {"a_temperature": 1e-6}),
    ("temperature 100", {"a_temperature": "100"}, "clamped to 2", {"a_temperature": 2.0}),
    ("top_p 0", {"a_top_p": "0"}, "clamped to 0.01", {"a_top_p": 0.01}),
    ("top_p 1", {"a_top_p": "1"}, None, {"a_top_p": 1.0}),
    ("unknown engine", {"a_order": "<b>sglang</b>"}, "is not allowed", {"a_order": "transformers"}),
    ("a model that is not here (local run)", {"model": "evil/remote-code-model"}, "could not be used",
     {"model": "fortune-base"}),
    ("unknown parameter", {"a_temperatur": "0.5"}, "Ignored the unknown URL parameter", {}),
    ("huge sample count", {"a_samples": "10000", "a_length": "99999"}, "clamped to 16", {"a_samples": 16,
                                                                                      "a_length": 200}),
]


def messages(at) -> str:
    return " ".join(plain_text(element.value) for kind in (at.warning, at.info, at.error) for element in kind)


@pytest.mark.parametrize(("name", "params", "expected", "values"), URL_CASES, ids=[case[0] for case in URL_CASES])
def test_bad_url_input(name, params, expected, values, no_network, monkeypatch):
    if name.endswith("(local run)"):
        monkeypatch.setenv("SAMPLING_OPEN_MODELS", "1")
    at = new_app()
    at.query_params.update(params)
    at.run()
    assert not at.exception, at.exception
    assert len(charts(at)) == 6, messages(at)
    if expected is None:
        assert not at.error and not at.warning, messages(at)
    else:
        assert expected in messages(at), messages(at)
    for key, value in values.items():
        assert at.session_state[key] == value
    for element in at.get("html"):
        assert "<script" not in element.proto.body and "<img" not in element.proto.body


def test_tiny_temperature_is_near_greedy_without_error():
    at = new_app()
    at.query_params.update({"a_temperature": "1e-6"})
    at.run()
    assert not at.exception
    assert panel_metric(at, "a", "Entropy (bits)") == pytest.approx(0.0, abs=1e-3)


def test_typed_100k_prompt_is_held_to_the_limit():
    at = new_app()
    at.run()
    at.text_area(key="prompt").input("y" * 100_000).run()
    assert not at.exception
    assert len(at.session_state["prompt"]) <= 4000  # the text area's max_chars
    at.session_state["prompt"] = "y" * 100_000  # what a client that ignores max_chars could send
    at.run()
    assert not at.exception
    assert len(at.text_area(key="prompt").value) <= 4000
    assert len(charts(at)) == 6


@pytest.mark.parametrize("prompt", ["", " ", "\x00", "😀" * 50, "中文" * 200, "\u202e\u202d" * 10])
def test_odd_prompts_through_generation(prompt):
    at = new_app()
    at.run()
    at.text_area(key="prompt").input(prompt).run()
    at.button(key="a_sample").click().run()
    assert not at.exception, at.exception
    assert not at.error


def test_a_hosted_allow_list_refuses_a_typed_model_before_any_download(monkeypatch, no_network):
    monkeypatch.setenv("SAMPLING_ALLOWED_MODELS", "fortune-base,fortune-small")
    at = new_app()
    at.query_params.update({"model": "evil/remote-code-model"})
    at.run()
    assert not at.exception
    assert "is not allowed" in messages(at)
    assert at.session_state["model"] == "fortune-base"
    assert at.selectbox(key="model").options == ["fortune-base", "fortune-small"]


def test_an_open_run_takes_a_typed_model_path(tmp_path, monkeypatch):
    from benchmarks.real_shapes import build_qwen_shaped

    monkeypatch.setenv("SAMPLING_OPEN_MODELS", "1")
    path = str(build_qwen_shaped(tmp_path / "typed-model", layers=1, width=32, heads=2))
    at = new_app()
    at.query_params["model"] = path  # what the model box sets when a path is typed into it
    at.run()
    assert not at.exception
    assert at.session_state["model"] == path
    assert len(charts(at)) == 6
