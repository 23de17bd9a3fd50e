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
from sampling import study  # noqa: E402

VALUES = (0.1, 0.3, 0.5, 0.7, 0.9)


def save_png(chart, path: Path) -> None:
    path.write_bytes(vl_convert.vegalite_to_png(chart.to_dict(), scale=2))


def markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(f"{value:.3f}" if isinstance(value, float) else str(value) for value in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def regularity(results: pd.DataFrame, value: float = 0.5) -> pd.DataFrame:
    """Per model: how the margin of temperature over top_p relates to the prompt's raw entropy."""
    changes = study.entropy_change(results)
    changes = changes[(changes["value"] - value).abs() < 1e-9]
    changes = changes.assign(margin=changes["change_temperature"].abs() - changes["change_top_p"].abs())
    rows = []
    for model, group in changes.groupby("model"):
        rows.append({
            "model": model,
            "prompts": len(group),
            "mean raw entropy (bits)": group["raw_entropy_bits"].mean(),
            "mean margin (bits)": group["margin"].mean(),
            "Spearman ρ(raw entropy, margin)": group["raw_entropy_bits"].corr(group["margin"], method="spearman"),
            "temperature moves more": f"{group['temperature_moves_more'].mean():.0%}",
        })
    return pd.DataFrame(rows)


def cross_model_summary(results: pd.DataFrame) -> str:
    """Where, for every model, temperature moves entropy more than top_p on most prompts."""
    table = study.comparison_table(results)
    table = table[table["value"] < 1.0]
    winning = table[table["temperature_moves_more"] > 0.5].groupby("model")["value"].apply(set)
    models = table["model"].unique()
    common = sorted(set.intersection(*[winning.get(model, set()) for model in models]))
    span = f"{common[0]:g} and {common[-1]:g}" if common else "none"
    correlation = regularity(results)["Spearman ρ(raw entropy, margin)"]
    return (
        f"In each of the {len(models)} models, temperature moves next-token entropy more than top_p on most prompts "
        f"at {len(common)} of the {table['value'].nunique()} shared values below 1 (between {span}); at the "
        f"other values top_p moves it as much or more in at least one model. Per prompt, the margin grows with the raw entropy of the "
        f"prompt's distribution (Spearman ρ {correlation.min():.2f} to {correlation.max():.2f}): the more "
        f"open the next token, the more temperature outweighs top_p."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "study" / "sweep.parquet")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "study")
    args = parser.parse_args()
    results = study.read_results(args.results)
    diversity_path = args.results.with_name(args.results.stem + "-diversity.csv")
    args.out.mkdir(parents=True, exist_ok=True)
    models = sorted(results["model"].unique())
    prompts = results.groupby("model")["prompt_index"].nunique().min()

    sections = []
    for model in models:
        slug = model.replace("/", "_")
        save_png(charts.entropy_against_value(study.entropy_curves(results, model)).properties(width=520),
                 args.out / f"{slug}-curves.png")
        save_png(charts.change_spread(study.change_by_prompt(results, model, VALUES)), args.out / f"{slug}-spread.png")
        save_png(charts.entropy_heatmap(study.joint_grid(results, model)).properties(width=420),
                 args.out / f"{slug}-heatmap.png")
        table = study.comparison_table(results[results["model"] == model])
        table = table[table["value"].round(6).isin(VALUES)].drop(columns=["model"])
        table["temperature_moves_more"] = table["temperature_moves_more"].map("{:.0%}".format)
        sections.append(
            f"### {model}\n\n" + "\n".join(study.answer(results[results["model"] == model])) + "\n\n"
            + markdown_table(table) + "\n\n"
            + f"![entropy against value, {model}]({slug}-curves.png)\n\n"
            + f"![spread across prompts, {model}]({slug}-spread.png)\n\n"
            + f"![temperature × top_p, {model}]({slug}-heatmap.png)\n"
        )

    diversity_section = "Not measured (run the sweep with `--generate`).\n"
    if diversity_path.exists():
        diversity = pd.read_csv(diversity_path)
        mean = diversity.groupby(["model", "parameter", "value"], as_index=False)[
            ["distinct_1", "distinct_2", "distinct_3", "self_bleu", "mean_token_entropy_bits"]].mean()
        for model in models:
            slug = model.replace("/", "_")
            per_model = mean[mean["model"] == model]
            save_png(
                charts.diversity_against_value(per_model, "distinct_2", "distinct-2")
                | charts.diversity_against_value(per_model, "self_bleu", "self-BLEU")
                | charts.diversity_against_value(per_model, "mean_token_entropy_bits", "mean token entropy (bits)"),
                args.out / f"{slug}-diversity.png",
            )
        prompts_generated = diversity.groupby("model")["prompt_index"].nunique().min()
        diversity_section = (
            f"{prompts_generated} prompts per model, 8 samples of 30 tokens per setting (seed 0), the other "
            "control off. Means over prompts:\n\n" + markdown_table(mean.drop(columns=["distinct_1", "distinct_3"]))
            + "\n\n" + "\n\n".join(f"![diversity, {m}]({m.replace('/', '_')}-diversity.png)" for m in models) + "\n"
        )

    report = REPORT.format(
        models=", ".join(f"`{model}`" for model in models),
        prompts=prompts,
        sections="\n".join(sections),
        regularity=markdown_table(regularity(results)),
        summary=cross_model_summary(results),
        diversity=diversity_section,
        machine=f"{platform.machine()}, Python {platform.python_version()}",
    )
    (args.out / "README.md").write_text(report, encoding="utf-8")
    print(f"wrote {args.out / 'README.md'} and {len(list(args.out.glob('*.png')))} figures")


