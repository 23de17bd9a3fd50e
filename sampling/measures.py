"""The study's measures: how far temperature and top_p move next-token entropy, and how to compare
them fairly, with uncertainty.

All functions are pure (arrays or DataFrames in, numbers or DataFrames out) so that each can be
checked on distributions whose answer is known by hand (`tests/test_measures.py`).

- `margin`: |ΔH_T| − |ΔH_p| at equal nominal values (positive: temperature moved entropy more).
- `exchange_rate`: the top_p that gives the same entropy as temperature T — the fair comparison,
  since T rescales logits and top_p is a probability mass.
- `sensitivity`: dH/dT and dH/dp at the defaults people use.
- `bootstrap_interval` (paired, over contexts) and `wilson_interval` (shares of contexts).
- `zipf_exponent` and `zipf_margin`: the theory. For p ∝ rank^−s, the margin at a value has one
  sign for small s and the other for large s; each context's fitted s predicts who wins.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

Z_95 = 1.959963984540054


def bootstrap_interval(values: np.ndarray, statistic: Callable[[np.ndarray], float] = np.mean,
                       resamples: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over the rows of ``values`` (contexts).

    Paired measures (a margin is one context's temperature change minus its top_p change) are
    resampled as pairs: pass the per-context differences.
    """
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    estimates = np.apply_along_axis(statistic, 1, values[picks]) if statistic is not np.mean else values[picks].mean(1)
    tail = (1 - level) / 2
    return float(np.quantile(estimates, tail)), float(np.quantile(estimates, 1 - tail))


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a share (95 % by default)."""
    if trials == 0:
        return (math.nan, math.nan)
    share = successes / trials
    denominator = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def margin(raw_bits: np.ndarray, temperature_bits: np.ndarray, top_p_bits: np.ndarray) -> np.ndarray:
    """|ΔH_T| − |ΔH_p| per context, in bits: positive where temperature moved entropy more."""
    return np.abs(temperature_bits - raw_bits) - np.abs(top_p_bits - raw_bits)


def exchange_rate(top_ps: np.ndarray, top_p_bits: np.ndarray, target_bits: float) -> float:
    """The top_p whose entropy equals ``target_bits``, by linear interpolation along the curve
    entropy(top_p) (non-decreasing in top_p). NaN when the target is outside the curve's range
    (above its top: only a temperature above 1 reaches it)."""
    order = np.argsort(top_ps)
    top_ps, top_p_bits = np.asarray(top_ps, float)[order], np.asarray(top_p_bits, float)[order]
    if not top_p_bits[0] <= target_bits <= top_p_bits[-1]:
        return math.nan
    above = int(np.searchsorted(top_p_bits, target_bits, side="left"))
    if above == 0 or top_p_bits[above] == target_bits:
        return float(top_ps[above])
    low, high = above - 1, above
    fraction = (target_bits - top_p_bits[low]) / (top_p_bits[high] - top_p_bits[low])
    return float(top_ps[low] + fraction * (top_ps[high] - top_ps[low]))


def slope(values: np.ndarray, bits: np.ndarray, low: float, high: float) -> float:
    """Mean slope of entropy (bits per unit of the control) between ``low`` and ``high``."""
    values, bits = np.asarray(values, float), np.asarray(bits, float)
    at_low, at_high = np.interp(low, values, bits), np.interp(high, values, bits)
    return float((at_high - at_low) / (high - low))


def zipf_exponent(probs: torch.Tensor, ranks: int = 100) -> float:
    """The exponent s of p ∝ rank^−s fitted (least squares in log–log) to the ``ranks`` most
    likely tokens of a distribution ``[vocab]``."""
    top = torch.topk(probs.double(), min(ranks, probs.shape[-1])).values
    top = top[top > 0]
    if len(top) < 3:
        return math.nan
    log_rank = torch.log(torch.arange(1, len(top) + 1, dtype=torch.float64))
    log_prob = torch.log(top)
    centred = log_rank - log_rank.mean()
    return float(-(centred * (log_prob - log_prob.mean())).sum() / (centred * centred).sum())


def zipf_probs(s: float, vocab: int) -> torch.Tensor:
    ranks = torch.arange(1, vocab + 1, dtype=torch.float64)
    weights = ranks ** (-s)
    return weights / weights.sum()


def _entropy_bits(probs: torch.Tensor) -> float:
    return float(-(torch.special.xlogy(probs, probs)).sum() / math.log(2))


def zipf_margin(s: float, vocab: int, value: float) -> float:
    """The margin |ΔH_T| − |ΔH_p| (bits) at temperature = top_p = ``value`` for p ∝ rank^−s over
    ``vocab`` tokens: the theory's prediction."""
    probs = zipf_probs(s, vocab)
    raw = _entropy_bits(probs)
    scaled = zipf_probs(s / value, vocab)
    cumulative = probs.cumsum(0)
    kept = int((cumulative < value - 1e-12).sum()) + 1
    truncated = probs[:kept] / probs[:kept].sum()
    return abs(_entropy_bits(scaled) - raw) - abs(_entropy_bits(truncated) - raw)


def zipf_crossing(vocab: int, value: float, low: float = 0.4, high: float = 3.0, steps: int = 40) -> float:
    """The exponent s above which top_p moves entropy more than temperature at ``value`` for a
    Zipf distribution over ``vocab`` tokens: scanned from the s where temperature leads most, then
    bisected. NaN when temperature leads up to ``high``.

    (Very flat distributions, s well below 1, can favour top_p too: temperature hardly changes a
    near-uniform distribution. Real next-token distributions are far steeper than that.)
    """
    grid = np.linspace(low, high, 53)
    margins = np.array([zipf_margin(s, vocab, value) for s in grid])
    start = int(np.argmax(margins))
    behind = np.flatnonzero(margins[start:] < 0)
    if margins[start] <= 0 or len(behind) == 0:
        return math.nan
    upper = start + int(behind[0])
    low, high = float(grid[upper - 1]), float(grid[upper])
    for _ in range(steps):
        middle = (low + high) / 2
        if zipf_margin(middle, vocab, value) > 0:
            low = middle
        else:
            high = middle
    return (low + high) / 2
