"""Bundled models through the same `load_model` path users take, offline on the CPU."""

import subprocess
import sys

import pytest
import torch
from huggingface_hub import constants as hub_constants
from scipy.stats import chisquare

import sampling
from sampling import SamplingConfig, apply, load_model
from sampling.models import BUNDLED_MODELS, DEFAULT_MODEL_ENV, ModelLoadError, bundled_model_path
from sampling.tokens import token_labels, unique_labels

PROMPT = "hello, this is my favorite"


@pytest.fixture(scope="module")
def small():
    return load_model("fortune-small")



def test_without_a_fetched_real_model_the_default_is_the_larger_bundled_model(monkeypatch, tmp_path, no_network):
    monkeypatch.delenv(DEFAULT_MODEL_ENV, raising=False)
    monkeypatch.setenv("SAMPLING_MODELS_DIR", str(tmp_path / "no-fetched-models"))
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    assert sampling.default_model_name() == "fortune-base"
    handle = load_model()
    assert handle.name == "fortune-base"
    assert handle.device.type == "cpu" and handle.dtype == torch.float32
    assert sum(p.numel() for p in handle.model.parameters()) > sum(
        p.numel() for p in load_model("fortune-small").model.parameters()
    )


def test_gpt2_in_the_local_cache_becomes_the_default_without_a_fetched_real_model(monkeypatch, tmp_path):
    monkeypatch.delenv(DEFAULT_MODEL_ENV, raising=False)
    monkeypatch.setenv("SAMPLING_MODELS_DIR", str(tmp_path / "no-fetched-models"))
    snapshot = tmp_path / "models--gpt2" / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    (tmp_path / "models--gpt2" / "refs").mkdir()
    (tmp_path / "models--gpt2" / "refs" / "main").write_text("0123abc")
    for filename in ("config.json", "model.safetensors"):
        (snapshot / filename).write_text("{}")
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    assert sampling.default_model_name() == "gpt2"


def test_configured_model_wins(monkeypatch):
    monkeypatch.setenv(DEFAULT_MODEL_ENV, "fortune-small")
    assert sampling.default_model_name() == "fortune-small"
    assert load_model().name == "fortune-small"


def test_load_from_a_local_directory_path(no_network):
    handle = load_model(str(bundled_model_path("fortune-small")))
    assert handle.next_token_logits(PROMPT).logits.shape == (handle.vocab_size,)


def test_unknown_model_id_fails_with_one_clear_line_without_network(no_network):
    with pytest.raises(ModelLoadError) as error:
        load_model("nobody/no-such-model")
    message = str(error.value)
    assert "\n" not in message
    assert "'nobody/no-such-model'" in message
    assert all(name in message for name in BUNDLED_MODELS)


