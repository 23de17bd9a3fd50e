"""Write the study report, docs/study/README.md, and its figures from sweep results.

    python -m sampling.sweep --out docs/study/sweep.parquet --generate
    python scripts/study_report.py

Every number in the report is computed here from the results files, so a rerun on other models
(see the report's "Reproduce") rewrites it.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import pandas as pd
import vl_convert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import charts  # noqa: E402
from app.text import chart_titles, study_answer, study_models  # noqa: E402
from sampling import measures, study  # noqa: E402
from sampling.fetch import REAL_MODELS  # noqa: E402
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


def models_table(results: pd.DataFrame, vocab: dict[str, int], facts: pd.DataFrame | None) -> str:
    """One row per model, real ones first: what it is, how it was fed, its held-out perplexity per
    source, and its contexts and clusters of each kind."""
    facts = facts.set_index("model") if facts is not None else pd.DataFrame()
    rows = []
    for model in study.model_order(results["model"].unique()):
        part = results[(results["model"] == model) & (results["sweep"] == "top_p") & (results["top_p"] == 1.0)]
        part = study.with_optional_columns(part)
        contexts = part.groupby("context_set")["prompt_index"].nunique().to_dict()
        clusters = part.groupby("context_set")["cluster"].nunique().to_dict()
        fact = facts.loc[model] if model in facts.index else pd.Series(dtype=object)
        perplexities = ", ".join(f"{column.removeprefix('perplexity_')} {fact[column]:.1f}"
                                 for column in fact.index if column.startswith("perplexity_") and fact[column] == fact[column])
        fed = ("chat turns" if fact.get("chat_template") else "plain text") + (", BOS" if fact.get("bos") else "")
        rows.append({"model": model, "kind": kind_of(model), "vocabulary": f"{vocab[model]:,}",
                     "parameters": f"{int(fact['parameters']):,}" if "parameters" in fact else "—",
                     "prompts fed as": fed if len(fact) else "—",
                     "held-out perplexity (as fed)": perplexities or "—",
                     "contexts (clusters): prompts / held-out / generated": " / ".join(
                         f"{contexts.get(kind, 0)} ({clusters.get(kind, 0)})" for kind in KINDS)})
    return markdown_table(pd.DataFrame(rows))


KINDS = ("prompts", "heldout", "generated")


def kind_of(model: str) -> str:
    if model in REAL_MODELS:
        return f"real: {REAL_MODELS[model].title}"
    return "trained here" if model in BUNDLED_CORPUS else "other"


def margin_section(margin: pd.DataFrame) -> str:
    rows = [{"model": row.model, "value": f"{row.value:g}",
             "mean margin, bits (95% CI) [adjusted]": interval(row.margin_bits, row.margin_low, row.margin_high)
             + f" [{row.margin_low_adjusted:+.2f} to {row.margin_high_adjusted:+.2f}]",
             "temperature moved it more": share(row.temperature_share, row.share_low, row.share_high),
             "top_p moved it more": share(row.top_p_share, row.top_p_share_low, row.top_p_share_high),
             "top_p keeps one token (p1 ≥ value)": f"{row.one_token_share:.0%}"}
            for row in margin.itertuples()]
    return markdown_table(pd.DataFrame(rows))


def interval_widths(margin: pd.DataFrame) -> str:
    """How much wider the cluster intervals are than those over single contexts, at the primary value."""
    at = margin[(margin["value"] - study.PRIMARY_VALUE).abs() < 1e-9]
    ratio = (at["margin_high"] - at["margin_low"]) / (at["naive_high"] - at["naive_low"])
    parts = [f"{model} {value:.1f}×" for model, value in zip(at["model"], ratio)]
    return ", ".join(parts)


def exact_section(margin: pd.DataFrame) -> str:
    at = margin[(margin["value"] - study.PRIMARY_VALUE).abs() < 1e-9]
    held = all(at["top_p_wins_where_one_token"])
    return (f"Where the top token alone has p1 ≥ {study.PRIMARY_VALUE:g}, top_p = {study.PRIMARY_VALUE:g} keeps "
            f"only it (entropy 0), while temperature keeps every token: top_p moves entropy more, always. "
            f"That is {at['one_token_share'].min():.0%}–{at['one_token_share'].max():.0%} of the contexts here; "
            + ("in every one of them top_p did win." if held else "**in some of them top_p did not win: check "
               "the sweep.**"))


def rule_section(summary: pd.DataFrame, zipf: pd.DataFrame) -> str:
    zipf = zipf.set_index("model")
    rows = [{"model": row.model, "top_p keeps one token": f"{row.one_token_share:.0%}",
             "entropy rule fitted on the other models (worst)": f"{row.transferred:.0%} ({row.transferred_worst:.0%})"
             if row.transferred == row.transferred else "—",
             "fitted on itself (θ)": f"{row.own_fit:.0%} (temperature wins {'below' if row.temperature_below else 'above'}"
                                      f" {row.own_threshold_bits:.2f} bits)",
             "majority winner": f"{row.majority:.0%}", "exact part + majority": f"{row.exact_and_majority:.0%}",
             "Zipf rule (s* )": f"{row.zipf:.0%} ({zipf.loc[row.model, 'zipf_crossing']:.2f})"
             if row.zipf == row.zipf and row.model in zipf.index else "—"}
            for row in summary.itertuples()]
    return markdown_table(pd.DataFrame(rows))


def exchange_section(exchange: pd.DataFrame) -> str:
    shown = exchange[exchange["temperature"].round(6).isin(EXCHANGE_TEMPERATURES)]
    wide = {}
    for row in shown.itertuples():
        wide.setdefault(row.model, {"model": row.model})[f"T {row.temperature:g}"] = (
            f"{row.mean_top_p:.2f} ({row.mean_low:.2f}–{row.mean_high:.2f}) · median {row.median_top_p:.2f}")
    order = study.model_order(wide)
    return markdown_table(pd.DataFrame([wide[model] for model in order]))


def sensitivity_section(sensitivity: pd.DataFrame) -> str:
    wide = {}
    for row in sensitivity.itertuples():
        wide.setdefault(row.model, {"model": row.model})[
            "temperature 0.7→1.0" if row.control == "temperature" else "top_p 0.9→0.95"] = interval(
            row.bits_per_tenth, row.low, row.high)
    return markdown_table(pd.DataFrame([wide[model] for model in study.model_order(wide)]))


def zipf_section(rule: pd.DataFrame) -> str:
    rows = [{"model": row.model, "s* (theory)": f"{row.zipf_crossing:.2f}", "median fitted s": f"{row.median_s:.2f}",
             "contexts steeper than s*": f"{row.steeper_share:.0%}",
             "rule right (95% CI)": share(row.accuracy, row.accuracy_low, row.accuracy_high),
             "Spearman ρ(s, margin)": f"{row.spearman_s_margin:+.2f}"}
            for row in rule.set_index("model").loc[study.model_order(rule["model"])].reset_index().itertuples()]
    return markdown_table(pd.DataFrame(rows))


def by_context_section(results: pd.DataFrame) -> str:
    """The primary value per kind of context, and per held-out source (memorised text shows here)."""
    results = study.with_optional_columns(results)
    rows = []
    parts = [(kind, None) for kind in KINDS] + [
        ("heldout", source) for source in sorted(results[results["context_set"] == "heldout"]["category"].unique())]
    for kind, source in parts:
        subset = results if source is None else results[results["category"] == source]
        table = study.margin_table(subset, kind, values=[study.PRIMARY_VALUE])
        for row in table.itertuples():
            rows.append({"contexts": kind if source is None else f"held-out: {source}", "model": row.model,
                         "n (clusters)": f"{row.contexts} ({row.clusters})",
                         "margin at 0.5, bits (95% CI)": interval(row.margin_bits, row.margin_low, row.margin_high),
                         "temperature moved it more": share(row.temperature_share, row.share_low, row.share_high)})
    return markdown_table(pd.DataFrame(rows))


def runs(values: list[float], grid: list[float]) -> str:
    """``values`` (not empty) as runs of neighbours on ``grid``: "0.05–0.15, 0.85–0.95"."""
    positions = sorted(grid.index(value) for value in values)
    spans, first = [], positions[0]
    for previous, position in zip(positions, positions[1:] + [None]):
        if position != previous + 1:
            spans.append(f"{grid[first]:g}" if first == previous else f"{grid[first]:g}–{grid[previous]:g}")
            first = position
    return ", ".join(spans)


def flips(margin: pd.DataFrame) -> str:
    """Per model, the values where temperature leads on the mean (adjusted interval above 0) and
    where top_p does."""
    lines = []
    for model in study.model_order(margin["model"].unique()):
        group = margin[margin["model"] == model]
        grid = sorted(group["value"].tolist())
        temperature = group[group["margin_low_adjusted"] > 0]["value"].tolist()
        top_p = group[group["margin_high_adjusted"] < 0]["value"].tolist()
        leads = [f"{control} leads at {runs(found, grid)}" for control, found in
                 (("temperature", temperature), ("top_p", top_p)) if found]
        lines.append(f"- `{model}`: " + ("; ".join(leads) if leads else "neither leads clearly at any value") + ".")
    return "\n".join(lines)


def diversity_section(path: Path, models: list[str]) -> str:
    if not path.exists():
        return "Not measured in this run (add `--generate` to the sweep).\n"
    diversity = pd.read_csv(path)
    unmeasured = [model for model in models if model not in set(diversity["model"])]
    shown_measures = [measure for measure in study.DIVERSITY_MEASURES if measure in diversity.columns]
    rows = []
    for (model, parameter, value, matched), group in diversity.groupby(
            ["model", "parameter", "value", "matched_entropy"]):
        row = {"model": model, "setting": f"{parameter} {value:g}" + (" (equal mean entropy)" if matched else "")}
        for measure in shown_measures:
            per_start = group.groupby("start")[measure].mean().dropna().to_numpy()
            if len(per_start):
                low, high = measures.bootstrap_interval(per_start)
                row[measure] = f"{per_start.mean():.3f} ({low:.3f}–{high:.3f})"
        rows.append(row)
    starts = diversity.groupby("model")["start"].nunique()
    models = ", ".join(f"{model} ({count})" for model, count in starts.items())
    contrast = study.diversity_contrast(diversity)
    scorers = ", ".join(f"{model} by {study.PARTNERS[model]}" for model in diversity["model"].unique()
                        if "partner_perplexity" in diversity and diversity[diversity["model"] == model][
                            "partner_perplexity"].notna().any())
    return (
        f"Models (starts): {models}; starts are shipped prompts (one per category in turn; chat turns for an "
        f"instruct model) and passages of held-out text; {diversity['seed'].nunique()} seed(s), "
        f"{study.DIVERSITY_SAMPLES} samples of {study.DIVERSITY_LENGTH} tokens per start and setting. "
        "\"Equal mean entropy\" uses the top_p whose mean next-token entropy equals temperature 0.5, 0.7 and 0.9's "
        "(the first exchange rate above). Quality without rewarding loops: `repetition_rate` (the share of a "
        "sample's 4-grams it already wrote; loops score near 1) and `partner_perplexity`, the median perplexity "
        f"another model gives the samples ({scorers or 'no scorer in this run'}; lower is more fluent), compared "
        "as its log, `partner_surprise_nats`, the mean surprise per token. "
        f"Intervals: bootstrap over starts; the counts below use intervals Bonferroni-adjusted for all "
        f"{len(contrast)} cells together."
        + (f" Not generated in this run: {', '.join(unmeasured)} (`--generate-models` adds them)." if unmeasured
           else "") + "\n\n"
        + contrast_summary(contrast) + "\n\n"
        "Top_p minus temperature, paired by start, with bootstrap 95% intervals over starts (not adjusted):\n\n"
        + markdown_table(contrast_table(contrast)) + "\n\n"
        "Each setting, means over starts (bootstrap 95% intervals):\n\n"
        + markdown_table(pd.DataFrame(rows).fillna("—")) + "\n"
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
    columns = ["model", "comparison", "temperature", "top_p"] + [
        measure for measure in study.DIVERSITY_MEASURES if measure in table.columns]
    return table.sort_values(["model", "comparison"], kind="stable")[columns].fillna("—")


def contrast_summary(contrast: pd.DataFrame) -> str:
    """One line per comparison, counted from the adjusted intervals (top_p minus temperature): in how
    many model × temperature cells each measure is higher or lower; then what that says at equal
    mean entropy, sentence by sentence only where the counts say it."""
    lines = []
    for comparison in ("equal value", "equal entropy"):
        part = contrast[contrast["comparison"] == comparison]
        counts = []
        for measure in study.DIVERSITY_MEASURES:
            cells = part[part["measure"] == measure]
            if not cells.empty:
                counts.append(f"{measure} higher in {int((cells['low_adjusted'] > 0).sum())}, lower in "
                              f"{int((cells['high_adjusted'] < 0).sum())} of {len(cells)}")
        lines.append(f"- At {comparison} (top_p minus temperature; cells whose adjusted interval excludes zero): "
                     + "; ".join(counts) + ".")
    matched = contrast[contrast["comparison"] == "equal entropy"]

    def counts(measure: str) -> tuple[int, int, int]:
        cells = matched[matched["measure"] == measure]
        return int((cells["low_adjusted"] > 0).sum()), int((cells["high_adjusted"] < 0).sum()), len(cells)

    phrases = {"distinct_2": ("more distinct bigrams", "fewer distinct bigrams", "distinct bigrams"),
               "repetition_rate": ("more repeated 4-grams", "fewer repeated 4-grams", "repeated 4-grams"),
               "partner_surprise_nats": ("a higher surprise under the scoring model",
                                         "a lower surprise under the scoring model", "the scoring model's surprise")}
    found = []
    for measure, (more, fewer, noun) in phrases.items():
        higher, lower, total = counts(measure)
        if total and max(higher, lower) == 0:
            found.append(f"no clear difference in {noun} (0 of {total} cells)")
        elif total:
            found.append(f"{more if higher >= lower else fewer} in {max(higher, lower)} of {total} cells "
                         f"({min(higher, lower)} the other way)")
    if found:
        lines.append("- At equal mean entropy, where the adjusted interval is clear, top_p's samples have "
                     + "; ".join(found) + ".")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "study" / "sweep.parquet")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "study")
    args = parser.parse_args()
    results = study.read_results(args.results)
    facts_path = args.results.with_name(args.results.stem + "-models.csv")
    facts = pd.read_csv(facts_path) if facts_path.exists() else None
    args.out.mkdir(parents=True, exist_ok=True)
    vocab = study.vocab_sizes(results)
    margin = study.margin_table(results)
    shown = study.margin_table(results, values=VALUES, single_context_intervals=True)
    exchange = study.exchange_table(results)
    sensitivity = study.sensitivity_table(results)
    zipf = study.rule_table(results, vocab)
    rules = study.rule_summary(study.cross_model_rules(results))
    titles = chart_titles("en")
    save_png(charts.margin_chart(margin, titles).properties(width=420)
             | charts.exchange_chart(exchange, titles).properties(width=420), args.out / "answer.png")
    save_png(charts.wins_chart(study.wins_by_entropy(results), titles).properties(width=520), args.out / "wins.png")
    models = study.model_order(results["model"].unique())
    report = REPORT.format(
        answer=study_answer(study.answer(shown, exchange, rules), "en"),
        models_line=study_models(models, "en"),
        values=", ".join(f"{value:g}" for value in VALUES), primary=f"{study.PRIMARY_VALUE:g}",
        cells=len(shown),
        models=models_table(results, vocab, facts),
        margin=margin_section(shown),
        widths=interval_widths(shown),
        flips=flips(margin),
        exact=exact_section(shown),
        rules=rule_section(rules, zipf),
        exchange=exchange_section(exchange),
        sensitivity=sensitivity_section(sensitivity),
        zipf=zipf_section(zipf),
        by_context=by_context_section(results),
        diversity=diversity_section(args.results.with_name(args.results.stem + "-diversity.csv"), models),
        seconds=", ".join(f"{row.model} {row.seconds:.0f} s" for row in facts.itertuples()) if facts is not None
        else "not recorded",
        machine=f"{platform.machine()}, Python {platform.python_version()}",
    )
    (args.out / "README.md").write_text(report, encoding="utf-8")
    print(f"wrote {args.out / 'README.md'}, {args.out / 'answer.png'} and {args.out / 'wins.png'}")


REPORT = """# Does temperature or top_p move entropy more?

