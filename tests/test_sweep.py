"""The vectorised sweep against a plain per-cell computation through `sampling.apply`."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from sampling import SamplingConfig, apply, load_model
from sampling.metrics import entropy
from sampling.study import margin_table, read_prompts, read_results
from sampling.sweep import Grids, main, sweep_logits

ROOT = Path(__file__).resolve().parent.parent
TEMPERATURES, TOP_PS = (0.05, 0.3, 0.7, 1.0, 1.6, 5.0), (0.05, 0.25, 0.5, 0.9, 0.99, 1.0)
SMALL_GRIDS = Grids(temperatures=TEMPERATURES, top_ps=TOP_PS, top_ks=(1, 3, 40, 10_000), min_ps=(0.0, 0.02, 0.3, 0.9),
                    joint_top_ps=TOP_PS, joint_temperatures=TEMPERATURES)


def per_cell(logits: torch.Tensor, row) -> tuple[float, int]:
    config = SamplingConfig(temperature=float(row.temperature), top_p=float(row.top_p), top_k=int(row.top_k),
                            min_p=float(row.min_p))
    trace = apply(logits[int(row.prompt_index)], config)
    return entropy(trace.probs, bits=True).item(), int(trace.kept.sum())


def assert_matches_per_cell(logits: torch.Tensor, grids: Grids) -> pd.DataFrame:
    results = pd.concat(list(sweep_logits(logits, grids)), ignore_index=True)
    for row in results.itertuples():
        expected_entropy, expected_kept = per_cell(logits, row)
        assert row.tokens_kept == expected_kept, row
        assert row.entropy_bits == pytest.approx(expected_entropy, abs=1e-5), row  # float32, as the engines
    return results


def test_random_logits_match_apply_cell_by_cell():
    generator = torch.Generator().manual_seed(0)
    logits = (torch.randn(4, 700, generator=generator) * torch.tensor([[0.5], [2.0], [4.0], [8.0]]))
    logits[0, :50] = 3.0  # ties
    results = assert_matches_per_cell(logits, SMALL_GRIDS)
    assert set(results["sweep"]) == {"temperature", "top_p", "top_k", "min_p", "joint"}
    assert len(results[results["sweep"] == "joint"]) == 4 * 6 * 6


def test_bundled_model_logits_match_apply_cell_by_cell():
    handle = load_model("fortune-small")
    prompts = [prompt.text for prompt in read_prompts()[::25]]
    logits = torch.stack([handle.next_token_logits(prompt).logits for prompt in prompts])
    assert_matches_per_cell(logits, SMALL_GRIDS)


def test_float32_kept_sets_equal_apply():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 5000, generator=generator) * 3
    results = pd.concat(list(sweep_logits(logits, SMALL_GRIDS)), ignore_index=True)
    for row in results.sample(150, random_state=0).itertuples():
        expected_entropy, expected_kept = per_cell(logits, row)
        assert row.tokens_kept == expected_kept
        assert row.entropy_bits == pytest.approx(expected_entropy, abs=1e-4)


def test_bad_grids_are_refused():
    with pytest.raises(ValueError, match="top_ps must be a non-empty list of values in \\(0, 1\\]"):
        Grids(top_ps=(0.0, 0.5))
    with pytest.raises(ValueError, match="temperatures"):
        Grids(temperatures=())


def test_shipped_prompt_set():
    prompts = read_prompts()
    assert len(prompts) >= 100
    assert {"factual", "narrative", "dialogue", "code", "list", "chinese"} == {p.category for p in prompts}
    assert any("\n" in p.text for p in prompts if p.category == "code")


def test_command_line_writes_results_for_three_kinds_of_context(tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("The cat\nOnce upon a time\nTo be or not to be\n", encoding="utf-8")
    out = tmp_path / "results.csv"
    main(["--models", "fortune-small", "--prompts", str(prompts), "--out", str(out),
          "--temperatures", "0.1:1.0:0.1", "--top-ps", "0.1:1.0:0.1", "--windows", "1",
          "--generated-prompts", "1", "--generated-samples", "2", "--generated-steps", "3"])
    printed = capsys.readouterr().out
    results = read_results(out)
    assert set(results["model"]) == {"fortune-small"}
    contexts = results.groupby("context_set")["prompt_index"].nunique().to_dict()
    assert contexts["prompts"] == 3 and contexts["heldout"] == 64 and 1 <= contexts["generated"] <= 6
    assert results["zipf_s"].between(0.2, 4).all()
    assert "fortune-small: at 0.5, mean |ΔH_T| − |ΔH_p| =" in printed
    assert results.groupby("context_set")["cluster"].nunique().to_dict() == {
        "prompts": 3, "heldout": 1, "generated": 2}, "a prompt, a window, a continuation: one cluster each"
    facts = pd.read_csv(tmp_path / "results-models.csv").iloc[0]
    assert facts["model"] == "fortune-small" and facts["heldout_contexts"] == 64
    assert 1 < facts["perplexity_fortunes"] < 1000
    table = margin_table(results)
    at_one = table[table["value"] == 1.0].iloc[0]
    assert at_one["margin_bits"] == pytest.approx(0, abs=1e-5)
    merged = tmp_path / "merged.parquet"
    main(["merge", str(out), str(out), "--out", str(merged)])
    assert len(read_results(merged)) == 2 * len(results)


def test_command_line_refuses_a_bad_grid():
    result = subprocess.run([sys.executable, "-m", "sampling.sweep", "--top-ps", "0,0.5"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "top_ps must be" in result.stderr


def test_unreadable_results_file_gets_a_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="lacks the columns"):
        read_results(bad)