def test_a_broken_model_directory_fails_with_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{ not json")
    with pytest.raises(ModelLoadError, match="Could not load model"):
        load_model(str(tmp_path))


def test_next_token_logits_are_real_and_not_degenerate(small):
    result = small.next_token_logits("The")
    assert result.logits.dtype == torch.float32 and result.logits.device.type == "cpu"
    top = torch.topk(result.logits, 10).indices.tolist()
    words = {label.strip("␣").lower() for label in small.labels(top)}
    assert {"first", "man", "only", "best", "world", "most", "way", "problem", "more", "other"} & words, words


def test_empty_prompt_conditions_on_bos(small):
    result = small.next_token_logits("")
    assert result.prompt.conditioned_on_bos
    assert result.prompt.ids == (small.tokenizer.bos_token_id,)
    assert torch.isfinite(result.logits).all()


def test_long_prompt_keeps_its_last_tokens(small):
    prompt = "one two three four five six " * 200 + "seven"
    result = small.next_token_logits(prompt)
    assert result.prompt.truncated
    assert len(result.prompt.ids) == small.context_length
    assert result.prompt.labels[-1] == "␣seven"
    generation = small.generate(prompt, SamplingConfig(), n=1, max_new_tokens=10)
    assert generation.prompt.truncated and len(generation.prompt.ids) == small.context_length - 10


def test_generation_is_reproducible_for_a_seed(small):
    config = SamplingConfig(temperature=0.9, top_p=0.95)
    first = small.generate(PROMPT, config, n=4, max_new_tokens=20, seed=5)
    again = small.generate(PROMPT, config, n=4, max_new_tokens=20, seed=5)
    other = small.generate(PROMPT, config, n=4, max_new_tokens=20, seed=6)
    assert first.continuations == again.continuations
    assert [c.text for c in first.continuations] != [c.text for c in other.continuations]


def test_first_token_frequencies_match_apply(small):
    config = SamplingConfig(temperature=0.8, top_k=30, top_p=0.9)
    expected = apply(small.next_token_logits(PROMPT).logits, config).probs.double()
    generation = small.generate(PROMPT, config, n=3000, max_new_tokens=1, seed=123)
    counts = torch.bincount(torch.tensor([c.tokens[0].id for c in generation.continuations]),
                            minlength=len(expected)).double()
    kept = expected > 0
    assert counts[~kept].sum() == 0, "drew a token that apply removed"
    expected_counts = expected[kept] / expected[kept].sum() * counts.sum()
    assert chisquare(counts[kept].numpy(), expected_counts.numpy()).pvalue > 0.001
    first = generation.continuations[0].tokens[0]
    assert first.probability == pytest.approx(expected[first.id].item(), abs=1e-6)


def test_kv_cache_logits_equal_a_full_forward_pass(small):
    generation = small.generate(PROMPT, SamplingConfig(temperature=1.2), n=3, max_new_tokens=12, seed=9,
                                return_logits=True)
    prompt_ids = list(generation.prompt.ids)
    for row, continuation in enumerate(generation.continuations):
        ids = prompt_ids + [token.id for token in continuation.tokens]
        with torch.inference_mode():
            full = small.model(input_ids=torch.tensor([ids])).logits[0].float()
        for step in range(len(continuation.tokens)):
            position = len(prompt_ids) - 1 + step
            torch.testing.assert_close(generation.step_logits[step, row], full[position], atol=1e-4, rtol=0)


def test_records_describe_each_token(small):
    config = SamplingConfig(top_k=5)
    generation = small.generate(PROMPT, config, n=2, max_new_tokens=6, seed=1)
    for continuation in generation.continuations:
        for token in continuation.tokens:
            assert token.tokens_kept == 5
            assert 1 <= token.raw_rank <= 5
            assert 0 < token.probability <= 1
            assert token.entropy_after_bits < token.entropy_before_bits
            assert token.label == small.labels([token.id])[0]


def test_a_sequence_that_hits_eos_stops_while_others_go_on(small):
    eos = small.eos_token_id
    generation = small.generate("Never trust a man who", SamplingConfig(), n=16, max_new_tokens=40, seed=3)
    stopped = [c for c in generation.continuations if c.stopped_at_eos]
    going = [c for c in generation.continuations if not c.stopped_at_eos]
    assert stopped and going
    for continuation in stopped:
        assert continuation.tokens[-1].id == eos
        assert eos not in [token.id for token in continuation.tokens[:-1]]
        assert len(continuation.tokens) < 40
    assert max(len(c.tokens) for c in going) == 40


def test_labels_for_chinese_and_emoji_are_visible_and_distinct(small):
    text = "你好，世界！我喜欢中文。😀🎉👍 naïve café\n\tend"
    ids = sorted(set(small.tokenizer(text)["input_ids"]))
    labels = unique_labels(token_labels(small.tokenizer, ids), ids)
    assert len(set(labels)) == len(ids)
    for label in labels:
        assert label.strip() == label and label
        assert not any(char in label for char in " \n\t\r\ufffd")
    assert "↵" in labels and "⇥" in labels
    assert any(label.startswith("<0x") for label in labels)


def test_two_ids_that_decode_alike_get_distinct_labels():
    assert unique_labels(["a", "␣b", "a"], [5, 6, 9]) == ["a #5", "␣b", "a #9"]


def test_the_readme_one_liner_runs_offline():
    command = "import sampling; m = sampling.load_model(); print(m.next_token_logits('hello, this is my favorite'))"
    result = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    assert "NextToken(logits=tensor(" in result.stdout