The question this project grew from: if diversity is measured by the entropy of the next-token
distribution, which of temperature and top_p changes it more at the same numeric value, and does
the answer hold across models?

## The question, stated before the data

- **Values**: temperature = top_p = {values}; the primary endpoint is {primary}. Temperatures above 1
  raise entropy, which no top_p can (top_p only removes tokens), so they have no counterpart here.
- **Per model, always both**: the mean margin |ΔH_T| − |ΔH_p| over contexts (positive: temperature moved
  entropy more), and the shares of contexts where temperature and where top_p moved it more.
- **Weights**: the three kinds of context (shipped prompts, held-out text windows, the model's own
  sampled steps) weigh the same, whatever their sizes.
- **Intervals** resample whole clusters within each kind: a held-out window (its 64 positions), a
  prompt, a sampled continuation (its steps). Claims across the {cells} model × value cells of the table
  use Bonferroni-adjusted intervals.
- Real models first; each model is fed as its tokenizer feeds text (its BOS when it has one; chat turns
  for an instruct model), and its held-out perplexity is reported so that a feeding bug shows as a number.

## Answer

**{answer}**

{models_line}

![Left: mean |ΔH_T| − |ΔH_p| against the value, one line per model with its 95% band (above zero: temperature
moved entropy more). Right: the top_p whose mean entropy equals temperature T's, against the diagonal.](answer.png)

![Who wins against the context's own entropy: the share of contexts where temperature moves entropy more
at 0.5, per 1-bit bin of the entropy at T = 1, one line per model.](wins.png)

Where the mean's sign is clear, model by model (values where the adjusted interval excludes zero):

{flips}

## Models and contexts

{models}

## Measures

For each context, the entropy (bits) of the distribution a token is drawn from under temperature
alone (0.05 to 2.0) and top_p alone (0.01 to 1.0), computed by the vectorised sweep (equal to a
per-cell `sampling.apply`, tests/test_sweep.py).

### (a) At equal values: |ΔH_T| − |ΔH_p| and who wins per context

Cluster-bootstrap 95% intervals (2,000 resamples); in brackets, adjusted for the table's cells.

{margin}

Resampling whole windows, prompts and continuations changes the width of the intervals over those of
single contexts at {primary} by: {widths}. The held-out windows (8 per source) and the sampled
continuations (8 per model) are few clusters: a bootstrap over few clusters is itself too narrow
rather than too wide, so read these intervals as approximate, and the adjusted ones for claims.

### (b) The exact part, and a rule that carries across models

{exact}

For the other contexts, the rule "temperature wins when the context's entropy is below (or above) θ" is
fitted on one model and tested on each other one. Beside it: always naming the tested model's majority
winner (known only after the fact), the exact part with that majority for the rest, and the Zipf rule
(temperature wins when the fitted exponent s < s*). Accuracies weigh the kinds of context the same.

{rules}

### (c) At equal entropy: the exchange rate, two ways

Per temperature T: the top_p whose **mean** entropy equals T's mean entropy (cluster-bootstrap 95%
interval), used for the generated text below; then the **median** over contexts of each context's own
equal-entropy top_p. The two differ because entropy is not linear in top_p.

