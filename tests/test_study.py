"""The study's statistics and sentences on frames whose answers are known: the cluster bootstrap
on data with within-cluster correlation, the answer's sentences on frames where temperature wins
and where top_p does, the exact one-token part, the rule carried across models, and the two
exchange rates."""

import numpy as np
import pandas as pd
import pytest
import torch

from app.text import study_answer
from sampling import measures, study
from sampling.sweep import Grids, sweep_logits

GRIDS = Grids(temperatures=(0.1, 0.3, 0.5, 0.7, 0.9, 1.0), top_ps=(0.1, 0.3, 0.5, 0.7, 0.9, 1.0), joint=False)


def test_the_cluster_bootstrap_covers_the_mean_where_single_contexts_do_not():
    """40 clusters of 20 contexts sharing a cluster effect of variance 1, noise of variance 1:
    the mean's standard error is sqrt((1 + 1/20) / 40) = 0.162, not the sqrt(2 / 800) = 0.05 that
    treating contexts as independent gives."""
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(40), 20)
    kinds = np.full(len(clusters), "heldout")
    covered, naive_covered, widths = 0, 0, []
    for _ in range(100):
        values = rng.normal(size=40)[clusters] + rng.normal(size=len(clusters))
        low, high = measures.percentile_interval(measures.cluster_bootstrap(values, clusters, kinds, 1000))
        naive_low, naive_high = measures.percentile_interval(
            measures.cluster_bootstrap(values, np.arange(len(values)), kinds, 1000))
        covered += low <= 0 <= high
        naive_covered += naive_low <= 0 <= naive_high
        widths.append(high - low)
    assert covered >= 88, "about 95 of 100 intervals over clusters cover the true mean"
    assert naive_covered <= 60, "intervals over single contexts are far too narrow"
    assert np.median(widths) == pytest.approx(2 * 1.96 * np.sqrt(1.05 / 40), rel=0.15)


def test_each_kind_of_context_weighs_the_same():
    values = np.array([1.0] * 90 + [0.0] * 10)
    kinds = np.array(["heldout"] * 90 + ["prompts"] * 10)
    assert measures.kind_weighted_mean(values, kinds) == pytest.approx(0.5)
    estimates = measures.cluster_bootstrap(values, np.arange(100), kinds, 200)
    assert np.allclose(estimates, 0.5), "each kind's mean is constant here, so every resample gives 0.5"


def test_a_threshold_rule_finds_the_cut_and_its_direction():
    feature = np.array([0.5, 1.0, 2.0, 3.0, 6.0, 7.0, 8.0])
    wins = feature > 4
    assert measures.threshold_rule(feature, wins) == (pytest.approx(4.5), False)
    assert measures.threshold_rule(feature, ~wins) == (pytest.approx(4.5), True)
    assert measures.apply_threshold_rule(feature, 4.5, False).tolist() == wins.tolist()


