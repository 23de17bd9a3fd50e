"""Cuts that fall inside a group of exactly tied logits are reported by the stage that made them."""

import pytest
import torch

from sampling import SamplingConfig, apply
from sampling.engines.llama_cpp import native_module


def ties(trace, stage: str) -> tuple[int, int]:
    found = trace.stage(stage).details["ties"]
    return int(found["tied"]), int(found["kept"])


def test_top_k_two_of_zero_one_one_two_in_every_engine():
    """(0, 1, 1, 2), k = 2: the 2nd and 3rd largest tie at 1."""
    logits = torch.tensor([0.0, 1.0, 1.0, 2.0])
    for order in ("transformers", "vllm"):
        trace = apply(logits, SamplingConfig(top_k=2, order=order))
        assert trace.kept.tolist() == [False, True, True, True]
        assert ties(trace, "top_k") == (2, 2)
    port = apply(logits, SamplingConfig(top_k=2, order="llama.cpp"), llama_cpp="port")
    assert port.kept.tolist() == [False, True, False, True]
    assert ties(port, "top_k") == (2, 1)


@pytest.mark.skipif(native_module() is None, reason="llama-cpp-python is not installed")
def test_llama_cpp_itself_breaks_ties_by_its_partial_sort_not_by_id():
    """The issue's cases: llama.cpp keeps {2, 3} of (0, 1, 1, 2) at k = 2, and with k = 3 and T = 0
    on (0, 2, 2, 1) it picks token 2, the first maximum of its partially sorted array."""
    native = apply(torch.tensor([0.0, 1.0, 1.0, 2.0]), SamplingConfig(top_k=2, order="llama.cpp"), llama_cpp="native")
    assert native.kept.tolist() == [False, False, True, True]
    assert ties(native, "top_k") == (2, 1)
    greedy = apply(torch.tensor([0.0, 2.0, 2.0, 1.0]), SamplingConfig(top_k=3, temperature=0, order="llama.cpp"),
                   llama_cpp="native")
    assert greedy.kept.tolist() == [False, False, True, False]
    assert ties(greedy, "temperature") == (2, 1)


def test_greedy_between_equal_maxima():
    trace = apply(torch.tensor([1.0, 3.0, 3.0]), SamplingConfig(temperature=0))
    assert trace.kept.tolist() == [False, True, False]
    assert ties(trace, "greedy") == (2, 1)


def test_top_p_cut_inside_a_tie():
    """Four equal tokens, top_p 0.5: two are kept, two removed, all at the same logit."""
    trace = apply(torch.zeros(4), SamplingConfig(top_p=0.5))
    assert int(trace.kept.sum()) == 2
    assert ties(trace, "top_p") == (4, 2)


def test_distinct_logits_report_no_tie():
    trace = apply(torch.tensor([3.0, 2.0, 1.0, 0.0]), SamplingConfig(top_k=2, top_p=0.9, min_p=0.1, temperature=0.7))
    for stage in trace.stages:
        if "ties" in stage.details:
            assert int(stage.details["ties"]["tied"]) == 0, stage.name


def test_bf16_rows_of_a_qwen_sized_vocabulary_tie_at_k_40():
    """bf16 keeps 8 bits of mantissa: among 152,064 logits the 40th and 41st largest often tie.
    Rows are counted, not picked: at least one in eight of these rows ties at k = 40."""
    generator = torch.Generator().manual_seed(7)
    rows = (torch.randn(8, 152_064, generator=generator) * 2).to(torch.bfloat16)
    for order in ("transformers", "llama.cpp"):
        trace = apply(rows, SamplingConfig(top_k=40, order=order))
        tied = trace.stage("top_k").details["ties"]["tied"]
        assert int((tied >= 2).sum()) >= 1, order
        if order == "transformers":
            assert bool((trace.kept.sum(dim=-1)[tied >= 2] > 40).all())
        else:
            assert bool((trace.kept.sum(dim=-1) == 40).all())


def test_the_panel_says_so_in_one_line_per_tied_cut():
    from app.notices import stage_notices

    trace = apply(torch.tensor([0.0, 1.0, 1.0, 2.0]), SamplingConfig(top_k=2, order="llama.cpp"), llama_cpp="port")
    (line,) = stage_notices(trace, "en")
    assert line.startswith("top_k: the cut falls inside 2 tokens tied at logit 1; 1 of them kept.")
    assert "std::partial_sort" in line
    (line,) = stage_notices(trace, "zh")
    assert line.startswith("top_k：截断落在 2 个 logit 同为 1 的词元之间，保留了其中 1 个。")
    bf16_row = (torch.randn(152_064, generator=torch.Generator().manual_seed(7)) * 2).to(torch.bfloat16)
    (line,) = stage_notices(apply(bf16_row, SamplingConfig(top_k=40)), "en")
    assert line.startswith("top_k: the cut falls inside") and "keeps every token tied with the k-th" in line


def test_the_engines_own_changes_are_said_too():
    from app.notices import stage_notices

    trace = apply(torch.tensor([1.0, 0.999, -2.0]), SamplingConfig(temperature=0.001, order="vllm"))
    assert stage_notices(trace, "en") == ["vLLM raises temperature 0.001 to 0.01"]
    assert stage_notices(trace, "zh") == ["vLLM 把温度 0.001 提高到 0.01"]
