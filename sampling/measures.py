"""The study's measures: how far temperature and top_p move next-token entropy, and how to compare
them fairly, with uncertainty.

All functions are pure (arrays or DataFrames in, numbers or DataFrames out) so that each can be
checked on distributions whose answer is known by hand (`tests/test_measures.py`).

- `margin`: |ΔH_T| − |ΔH_p| at equal nominal values (positive: temperature moved entropy more).
- `exchange_rate`: the top_p that gives the same entropy as temperature T — the fair comparison,
  since T rescales logits and top_p is a probability mass.
- `sensitivity`: dH/dT and dH/dp at the defaults people use.
- `cluster_bootstrap`: resamples whole clusters (a held-out window, a prompt, a sampled
  continuation) within each kind of context, and weights the kinds equally (`kind_weighted_mean`);
  `bootstrap_interval` (over independent rows) and `wilson_interval` (a share of independent trials).
- `threshold_rule`: a one-feature rule "temperature wins when x < θ (or > θ)", fitted on one model
  and tested on another.
- `zipf_exponent` and `zipf_margin`: the theory. For p ∝ rank^−s, the margin at a value has one
  sign for small s and the other for large s; each context's fitted s predicts who wins.
"""

from __future__ import annotations

import functools
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
    return percentile_interval(estimates, level)


def kind_weighted_mean(values: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """The mean of each kind's mean (each kind of context counts the same, whatever its size), over
    the first axis of ``values`` (``[contexts]`` or ``[contexts, d]``)."""
    values, kinds = np.asarray(values, dtype=float), np.asarray(kinds)
    return np.mean([values[kinds == kind].mean(axis=0) for kind in np.unique(kinds)], axis=0)


def cluster_bootstrap(values: np.ndarray, clusters: np.ndarray, kinds: np.ndarray, resamples: int = 2000,
                      seed: int = 0) -> np.ndarray:
    """Bootstrap estimates of `kind_weighted_mean`, resampling whole clusters with replacement
    within each kind: ``[resamples]`` (or ``[resamples, d]`` for ``values [contexts, d]``).

    Contexts of one cluster (the 64 positions of a window, the steps of one continuation) are
    correlated, so resampling single contexts would give intervals too narrow; a cluster of one
    context is the ordinary bootstrap.
    """
    values = np.asarray(values, dtype=float)
    clusters, kinds = np.asarray(clusters), np.asarray(kinds)
    rng = np.random.default_rng(seed)
    kind_means = []
    for kind in np.unique(kinds):
        in_kind = kinds == kind
        labels, which = np.unique(clusters[in_kind], return_inverse=True)
        sums = np.zeros((len(labels), *values.shape[1:]))
        np.add.at(sums, which, values[in_kind])
        counts = np.bincount(which, minlength=len(labels)).astype(float)
        picks = rng.integers(0, len(labels), size=(resamples, len(labels)))
        total_counts = counts[picks].sum(axis=1)
        kind_means.append(sums[picks].sum(axis=1) / total_counts.reshape(-1, *([1] * (values.ndim - 1))))
    return np.mean(kind_means, axis=0)


def percentile_interval(estimates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap estimates (NaN ones left out)."""
    estimates = np.asarray(estimates, dtype=float)
    estimates = estimates[~np.isnan(estimates)]
    if len(estimates) == 0:
        return (math.nan, math.nan)
    tail = (1 - level) / 2
    return float(np.quantile(estimates, tail)), float(np.quantile(estimates, 1 - tail))


def adjusted_level(comparisons: int, level: float = 0.95) -> float:
    """Bonferroni: the level of each of ``comparisons`` intervals so that all of them hold
    together with probability at least ``level``."""
    return 1 - (1 - level) / max(1, comparisons)


def threshold_rule(feature: np.ndarray, temperature_wins: np.ndarray) -> tuple[float, bool]:
    """The rule "temperature wins when ``feature`` < θ" (``below=True``) or "> θ" that is right
    for the most contexts: returns (θ, below). θ is a midpoint between two neighbouring values."""
    feature, wins = np.asarray(feature, dtype=float), np.asarray(temperature_wins, dtype=bool)
    order = np.argsort(feature, kind="stable")
    feature, wins = feature[order], wins[order]
    # Right answers of "below θ" when θ sits after the first i contexts: wins among the first i,
    # losses among the rest.
    wins_before = np.concatenate([[0], np.cumsum(wins)])
    losses_after = np.concatenate([np.cumsum((~wins)[::-1])[::-1], [0]])
    below_right = wins_before + losses_after
    above_right = len(wins) - below_right
    cuts = np.concatenate([[feature[0] - 1], (feature[:-1] + feature[1:]) / 2, [feature[-1] + 1]])
    # Only cuts between distinct values are real choices.
    valid = np.concatenate([[True], feature[1:] > feature[:-1], [True]])
    best_below, best_above = np.where(valid, below_right, -1).argmax(), np.where(valid, above_right, -1).argmax()
    if below_right[best_below] >= above_right[best_above]:
        return float(cuts[best_below]), True
    return float(cuts[best_above]), False


def apply_threshold_rule(feature: np.ndarray, threshold: float, below: bool) -> np.ndarray:
    """Where the rule predicts that temperature wins."""
    feature = np.asarray(feature, dtype=float)
    return feature < threshold if below else feature > threshold


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
    curve = np.asarray(top_p_bits, float)[order][None, :]
    return float(exchange_rates(np.asarray(top_ps, float)[order], curve, np.array([[target_bits]]))[0, 0])


def exchange_rates(top_ps: np.ndarray, curves: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """`exchange_rate` for many curves at once: ``curves [n, P]`` over ascending ``top_ps [P]``,
    ``targets [n, T]``; returns ``[n, T]``. At the first point of the curve at or above the
    target: that top_p when it is the first point or hits the target exactly, else the linear
    interpolation from the point before it."""
    top_ps, curves, targets = np.asarray(top_ps, float), np.asarray(curves, float), np.asarray(targets, float)
    above = (curves[:, None, :] < targets[:, :, None]).sum(axis=-1)  # searchsorted, side="left", per row
    inside = (curves[:, :1] <= targets) & (targets <= curves[:, -1:])
    above = np.minimum(above, curves.shape[1] - 1)
    high = np.take_along_axis(curves, above, axis=1)
    low_index = np.maximum(above - 1, 0)
    low = np.take_along_axis(curves, low_index, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(high > low, (targets - low) / (high - low), 1.0)
    exact = (above == 0) | (high == targets)
    rates = np.where(exact, top_ps[above], top_ps[low_index] + fraction * (top_ps[above] - top_ps[low_index]))
    return np.where(inside, rates, np.nan)


def slope(values: np.ndarray, bits: np.ndarray, low: float, high: float) -> float | np.ndarray:
    """Mean slope of entropy (bits per unit of the control) between ``low`` and ``high``, along
    ascending ``values``; ``bits`` is one curve or ``[n, len(values)]`` of them."""
    values, bits = np.asarray(values, float), np.asarray(bits, float)

    def at(x: float) -> np.ndarray:
        right = int(np.clip(np.searchsorted(values, x), 1, len(values) - 1))
        weight = (x - values[right - 1]) / (values[right] - values[right - 1])
        return bits[..., right - 1] + np.clip(weight, 0, 1) * (bits[..., right] - bits[..., right - 1])

    result = (at(high) - at(low)) / (high - low)
    return float(result) if result.ndim == 0 else result


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


@functools.lru_cache(maxsize=64)
def zipf_crossing(vocab: int, value: float, low: float = 0.4, high: float = 3.0, steps: int = 24) -> float:
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
