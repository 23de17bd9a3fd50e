"""Write the study report, docs/study/README.md, and its figures from sweep results.

    python -m sampling.sweep --out docs/study/sweep.parquet --generate
    python scripts/study_report.py

Every number in the report is computed here from the results files, so a rerun on other models
(see the report's "Reproduce") rewrites it.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import pandas as pd
import vl_convert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import charts  # noqa: E402
from app.text import chart_titles, study_answer  # noqa: E402
from sampling import measures, study  # noqa: E402
from sampling.models import BUNDLED_CORPUS  # noqa: E402

VALUES = (0.1, 0.3, 0.5, 0.7, 0.9)
EXCHANGE_TEMPERATURES = (0.3, 0.5, 0.7, 0.9)


def save_png(chart, path: Path) -> None:
    path.write_bytes(vl_convert.vegalite_to_png(chart.to_dict(), scale=2))


def markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(f"{value:.3f}" if isinstance(value, float) else str(value) for value in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def interval(value: float, low: float, high: float, form: str = "+.2f") -> str:
    return f"{value:{form}} ({low:{form}} to {high:{form}})"


def share(value: float, low: float, high: float) -> str:
    return f"{value:.0%} ({low:.0%}–{high:.0%})"


def models_table(results: pd.DataFrame, vocab: dict[str, int]) -> str:
    rows = []
    for model in sorted(results["model"].unique()):
        facts_path = ROOT / "models" / model / "training_facts.json"
        facts = json.loads(facts_path.read_text()) if facts_path.exists() else {}
        contexts = results[results["model"] == model].groupby("context_set")["prompt_index"].nunique().to_dict()
        rows.append({"model": model, "trained on": BUNDLED_CORPUS.get(model, "(hub)"),
                     "vocabulary": f"{vocab[model]:,}", "parameters": f"{facts.get('parameters', 0):,}",
                     "validation perplexity": f"{facts['validation_perplexity']:.1f}" if "validation_perplexity" in facts else "—",
                     "contexts (prompts / held-out / generated)":
                         f"{contexts.get('prompts', 0)} / {contexts.get('heldout', 0)} / {contexts.get('generated', 0)}"})
    return markdown_table(pd.DataFrame(rows))


def margin_section(margin: pd.DataFrame) -> str:
    shown = margin[margin["value"].round(6).isin(VALUES)]
    rows = [{"model": row.model, "value": f"{row.value:g}", "contexts": row.contexts,
             "margin, bits (95% CI)": interval(row.margin_bits, row.margin_low, row.margin_high),
             "temperature moved it more (95% CI)": share(row.temperature_share, row.share_low, row.share_high)}
            for row in shown.itertuples()]
    return markdown_table(pd.DataFrame(rows))


def exchange_section(exchange: pd.DataFrame) -> str:
    shown = exchange[exchange["temperature"].round(6).isin(EXCHANGE_TEMPERATURES)]
    wide = {}
    for row in shown.itertuples():
        wide.setdefault(row.model, {"model": row.model})[f"T {row.temperature:g}"] = (
            f"{row.top_p:.2f} ({row.top_p_low:.2f}–{row.top_p_high:.2f})")
    return markdown_table(pd.DataFrame(list(wide.values())))


def sensitivity_section(sensitivity: pd.DataFrame) -> str:
    wide = {}
    for row in sensitivity.itertuples():
        wide.setdefault(row.model, {"model": row.model})[
            "temperature 0.7→1.0" if row.control == "temperature" else "top_p 0.9→0.95"] = interval(
            row.bits_per_tenth, row.low, row.high)
    return markdown_table(pd.DataFrame(list(wide.values())))


def rule_section(rule: pd.DataFrame) -> str:
    rows = [{"model": row.model, "s* (theory)": f"{row.zipf_crossing:.2f}", "median fitted s": f"{row.median_s:.2f}",
             "contexts steeper than s*": f"{row.steeper_share:.0%}",
             "rule right (95% CI)": share(row.accuracy, row.accuracy_low, row.accuracy_high),
             "Spearman ρ(s, margin)": f"{row.spearman_s_margin:+.2f}"} for row in rule.itertuples()]
    return markdown_table(pd.DataFrame(rows))


def by_context_section(results: pd.DataFrame) -> str:
    rows = []
    for context_set in ("prompts", "heldout", "generated"):
        table = study.margin_table(results, context_set)
        table = table[(table["value"] - 0.5).abs() < 1e-9]
        for row in table.itertuples():
            rows.append({"contexts": context_set, "model": row.model, "n": row.contexts,
                         "margin at 0.5, bits (95% CI)": interval(row.margin_bits, row.margin_low, row.margin_high),
                         "temperature moved it more": share(row.temperature_share, row.share_low, row.share_high)})
    return markdown_table(pd.DataFrame(rows))


def runs(values: list[float], grid: list[float]) -> str:
    """``values`` as runs of neighbours on ``grid``: "0.05–0.15, 0.85–0.95"; "nowhere" when empty."""
    if not values:
        return "nowhere"
    positions = sorted(grid.index(value) for value in values)
    spans, first = [], positions[0]
    for previous, position in zip(positions, positions[1:] + [None]):
        if position != previous + 1:
            spans.append(f"{grid[first]:g}" if first == previous else f"{grid[first]:g}–{grid[previous]:g}")
            first = position
    return ", ".join(spans)


def flips(margin: pd.DataFrame) -> str:
    """Per model, the values where temperature leads (interval above 0) and where top_p does."""
    lines = []
    for model, group in margin.groupby("model"):
        grid = sorted(group["value"].tolist())
        temperature = group[group["margin_low"] > 0]["value"].tolist()
        top_p = group[group["margin_high"] < 0]["value"].tolist()
        lines.append(f"- `{model}`: temperature leads at {runs(temperature, grid)}; "
                     f"top_p at {runs(top_p, grid)}.")
    return "\n".join(lines)


def diversity_section(path: Path) -> str:
    if not path.exists():
        return "Not measured in this run (add `--generate` to the sweep).\n"
    diversity = pd.read_csv(path)
    measures_shown = ["distinct_2", "self_bleu", "entropy_rate_bits"] + (
        ["partner_perplexity"] if "partner_perplexity" in diversity.columns else [])
    rows = []
    for (model, parameter, value, matched), group in diversity.groupby(
            ["model", "parameter", "value", "matched_entropy"]):
        row = {"model": model, "setting": f"{parameter} {value:g}" + (" (equal entropy)" if matched else "")}
        for measure in measures_shown:
            values = group[measure].dropna().to_numpy()
            if len(values):
                low, high = measures.bootstrap_interval(values)
                row[measure] = f"{values.mean():.3f} ({low:.3f}–{high:.3f})"
        rows.append(row)
    starts = diversity.groupby("model")["start"].nunique().min()
    seeds = diversity["seed"].nunique()
    contrast = study.diversity_contrast(diversity)
    return (
        f"{starts} stratified starts per model (one shipped prompt per category and passages of the model's "
        f"own held-out text), {seeds} seeds, {study.DIVERSITY_SAMPLES} samples of {study.DIVERSITY_LENGTH} tokens "
        "per setting. \"Equal entropy\" uses the top_p whose next-token entropy matches temperature 0.5, 0.7 and "
        "0.9 (the model's median exchange rate). `partner_perplexity` (fortune models only): the perplexity the "
        "other fortune model, same tokenizer, gives the samples — a proxy for quality (lower is better).\n\n"
        + contrast_summary(contrast) + "\n\n"
        "Top_p minus temperature, paired by start and seed, with bootstrap 95% intervals over starts:\n\n"
        + markdown_table(contrast_table(contrast)) + "\n\n"
        "Each setting, means over starts and seeds (bootstrap 95% intervals):\n\n"
        + markdown_table(pd.DataFrame(rows)) + "\n"
    )


def contrast_table(contrast: pd.DataFrame) -> pd.DataFrame:
    shown = contrast.assign(cell=[interval(row.difference, row.low, row.high, "+.3f")
                                  for row in contrast.itertuples()])
    table = shown.pivot_table(index=["model", "comparison", "temperature", "top_p"], columns="measure",
                              values="cell", aggfunc="first").reset_index()
    table["temperature"] = table["temperature"].map(lambda value: f"{value:g}")
    table["top_p"] = table["top_p"].map(lambda value: f"{value:g}")
    # Equal values first, then equal entropy, as in the lines above the table.
    table["comparison"] = pd.Categorical(table["comparison"], ["equal value", "equal entropy"], ordered=True)
    return table.sort_values(["model", "comparison"], kind="stable").fillna("—")


def contrast_summary(contrast: pd.DataFrame) -> str:
    """One line per comparison, counted from the intervals (top_p minus temperature): in how many
    model × temperature cells each measure is higher or lower with its 95% interval off zero; and
    what that says at equal entropy, when the counts say it."""
    lines = []
    for comparison in ("equal value", "equal entropy"):
        part = contrast[contrast["comparison"] == comparison]
        counts = []
        for measure in study.DIVERSITY_MEASURES:
            cells = part[part["measure"] == measure]
            if not cells.empty:
                counts.append(f"{measure} higher in {int((cells['low'] > 0).sum())}, lower in "
                              f"{int((cells['high'] < 0).sum())} of {len(cells)}")
        lines.append(f"- At {comparison} (top_p minus temperature; model × temperature cells whose 95% interval "
                     f"excludes zero): " + "; ".join(counts) + ".")
    matched = contrast[contrast["comparison"] == "equal entropy"]
    distinct = matched[matched["measure"] == "distinct_2"]
    quality = matched[matched["measure"] == "partner_perplexity"]
    if len(distinct) and (distinct["low"] > 0).mean() > 0.5:
        line = ("- So even where the next-token entropy is the same, top_p's samples repeat fewer bigrams than "
                "temperature's: equal entropy does not make the two controls interchangeable")
        if len(quality) and (quality["low"] > 0).mean() > 0.5:
            line += ", and the partner model finds top_p's samples less likely (a lower quality proxy)"
        lines.append(line + ".")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "study" / "sweep.parquet")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "study")
    args = parser.parse_args()
    results = study.read_results(args.results)
    args.out.mkdir(parents=True, exist_ok=True)
    vocab = study.vocab_sizes(results)
    margin = study.margin_table(results)
    exchange = study.exchange_table(results)
    sensitivity = study.sensitivity_table(results)
    rule = study.rule_table(results, vocab)
    titles = chart_titles("en")
    save_png(charts.margin_chart(margin, titles).properties(width=420)
             | charts.exchange_chart(exchange, titles).properties(width=420), args.out / "answer.png")
    weakest, strongest = rule.loc[rule["accuracy"].idxmin()], rule.loc[rule["accuracy"].idxmax()]
    answer = (
        f"**{study_answer(study.verdict(margin, exchange, rule), 'en')}**\n\nThe rule, checked: with p ∝ rank^−s, "
        f"top_p moves entropy more at 0.5 once s exceeds s* (for these vocabularies "
        f"{rule['zipf_crossing'].min():.2f}–{rule['zipf_crossing'].max():.2f}); each context's fitted s predicts "
        f"which control wins for {weakest['accuracy']:.0%} (95% CI {weakest['accuracy_low']:.0%}–"
        f"{weakest['accuracy_high']:.0%}, {weakest['model']}) to {strongest['accuracy']:.0%} (95% CI "
        f"{strongest['accuracy_low']:.0%}–{strongest['accuracy_high']:.0%}, {strongest['model']}) of contexts. "
        f"These models' contexts are mostly flatter than s* ({rule['steeper_share'].min():.0%}–"
        f"{rule['steeper_share'].max():.0%} steeper), so temperature leads on average; peakier models, with "
        f"more contexts above s*, may not."
    )
    report = REPORT.format(
        answer=answer,
        models=models_table(results, vocab),
        margin=margin_section(margin),
        flips=flips(margin),
        exchange=exchange_section(exchange),
        sensitivity=sensitivity_section(sensitivity),
        rule=rule_section(rule),
        by_context=by_context_section(results),
        diversity=diversity_section(args.results.with_name(args.results.stem + "-diversity.csv")),
        machine=f"{platform.machine()}, Python {platform.python_version()}",
    )
    (args.out / "README.md").write_text(report, encoding="utf-8")
    print(f"wrote {args.out / 'README.md'} and {args.out / 'answer.png'}")


REPORT = """# Does temperature or top_p move entropy more?