def results_of(model: str, logits: torch.Tensor, kind: str = "heldout", window: int = 8) -> pd.DataFrame:
    """A results frame as `python -m sampling.sweep` writes it, for ``logits`` in clusters of ``window``."""
    frame = pd.concat(list(sweep_logits(logits, GRIDS, sweeps=("temperature", "top_p"))), ignore_index=True)
    frame.insert(0, "model", model)
    frame["context_set"], frame["category"] = kind, "text"
    frame["cluster"] = "window " + (frame["prompt_index"] // window).astype(str)
    frame["zipf_s"] = np.nan
    return frame


def peaked(count: int, seed: int) -> torch.Tensor:
    """Contexts whose top token has p of about 0.7, the rest spread thin: top_p 0.5 keeps the top
    token alone (entropy 0), temperature 0.5 leaves a little of the tail."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.log(torch.full((count, 500), 0.3 / 499)) + 0.3 * torch.randn(count, 500, generator=generator)
    logits[:, 0] = torch.log(torch.tensor(0.7))
    return logits


def flat(count: int, seed: int) -> torch.Tensor:
    """Broad contexts, p ∝ rank^-1 with a little noise: temperature 0.5 takes about 1 bit more off
    than top_p 0.5 does."""
    noise = 0.1 * torch.randn(count, 500, generator=torch.Generator().manual_seed(seed))
    return torch.log(measures.zipf_probs(1.0, 500)).float() + noise


def tables(results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    margin = study.margin_table(results, values=study.VALUES, resamples=300)
    return margin, study.exchange_table(results), study.rule_summary(study.cross_model_rules(results))


def test_the_answer_says_top_p_where_top_p_wins_and_temperature_where_temperature_does():
    top_p_frame = pd.concat([results_of("peaked-a", peaked(32, 0)), results_of("peaked-b", peaked(32, 1))])
    answer = study.answer(*tables(top_p_frame))
    assert (answer.leader, answer.per_context) == ("top_p", "top_p")
    assert answer.one_token_low == 1.0, "every context's top token has p >= 0.5"
    text = study_answer(answer, "en")
    assert text.startswith("On the mean, at equal values (0.5), top_p moves next-token entropy more in all 2 models")
    assert "top_p moves it more: temperature wins in under half" in text
    assert "top_p keeps only it" in text
    assert "temperature moves" not in text and "温度对下一个词元的熵影响更大" not in study_answer(answer, "zh")

    temperature_frame = pd.concat([results_of("flat-a", flat(32, 0)), results_of("flat-b", flat(32, 1))])
    answer = study.answer(*tables(temperature_frame))
    assert (answer.leader, answer.per_context) == ("temperature", "temperature")
    text = study_answer(answer, "en")
    assert text.startswith("On the mean, at equal values (0.5), temperature moves next-token entropy more in all 2")
    assert "in most contexts of every model" in text and "keeps only it" not in text


def test_mixed_models_are_counted_and_the_rule_carries_across_them():
    """Two models, each half peaked and half flat contexts: the exact part names top_p for the
    peaked half, and an entropy threshold fitted on one model names the winner on the other."""
    frames = [results_of(name, torch.cat([peaked(24, seed), flat(24, seed + 10)])) for seed, name in
              enumerate(("mixed-a", "mixed-b"))]
    margin, exchange, rules = tables(pd.concat(frames))
    cross = study.cross_model_rules(pd.concat(frames)).set_index(["fitted_on", "tested_on"])
    assert cross.loc[("mixed-a", "mixed-b"), "accuracy"] == pytest.approx(1.0)
    assert cross.loc[("mixed-a", "mixed-b"), "majority"] == pytest.approx(0.5)
    assert rules.set_index("model").loc["mixed-b", "one_token_share"] == pytest.approx(0.5)
    assert margin["top_p_wins_where_one_token"].all()
    answer = study.answer(margin, exchange, rules)
    assert answer.rule_transferred == pytest.approx(1.0) and answer.rule_majority == pytest.approx(0.5)
    assert "names the winner on the other models for 100% of contexts" in study_answer(answer, "en")


def test_the_two_exchange_rates_are_labelled_and_differ_where_entropy_is_not_linear():
    frame = pd.concat([results_of("mixed", torch.cat([peaked(16, 3), flat(16, 4)]))])
    exchange = study.exchange_table(frame).set_index("temperature")
    row = exchange.loc[0.5]
    assert 0 < row["mean_top_p"] < 1 and 0 < row["median_top_p"] <= 1
    assert row["mean_low"] <= row["mean_top_p"] <= row["mean_high"]
    # The mean rate equalises the means: top_p at it has (by interpolation) the temperature's mean entropy.
    pairs = study.paired(frame)
    at_half = pairs[np.isclose(pairs["value"], 0.5)]
    target = at_half["temperature_bits"].mean()
    curve = pairs.groupby("value")["top_p_bits"].mean()
    assert np.interp(row["mean_top_p"], curve.index, curve.to_numpy()) == pytest.approx(target, abs=1e-6)