REPORT = """# Does temperature or top_p move entropy more?

The question this project grew from: if diversity is measured by the entropy of the next-token
distribution, which of temperature and top_p changes it more at the same numeric value, and does
the answer hold across models?

## Method

- Models: {models} (the bundled demo models; see "Reproduce" for gpt2 and other hub models).
- Prompts: the {prompts} prompts of `sampling/data/prompts.tsv` (factual text, narrative, dialogue,
  code, lists and Chinese; written for this project).
- For each prompt, the next-token logits once; then, without running the model again, the entropy in
  bits of the distribution a token would be drawn from:
  - temperature alone (top_p off), 0.05 to 2.0;
  - top_p alone (temperature 1), 0.05 to 1.0;
  - top_k alone and min_p alone, and the joint temperature × top_p grid (transformers order:
    temperature first, then top_p).
- "Change" is the entropy minus the raw entropy (temperature 1, nothing removed). At equal values
  v in [0.05, 1] we compare the change that temperature v makes with the change that top_p v makes.
- The sweep is vectorised (one sort per prompt, prefix sums for every cut) and its results equal a
  per-cell `sampling.apply` to 1e-6 (tests/test_sweep.py).
- Generated text: the diversity of sampled continuations against the same values.

## Answer

{summary}

{sections}
## Does it hold across models?

Only two models could be measured here, and they share their training text and tokenizer; run the
"Reproduce" commands on gpt2 and other hub models to test the regularity more widely.

At 0.5, per prompt, the margin by which temperature moves entropy more than top_p (|ΔH_T| − |ΔH_p|,
bits), and how it relates to the raw entropy of the prompt's next-token distribution:

{regularity}

## Generated text

{diversity}
## Reproduce

On this machine (2 CPU cores, offline; the figures above came from {machine}):

```bash
python -m sampling.sweep --out docs/study/sweep.parquet --generate
python scripts/study_report.py
```

On a machine that reaches the Hugging Face Hub, for gpt2 and other causal LMs (any number of ids or
local paths; a GPU is used when there is one):

```bash
python -m sampling.sweep --models gpt2 gpt2-medium Qwen/Qwen2.5-0.5B --out results/hub.parquet --generate
python scripts/study_report.py --results results/hub.parquet --out results/hub-report
```

The dashboard's Study view shows these results, and loads any results file the command wrote.
"""


if __name__ == "__main__":
    main()