The question this project grew from: if diversity is measured by the entropy of the next-token
distribution, which of temperature and top_p changes it more at the same numeric value, and does
the answer hold across models?

## Answer

{answer}

![Left: |ΔH_T| − |ΔH_p| against the value, one line per model with its 95% band (above zero: temperature
moved entropy more). Right: the top_p of equal entropy for each temperature, against the diagonal.](answer.png)

Where the sign flips, model by model (values where the 95% interval excludes zero):

{flips}

## Models and contexts

Five models trained here by `scripts/train_demo_models.py` on four corpora with four tokenizers.
Each model's next-token entropy is measured in three kinds of context: the shipped prompts
(`sampling/data/prompts.tsv`, last position), every position of eight 64-token windows at random
offsets in the model's held-out text, and every step of continuations it sampled itself.

{models}

## Measures

For each context, the entropy (bits) of the distribution a token is drawn from under temperature
alone (0.05 to 2.0) and top_p alone (0.01 to 1.0), computed by the vectorised sweep (equal to a
per-cell `sampling.apply`, tests/test_sweep.py). Intervals are paired bootstrap 95% intervals over
contexts (2,000 resamples) for means and medians, Wilson intervals for shares.

### (a) At equal values: |ΔH_T| − |ΔH_p|

{margin}

