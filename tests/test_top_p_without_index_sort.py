"""top_p without transformers' index sort (`sampling.engines.hf.TopPWithoutIndexSort`) keeps
exactly the tokens transformers' own `TopPLogitsWarper` keeps, bit for bit, ties included: on
random logits, on logits full of ties, after other stages removed tokens, on batches whose rows
share one tensor, and on a real model's logits, where the warper itself never has to run."""

import pytest
import torch
from transformers.generation.logits_process import TopPLogitsWarper

from sampling import load_model
from sampling.engines.hf import TopPWithoutIndexSort


def random_scores(kind: str, generator: torch.Generator) -> torch.Tensor:
    rows = int(torch.randint(1, 5, (1,), generator=generator))
    vocab = int(torch.randint(2, 3000, (1,), generator=generator))
    if kind == "spread":
        return torch.randn(rows, vocab, generator=generator) * float(torch.rand(1, generator=generator) * 10)
    if kind == "ties":
        return torch.randint(-3, 4, (rows, vocab), generator=generator).float()
    if kind == "removed":
        scores = torch.randn(rows, vocab, generator=generator)
        return scores.masked_fill(torch.rand(rows, vocab, generator=generator) < 0.5, -float("inf"))
    return (torch.randn(1, vocab, generator=generator) * 5).expand(rows, -1)


@pytest.fixture
def warper_calls(monkeypatch):
    """How often the fast top_p hands a batch to transformers' own warper."""
    calls = []
    own = TopPLogitsWarper.__call__

    def counted(self, input_ids, scores):
        calls.append(type(self))
        return own(self, input_ids, scores)

    monkeypatch.setattr(TopPLogitsWarper, "__call__", counted)
    return calls


@pytest.mark.parametrize("kind", ["spread", "ties", "removed", "shared rows"])
def test_the_kept_set_is_the_warpers_own_bit_for_bit(kind):
    generator = torch.Generator().manual_seed(len(kind))
    for case in range(400):
        scores = random_scores(kind, generator)
        top_p = float(torch.rand(1, generator=generator)) if case % 5 else (case % 10 + 1) / 10
        expected = TopPLogitsWarper(top_p)(None, scores)
        assert torch.equal(TopPWithoutIndexSort(top_p)(None, scores), expected), (kind, case, top_p)


def test_ties_straddling_the_cut_are_left_to_the_warper(warper_calls):
    # Four equal logits of p = 0.017 each; top_p 0.95 removes two of them (cumulative 0.034 <= 0.05),
    # and which two depends on torch's sort.
    scores = torch.tensor([[5.0, 1.0, 1.0, 1.0, 1.0]])
    result = TopPWithoutIndexSort(0.95)(None, scores)
    assert torch.equal(result, TopPLogitsWarper(0.95)(None, scores))
    assert int(result.isinf().sum()) == 2
    assert warper_calls.count(TopPWithoutIndexSort) == 1


def test_real_logits_never_need_the_warper(warper_calls):
    model = load_model("fortune-base")
    logits = model.next_token_logits("Once upon a time").logits.float().expand(4, -1)
    for top_p in (0.1, 0.5, 0.9, 0.95, 0.99):
        result = TopPWithoutIndexSort(top_p)(None, logits)
        assert torch.equal(result, TopPLogitsWarper(top_p)(None, logits))
    assert TopPWithoutIndexSort not in warper_calls


def test_off_the_cpu_or_in_other_precisions_the_warper_runs(warper_calls):
    scores = torch.randn(2, 100, dtype=torch.float64)
    assert torch.equal(TopPWithoutIndexSort(0.7)(None, scores), TopPLogitsWarper(0.7)(None, scores))
    assert TopPWithoutIndexSort in warper_calls
