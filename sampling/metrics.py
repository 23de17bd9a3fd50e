"""How spread out a distribution is, how far apart two are, and how varied a set of texts is."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import sacrebleu
import torch

from sampling.pipeline import Trace


def entropy(probs: torch.Tensor, *, bits: bool = False) -> torch.Tensor:
    """Shannon entropy ``-Σ p log p`` over the last axis, in nats (or bits); ``0 log 0 = 0``.

    >>> round(entropy(torch.full((8,), 1 / 8), bits=True).item(), 6)
    3.0
    """
    nats = -torch.special.xlogy(probs, probs).sum(dim=-1)
    return nats / math.log(2) if bits else nats


def entropy_of_logits(logits: torch.Tensor, *, bits: bool = False) -> torch.Tensor:
    """Entropy of ``softmax(logits)`` (``-inf`` = removed) as ``log Z - Σ p·(z - max)``: one
    exponential and no logarithm per token, which matters once per generated token at a 152k
    vocabulary."""
    shifted = logits - logits.amax(dim=-1, keepdim=True)
    weights = shifted.exp()
    total = weights.sum(dim=-1)
    weighted = (weights * shifted).nan_to_num_(nan=0.0)  # removed tokens: 0 · (-inf)
    nats = total.log() - weighted.sum(dim=-1) / total
    return nats / math.log(2) if bits else nats


def temperature_table(logits: torch.Tensor, temperatures: torch.Tensor, chunk: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """For each temperature T > 0 of ``temperatures [K]``: ``log Z(T) = logsumexp(logits / T)`` and
    the entropy (bits) of ``softmax(logits / T)``, in float64 over the whole vocabulary of
    ``logits [vocab]`` (``-inf`` = removed): with them, any token's probability at T is
    ``exp(logit / T - log Z(T))``. Linear in the vocabulary, ``chunk`` temperatures at a time.

    >>> log_z, bits = temperature_table(torch.zeros(4), torch.tensor([0.5, 1.0]))
    >>> [round(value, 4) for value in log_z.tolist()], bits.tolist()
    ([1.3863, 1.3863], [2.0, 2.0])
    """
    if (temperatures <= 0).any():
        raise ValueError(f"temperatures must be > 0, got {temperatures.tolist()}")
    values = logits.double()
    log_z, bits = [], []
    for start in range(0, len(temperatures), chunk):
        scaled = values[None, :] / temperatures[start : start + chunk, None].double()
        log_z.append(torch.logsumexp(scaled, dim=-1))
        bits.append(entropy_of_logits(scaled, bits=True))
    return torch.cat(log_z), torch.cat(bits)


def effective_tokens(probs: torch.Tensor) -> torch.Tensor:
    """``exp(H)``: the number of equally likely tokens with the same entropy (the perplexity)."""
    return torch.exp(entropy(probs))


def tokens_kept(probs: torch.Tensor) -> torch.Tensor:
    """Tokens with non-zero probability (see `summary` for tokens no stage removed)."""
    return (probs > 0).sum(dim=-1)


def top1_probability(probs: torch.Tensor) -> torch.Tensor:
    return probs.amax(dim=-1)


def kl_divergence(p: torch.Tensor, q: torch.Tensor, *, bits: bool = False) -> torch.Tensor:
    """``KL(p ‖ q) = Σ p log(p / q)``; infinite where q removed a token that p can draw."""
    nats = (torch.special.xlogy(p, p) - torch.special.xlogy(p, q)).sum(dim=-1)
    return nats / math.log(2) if bits else nats


def kl_divergence_of_logits(p_logits: torch.Tensor, q_logits: torch.Tensor, *, bits: bool = False) -> torch.Tensor:
    """``KL(p ‖ q)`` of the distributions ``softmax(p_logits)`` and ``softmax(q_logits)``, in float64
    and in log space: a probability that underflows to 0 in float32 (T 0.1 makes thousands of them)
    still has its logarithm, so KL is infinite only where q *removed* (logit -inf) a token p can draw.

    >>> logits = torch.tensor([0.0, -200.0])
    >>> kl_divergence_of_logits(logits, logits / 0.1).item() > 0, kl_divergence(logits.softmax(-1), (logits / 0.1).softmax(-1)).item()
    (True, 0.0)
    """
    log_p = torch.log_softmax(p_logits.double(), dim=-1)
    log_q = torch.log_softmax(q_logits.double(), dim=-1)
    p = log_p.exp()
    terms = torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p))
    drawn_but_removed = (p_logits > -math.inf) & (q_logits == -math.inf)
    nats = torch.where(drawn_but_removed.any(dim=-1), torch.full_like(terms[..., 0], math.inf), terms.sum(dim=-1))
    return nats / math.log(2) if bits else nats


def js_divergence_of_logits(p_logits: torch.Tensor, q_logits: torch.Tensor, *, bits: bool = False) -> torch.Tensor:
    """Jensen–Shannon divergence of two distributions given by their logits, in float64 log space."""
    log_p = torch.log_softmax(p_logits.double(), dim=-1)
    log_q = torch.log_softmax(q_logits.double(), dim=-1)
    log_middle = torch.logaddexp(log_p, log_q) - math.log(2)

    def kl_to_middle(log_x: torch.Tensor) -> torch.Tensor:
        x = log_x.exp()
        return torch.where(x > 0, x * (log_x - log_middle), torch.zeros_like(x)).sum(dim=-1)

    nats = (kl_to_middle(log_p) + kl_to_middle(log_q)) / 2
    return nats / math.log(2) if bits else nats


def js_divergence(p: torch.Tensor, q: torch.Tensor, *, bits: bool = False) -> torch.Tensor:
    """Jensen–Shannon divergence: symmetric, finite, at most ``log 2`` (1 bit)."""
    middle = (p + q) / 2
    return (kl_divergence(p, middle, bits=bits) + kl_divergence(q, middle, bits=bits)) / 2


def summary(trace: Trace) -> dict[str, float]:
    """The headline figures of one processed distribution ``[vocab]``, as plain floats.

    Tokens kept counts what no stage removed, even where a tiny temperature underflows a kept
    token's probability to 0.
    """
    probs = drawn_distribution(trace.probs)
    return {
        "entropy_bits": entropy(probs, bits=True).item(),
        "effective_tokens": effective_tokens(probs).item(),
        "tokens_kept": int(trace.kept.sum().item()),
        "top1_probability": top1_probability(probs).item(),
    }


def drawn_distribution(probs: torch.Tensor) -> torch.Tensor:
    """``probs`` in float64 divided by their sum: the distribution a draw follows (torch.multinomial
    and llama.cpp's ``dist`` both normalise what they are given). An engine's float32 softmax over a
    large vocabulary sums to 1 only to its rounding (1 + 2.8e-5 over Gemma 3's 262,144 tokens at
    T 1.6), which would move the entropy in its fourth decimal.

    >>> drawn_distribution(torch.tensor([0.5, 0.5001])).sum().item()
    1.0
    """
    probs = probs.double()
    return probs / probs.sum(dim=-1, keepdim=True)


def mass_removed(trace: Trace) -> dict[str, torch.Tensor]:
    """For each stage, the probability mass (of the distribution entering it) that it removed."""
    return {
        stage.name: torch.softmax(stage.logits_in, dim=-1).masked_fill(stage.kept, 0).sum(dim=-1)
        for stage in trace.stages
    }


def distinct_n(sequences: Sequence[Sequence[Hashable]], n: int) -> float:
    """Distinct n-grams over all n-grams in a set of token sequences (Li et al., 2016).

    1.0 means no n-gram repeats anywhere in the set; NaN when no sequence has n tokens.

    >>> distinct_n([["a", "b", "a"], ["a", "b"]], 1)
    0.4
    """
    ngrams = [tuple(tokens[i : i + n]) for tokens in sequences for i in range(len(tokens) - n + 1)]
    return len(set(ngrams)) / len(ngrams) if ngrams else math.nan


def repetition_rate(sequences: Sequence[Sequence[Hashable]], n: int = 4) -> float:
    """The share of a sequence's n-grams that already occurred earlier in the same sequence,
    pooled over the sequences: a repetition loop scores near 1, text that never repeats itself 0.
    NaN when no sequence has n tokens.

    >>> repetition_rate([["a", "b", "a", "b", "a", "b"]], 2)
    0.6
    """
    repeated = total = 0
    for tokens in sequences:
        seen: set[tuple] = set()
        for i in range(len(tokens) - n + 1):
            gram = tuple(tokens[i : i + n])
            repeated += gram in seen
            seen.add(gram)
            total += 1
    return repeated / total if total else math.nan


def self_bleu(texts: Sequence[str], *, tokenize: str = "13a") -> float:
    """Mean BLEU-4 of each text against all the others as references, in [0, 1] (Zhu et al., 2018).

    High means the samples repeat each other. Uses sacrebleu's sentence BLEU with effective
    n-gram order; NaN for fewer than two texts. ``tokenize="zh"`` suits Chinese text.
    """
    if len(texts) < 2:
        return math.nan
    bleu = sacrebleu.BLEU(tokenize=tokenize, effective_order=True)
    scores = [
        bleu.sentence_score(text, [other for j, other in enumerate(texts) if j != i]).score
        for i, text in enumerate(texts)
    ]
    return sum(scores) / len(scores) / 100


def mean_token_entropy(entropies: Sequence[float]) -> float:
    """Mean of per-token entropies over the tokens of generated texts; NaN when there are none."""
    return sum(entropies) / len(entropies) if entropies else math.nan