### (b) At equal entropy: the top_p that matches temperature T

Median over contexts (95% interval); contexts whose top_p curve cannot reach the temperature's
entropy are left out (only at high T).

{exchange}

### (c) At the settings people use

Entropy change in bits per 0.1 of each control, temperature between 0.7 and 1.0 and top_p between 0.9
and 0.95 (the other off):

{sensitivity}

### (d) The theory: a Zipf exponent per context

For p ∝ rank^−s over the model's vocabulary, the margin at 0.5 is positive for moderate s and
negative for steep distributions: s* is where it changes sign. Each context's s is fitted to its
100 most likely tokens (least squares in log–log). "Rule right" is the share of contexts where
"temperature moves entropy more exactly when s < s*" holds.

{rule}

### By kind of context (at 0.5)

{by_context}

## Generated text

{diversity}
## Not yet measured

Hub models (gpt2, Pythia, Qwen, Llama): this machine cannot reach the Hugging Face Hub. On a machine
that can (a GPU is used when there is one; `--dtype bfloat16` to fit larger models):

```bash
python -m sampling.sweep --models gpt2 gpt2-medium EleutherAI/pythia-70m EleutherAI/pythia-160m \\
    EleutherAI/pythia-410m --contexts held_out.txt --out results/hub-base.parquet --generate
python -m sampling.sweep --models Qwen/Qwen2.5-0.5B-Instruct meta-llama/Llama-3.2-1B-Instruct --chat-template \\
    --contexts held_out.txt --dtype bfloat16 --out results/hub-instruct.parquet
python -m sampling.sweep merge docs/study/sweep.parquet results/hub-base.parquet results/hub-instruct.parquet \\
    --out results/all.parquet
python scripts/study_report.py --results results/all.parquet --out results/report
```

(`held_out.txt`: any text the models were not trained on; the windows are drawn from it.)

## Reproduce

On this machine (2 CPU cores, offline; the figures above came from {machine}):

```bash
python -m sampling.sweep --out docs/study/sweep.parquet --generate
python scripts/study_report.py
```

The dashboard's Study view shows these results, and loads any results file the sweep wrote.
"""


if __name__ == "__main__":
    main()