{exchange}

### (d) At the settings people use

Entropy change in bits per 0.1 of each control, temperature between 0.7 and 1.0 and top_p between 0.9
and 0.95 (the other off):

{sensitivity}

### (e) The Zipf theory, per model

For p ∝ rank^−s over the model's vocabulary, the margin at 0.5 is positive for moderate s and
negative for steep distributions: s* is where it changes sign. Each context's s is fitted to its
100 most likely tokens (least squares in log–log).

{zipf}

### By kind of context and by held-out source (at {primary})

{by_context}

## Generated text

{diversity}
## Reproduce

On this machine (2 CPU cores, offline; the figures above came from {machine}):

```bash
python -m sampling.fetch smollm2 gemma3
python -m sampling.sweep --models smollm2 gemma3 fortune-base fortune-small bible-kjv code-py poems-zh \\
    --out docs/study/sweep.parquet
python -m sampling.sweep --models smollm2 gemma3 fortune-base fortune-small bible-kjv code-py poems-zh \\
    --out docs/study/sweep.parquet --generate-only
python scripts/study_report.py
```

Next-token sweep time per model, this run: {seconds} (benchmarks/README.md has the whole run's).
Hub models (gpt2, Pythia, Qwen, Llama) run the same way on a machine that reaches the Hugging Face Hub
(`--models gpt2 EleutherAI/pythia-160m …`, `--dtype bfloat16` on a GPU), and
`python -m sampling.sweep merge A B --out C` joins results files.

The dashboard's Study view shows these results, and loads any results file the sweep wrote.
"""


if __name__ == "__main__":
    main()
