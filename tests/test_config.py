import math

import pytest
import torch

from sampling import SamplingConfig, apply


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"temperature": -0.5}, r"temperature must be in \[0.0, inf\), got -0.5"),
        ({"top_p": 0.0}, r"top_p must be in \(0.0, 1.0\], got 0.0"),
        ({"top_p": 1.2}, r"top_p must be in \(0.0, 1.0\], got 1.2"),
        ({"top_p": math.nan}, r"top_p must be finite, got nan"),
        ({"temperature": math.inf}, r"temperature must be finite, got inf"),
        ({"temperature": "0.7"}, r"temperature must be a number, got '0.7' \(str\)"),
        ({"top_k": 2.5}, r"top_k must be a whole number, got 2.5"),
        ({"top_k": -2}, r"top_k must be in \[-1, 2147483647\], got -2"),
        ({"top_k": -1}, r"top_k must be 0 \(off\) or a positive integer for the transformers order"),
        ({"top_k": True}, r"top_k must be an integer, got True \(bool\)"),
        ({"min_p": 1.5}, r"min_p must be in \[0.0, 1.0\], got 1.5"),
        ({"typical_p": 0}, r"typical_p must be in \(0.0, 1.0\], got 0"),
        ({"epsilon_cutoff": 1.0}, r"epsilon_cutoff must be in \[0.0, 1.0\), got 1.0"),
        ({"eta_cutoff": -0.1}, r"eta_cutoff must be in \[0.0, 1.0\), got -0.1"),
        ({"order": "sglang"}, r"order must be one of transformers, vllm, llama.cpp, custom, got 'sglang'"),
    ],
)
def test_bad_settings_name_the_field_value_and_range(settings, message):
    with pytest.raises(ValueError, match=message):
        SamplingConfig(**settings)


def test_config_is_immutable_and_revalidates_changes():
    config = SamplingConfig(top_p=0.9)
    with pytest.raises(AttributeError):
        config.top_p = 0.5
    assert config.with_values(top_k=5).top_k == 5
    with pytest.raises(ValueError, match="top_k"):
        config.with_values(top_k=-5)


def test_whole_float_top_k_becomes_an_int():
    assert SamplingConfig(top_k=40.0).top_k == 40
    assert isinstance(SamplingConfig(top_k=40.0).top_k, int)


def test_generate_kwargs_never_leave_the_hidden_top_k_default():
    assert SamplingConfig(top_p=0.9).to_generate_kwargs()["top_k"] == 0
    assert SamplingConfig(temperature=0).to_generate_kwargs() == {"do_sample": False, "repetition_penalty": 1.0}


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_logits_are_refused(bad):
    logits = torch.tensor([[0.0, 1.0], [bad, 0.5]])
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        apply(logits, SamplingConfig())


def test_wrong_logits_shape_is_refused():
    with pytest.raises(ValueError, match=r"shape \[vocab\] or \[batch, vocab\]"):
        apply(torch.zeros(2, 3, 4), SamplingConfig())
    with pytest.raises(ValueError, match="floating-point"):
        apply(torch.tensor([1, 2, 3]), SamplingConfig())


def test_low_precision_input_is_computed_in_float32():
    logits = torch.randn(3, 100).to(torch.bfloat16)
    trace = apply(logits, SamplingConfig(temperature=0.7, top_p=0.8))
    assert trace.logits.dtype == torch.float32
    assert trace.probs.dtype == torch.float32
    assert torch.allclose(trace.probs.sum(-1), torch.ones(3))
