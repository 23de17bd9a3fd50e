"""The generated-text diversity measures of the study: the quality proxy by hand, the stratified
starts, and one small run of the sweep whose rows hold every measure at equal values and at equal
entropy."""

import math

import pandas as pd
import pytest
import torch

from sampling import load_model, study
from sampling.study import StudyPrompt


def test_perplexity_under_another_model_is_the_exponent_of_its_mean_surprise():
    """The scorer reads the texts with its own tokenizer: the prompt as it feeds text, the
    continuation after it."""
    scorer = load_model("fortune-base")
    prompt = scorer.tokenizer("hello, this is")["input_ids"]
    continuation = scorer.tokenizer(" my favorite thing", add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = scorer.model(input_ids=torch.tensor([prompt + continuation])).logits[0].float()
    log_probs = torch.log_softmax(logits, -1)
    surprises = [-float(log_probs[len(prompt) - 1 + i, token]) for i, token in enumerate(continuation)]
    assert study.perplexity_under(scorer, "hello, this is", " my favorite thing") == pytest.approx(
        math.exp(sum(surprises) / len(surprises)), rel=1e-5)


def test_starts_take_each_category_in_turn_and_held_out_passages_of_each_source():
    prompts = [StudyPrompt("facts", "a"), StudyPrompt("facts", "b"), StudyPrompt("story", "c"),
               StudyPrompt("code", "d")]
    heldout = {"one": "<|endoftext|>".join(["x" * 100, "short", "y" * 200]), "two": "z" * 300}
    starts = study.diversity_prompts(prompts, heldout, per_kind=4)
    assert [(start.category, start.text[:1]) for start in starts] == [
        ("facts", "a"), ("story", "c"), ("code", "d"), ("facts", "b"),
        ("heldout one", "x"), ("heldout two", "z"), ("heldout one", "y")]
    assert all(len(start.text) <= 160 for start in starts)


def test_a_small_diversity_run_measures_every_setting(monkeypatch):
    monkeypatch.setattr(study, "DIVERSITY_SAMPLES", 4)
    monkeypatch.setattr(study, "DIVERSITY_LENGTH", 8)
    monkeypatch.setattr(study, "DIVERSITY_SEEDS", (0, 1))
    monkeypatch.setattr(study, "diversity_prompts", lambda prompts, heldout: [StudyPrompt("facts", "hello, this is")])
    # An exchange rate given outright: top_p 0.4 has the entropy of T 0.5, and so on.
    results = pd.DataFrame({"model": ["fortune-small"]})
    monkeypatch.setattr(study, "exchange_table", lambda frame: pd.DataFrame(
        {"temperature": [0.5, 0.7, 0.9], "mean_top_p": [0.4, 0.6, 0.8]}))
    rows = pd.DataFrame(study.diversity_sweep(load_model("fortune-small"), results, [], {},
                                              scorer=load_model("fortune-base")))
    assert len(rows) == 2 * 9, "two seeds × (3 temperatures, 3 top_p, 3 top_p of equal entropy)"
    matched = rows[rows["matched_entropy"]]
    assert sorted(matched["value"].unique()) == [0.4, 0.6, 0.8]
    for column in ("distinct_1", "distinct_2", "distinct_3", "self_bleu", "repetition_rate"):
        assert rows[column].between(0, 1).all(), column
    assert (rows["entropy_rate_bits"] >= 0).all() and (rows["partner_perplexity"] > 1).all()
    # Sharper sampling repeats more: temperature 0.5 is less diverse than 0.9.
    by_value = rows[(rows["parameter"] == "temperature") & ~rows["matched_entropy"]].groupby("value")
    assert by_value["entropy_rate_bits"].mean()[0.5] < by_value["entropy_rate_bits"].mean()[0.9]


def test_the_contrast_pairs_by_start_and_matches_each_temperature_with_its_top_p():
    rows = []
    for start in range(6):
        for seed in (0, 1):
            for parameter, value, matched, distinct in [("temperature", 0.5, False, 0.30), ("temperature", 0.9, False, 0.80),
                                                        ("top_p", 0.5, False, 0.40), ("top_p", 0.9, False, 0.85),
                                                        ("top_p", 0.42, True, 0.35), ("top_p", 0.93, True, 0.80)]:
                rows.append({"model": "m", "start": start, "seed": seed, "parameter": parameter, "value": value,
                             "matched_entropy": matched, "distinct_2": distinct + 0.01 * start,
                             "self_bleu": 0.5, "entropy_rate_bits": 2.0})
    contrast = study.diversity_contrast(pd.DataFrame(rows)).set_index(["comparison", "temperature", "measure"])
    assert contrast.loc[("equal value", 0.5, "distinct_2"), "difference"] == pytest.approx(0.10)
    assert contrast.loc[("equal entropy", 0.5, "distinct_2"), "top_p"] == 0.42
    assert contrast.loc[("equal entropy", 0.5, "distinct_2"), "difference"] == pytest.approx(0.05)
    assert contrast.loc[("equal entropy", 0.9, "distinct_2"), ["difference", "low", "high"]].tolist() == \
        pytest.approx([0.0, 0.0, 0.0], abs=1e-12)
    assert contrast.loc[("equal value", 0.9, "distinct_2"), "starts"] == 6
    assert ("equal value", 0.5, "partner_surprise_nats") not in contrast.index, "no scorer, no quality proxy"
