"""Real vocabulary shapes, built locally: Qwen's 151,936 (with padding ids the tokenizer lacks) and
GPT-2's 50,257, on thin models so that the tests stay fast."""

import pytest
import torch

from app.html import continuation_html
from benchmarks.real_shapes import QWEN_VOCAB, build_qwen_shaped
from sampling import SamplingConfig, load_model
from sampling.tokens import PADDING_MARK


@pytest.fixture(scope="module")
def qwen_shaped(tmp_path_factory):
    return load_model(str(build_qwen_shaped(tmp_path_factory.mktemp("qwen") / "qwen-shaped", layers=1, width=32,
                                            heads=2)))


def rows_through_the_head(handle, call):
    """How many positions the output layer computed logits for, call by call."""
    seen = []
    hook = handle.model.get_output_embeddings().register_forward_hook(
        lambda module, inputs, output: seen.append(tuple(output.shape[:-1])))
    try:
        call()
    finally:
        hook.remove()
    return seen


def test_only_the_logits_that_are_used_are_computed(qwen_shaped):
    """A 300-token prompt: one row of logits for the next-token view; for generate, one for the
    prompt (run once, its cache repeated for the n samples) and n per new token."""
    prompt = "the cat sat on the mat " * 50
    assert len(qwen_shaped.encode(prompt).ids) >= 300
    assert rows_through_the_head(qwen_shaped, lambda: qwen_shaped.next_token_logits(prompt)) == [(1, 1)]
    steps = rows_through_the_head(
        qwen_shaped, lambda: qwen_shaped.generate(prompt, SamplingConfig(temperature=0.9), n=4, max_new_tokens=3))
    assert steps == [(1, 1), (4, 1), (4, 1)]


def test_shared_prefill_samples_like_running_the_prompt_for_every_sample(qwen_shaped):
    prompt = "hello, this is my favorite"
    ids = torch.tensor([qwen_shaped.encode(prompt).ids])
    generation = qwen_shaped.generate(prompt, SamplingConfig(temperature=0.7), n=3, max_new_tokens=4, seed=5,
                                      return_logits=True)
    with torch.inference_mode():
        for row, continuation in enumerate(generation.continuations):
            sequence = torch.cat([ids[0], torch.tensor([token.id for token in continuation.tokens])])
            full = qwen_shaped.model(input_ids=sequence[None]).logits[0, ids.shape[1] - 1:-1]
            assert torch.allclose(generation.step_logits[:, row], full, atol=1e-4)


def test_padding_ids_get_a_mark_of_their_own_in_labels_text_and_tooltips(qwen_shaped):
    assert qwen_shaped.vocab_size == QWEN_VOCAB and len(qwen_shaped.tokenizer) == 4096
    assert qwen_shaped.labels([115_148, 4095]) == [f"{PADDING_MARK}115148", qwen_shaped.labels([4095])[0]]
    generation = qwen_shaped.generate("hello", SamplingConfig(temperature=1.5), n=4, max_new_tokens=12, seed=0)
    padded = [(continuation, token) for continuation in generation.continuations for token in continuation.tokens
              if token.id >= 4096]
    assert padded, "a near-flat 151,936-way distribution over 4,096 real tokens draws padding ids"
    continuation, token = padded[0]
    assert token.label == f"{PADDING_MARK}{token.id}"
    assert f"{PADDING_MARK}{token.id}" in continuation.text
    assert f"padding id {token.id}" in continuation_html(continuation)


def test_three_sessions_on_three_allowed_models_load_each_model_once(monkeypatch, tmp_path):
    import streamlit as st
    from apptest_helpers import new_app

    import sampling

    qwen = str(build_qwen_shaped(tmp_path / "qwen-shaped", layers=1, width=32, heads=2))
    monkeypatch.setenv("SAMPLING_ALLOWED_MODELS", f"fortune-base,fortune-small,{qwen}")
    loads = []
    real_load = sampling.load_model
    monkeypatch.setattr(sampling, "load_model", lambda *args, **kwargs: loads.append(args) or real_load(*args, **kwargs))
    st.cache_resource.clear()
    st.cache_data.clear()
    sessions = []
    for model in ("fortune-base", "fortune-small", qwen):
        at = new_app()
        at.query_params["model"] = model
        sessions.append(at)
    reruns = 0
    for round_ in range(4):
        for at in sessions:
            if round_ == 0:
                at.run()
            else:
                at.slider(key="a_temperature").set_value(round(0.2 * round_, 2)).run()
            reruns += 1
            assert not at.exception, at.exception
    assert reruns == 12
    assert sorted(args[0] for args in loads) == sorted(["fortune-base", "fortune-small", qwen])


def test_rank_axes_end_at_the_vocabulary_in_both_panels_with_a_cut_in_one():
    from apptest_helpers import chart_frames, chart_spec, charts, new_app

    at = new_app()
    at.query_params["a_top_p"] = "0.3"
    at.run()
    elements = charts(at)
    cumulative = {panel: elements[offset] for panel, offset in (("a", 2), ("b", 5))}
    for element in cumulative.values():
        x_scale = chart_spec(element)["layer"][0]["encoding"]["x"]["scale"]
        assert x_scale == {"domain": [1, 4096], "nice": False, "type": "log"}
    cut_rows = {panel: [frame for frame in chart_frames(element) if "cutoff" in frame.columns]
                for panel, element in cumulative.items()}
    assert len(cut_rows["a"][0]) == 1 and cut_rows["a"][0]["threshold"].iloc[0] == 0.3
    assert all(len(frame) == 0 for frame in cut_rows["b"])
