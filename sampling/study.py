"""The study: at equal values, does temperature or top_p move next-token entropy more?

Reads the long-form results of `sampling.sweep` and answers in numbers and in words. Also
measures the diversity of generated text on a smaller grid.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from sampling import measures
from sampling.config import SamplingConfig
from sampling.metrics import distinct_n, mean_token_entropy, self_bleu
from sampling.models import ModelHandle

PROMPTS_FILE = Path(__file__).resolve().parent / "data" / "prompts.tsv"
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}


@dataclass(frozen=True)
class StudyPrompt:
    category: str
    text: str


def read_prompts(path: Path | str = PROMPTS_FILE) -> list[StudyPrompt]:
    """A prompt file: a header line, then ``category<TAB>prompt`` with ``\\n`` for newlines.

    A file without tabs is read as one prompt per line, category "custom".
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines:
        raise ValueError(f"{path} holds no prompts")
    has_categories = "\t" in lines[0]
    prompts = []
    for line in lines[1:] if has_categories else lines:
        if not line.strip():
            continue
        category, text = line.split("\t", 1) if has_categories else ("custom", line)
        prompts.append(StudyPrompt(category, re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)))
    return prompts


RESULT_COLUMNS = {"model", "prompt_index", "sweep", "temperature", "top_p", "top_k", "min_p",
                  "entropy_bits", "tokens_kept"}


class ResultsFileError(ValueError):
    """A results file that cannot be used; the message says why in one line."""


MAX_RESULT_ROWS = 3_000_000
"""A results file is read only when its row count is known to be at most this (about 250 MB)."""


def read_results(source: Path | str | BinaryIO, max_rows: int = MAX_RESULT_ROWS) -> pd.DataFrame:
    """A results file of `python -m sampling.sweep` (Parquet or CSV), checked before it is read:
    its columns first, then its number of rows; only the columns the study uses are read."""
    name = str(getattr(source, "name", source))
    try:
        results = _read_bounded(source, name, max_rows)
    except ResultsFileError:
        raise
    except Exception as error:  # noqa: BLE001 - any unreadable file gets one clear message
        raise ResultsFileError(f"{name} is not a readable results file ({type(error).__name__})") from error
    if not {"temperature", "top_p"} <= set(results["sweep"]):
        raise ResultsFileError(f"{name} has no temperature or top_p sweep to compare")
    return results


def _check_columns(name: str, columns: set[str]) -> None:
    missing = RESULT_COLUMNS - columns
    if missing:
        raise ResultsFileError(f"{name} lacks the columns {', '.join(sorted(missing))}; "
                         "expected the output of python -m sampling.sweep")


def _too_many_rows(name: str, max_rows: int) -> ResultsFileError:
    return ResultsFileError(f"{name} has more than {max_rows:,} rows; the Study view reads at most that many")


def _wanted(columns: set[str]) -> list[str]:
    return sorted(RESULT_COLUMNS | (columns & set(OPTIONAL_COLUMNS)))


def _read_bounded(source: Path | str | BinaryIO, name: str, max_rows: int) -> pd.DataFrame:
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(source)
        _check_columns(name, set(parquet.schema_arrow.names))
        if parquet.metadata.num_rows > max_rows:
            raise _too_many_rows(name, max_rows)
        return parquet.read(columns=_wanted(set(parquet.schema_arrow.names))).to_pandas()
    header = pd.read_csv(source, nrows=0)
    _check_columns(name, set(header.columns))
    if hasattr(source, "seek"):
        source.seek(0)
    results = pd.read_csv(source, usecols=_wanted(set(header.columns)), nrows=max_rows + 1)
    if len(results) > max_rows:
        raise _too_many_rows(name, max_rows)
    return results


OPTIONAL_COLUMNS = {"context_set": "prompts", "category": "", "zipf_s": float("nan")}
"""Columns older results files lack, and what they mean there."""


def with_optional_columns(results: pd.DataFrame) -> pd.DataFrame:
    missing = {column: value for column, value in OPTIONAL_COLUMNS.items() if column not in results.columns}
    return results.assign(**missing) if missing else results


def paired(results: pd.DataFrame) -> pd.DataFrame:
    """Per model, context and value that both sweeps visit: the raw entropy (T = 1, nothing cut),
    the entropy under temperature alone and under top_p alone (bits), and the margin
    |ΔH_T| − |ΔH_p| (positive: temperature moved it more)."""
    results = with_optional_columns(results)
    keys = ["model", "prompt_index"]
    temperature = results[results["sweep"] == "temperature"]
    raw = temperature[temperature["temperature"] == 1.0].set_index(keys)["entropy_bits"].rename("raw_bits")
    merged = (
        temperature.rename(columns={"temperature": "value", "entropy_bits": "temperature_bits"})
        [keys + ["context_set", "category", "zipf_s", "value", "temperature_bits"]]
        .merge(results[results["sweep"] == "top_p"].rename(columns={"top_p": "value", "entropy_bits": "top_p_bits"})
               [keys + ["value", "top_p_bits"]], on=keys + ["value"])
        .join(raw, on=keys)
    )
    merged["margin_bits"] = measures.margin(merged["raw_bits"].to_numpy(), merged["temperature_bits"].to_numpy(),
                                            merged["top_p_bits"].to_numpy())
    return merged


def margin_table(results: pd.DataFrame, context_set: str | None = None) -> pd.DataFrame:
    """Per model and value: the mean margin with its paired bootstrap 95 % interval over contexts,
    and the share of contexts where temperature moved entropy more, with its Wilson interval."""
    pairs = paired(results)
    if context_set is not None:
        pairs = pairs[pairs["context_set"] == context_set]
    rows = []
    for (model, value), group in pairs.groupby(["model", "value"]):
        margins = group["margin_bits"].to_numpy()
        wins = int((margins > 0).sum())
        low, high = measures.bootstrap_interval(margins)
        share_low, share_high = measures.wilson_interval(wins, len(margins))
        rows.append({"model": model, "value": value, "contexts": len(margins), "margin_bits": margins.mean(),
                     "margin_low": low, "margin_high": high, "temperature_share": wins / len(margins),
                     "share_low": share_low, "share_high": share_high,
                     "raw_bits": group["raw_bits"].mean()})
    return pd.DataFrame(rows)


def exchange_rates(results: pd.DataFrame) -> pd.DataFrame:
    """Per model, context and temperature below 1: the top_p that gives the same entropy."""
    results = with_optional_columns(results)
    keys = ["model", "prompt_index"]
    top_p = results[results["sweep"] == "top_p"]
    temperature = results[(results["sweep"] == "temperature") & (results["temperature"] < 1.0)]
    curves = {key: (group["top_p"].to_numpy(), group["entropy_bits"].to_numpy())
              for key, group in top_p.groupby(keys)}
    rows = []
    for row in temperature.itertuples():
        top_ps, bits = curves[(row.model, row.prompt_index)]
        rows.append({"model": row.model, "prompt_index": row.prompt_index, "context_set": row.context_set,
                     "temperature": row.temperature, "top_p": measures.exchange_rate(top_ps, bits, row.entropy_bits)})
    return pd.DataFrame(rows)


def exchange_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per model and temperature: the median equal-entropy top_p across contexts, with a bootstrap
    95 % interval of that median, and the share of contexts where any top_p reaches it."""
    rates = exchange_rates(results)
    rows = []
    for (model, temperature), group in rates.groupby(["model", "temperature"]):
        values = group["top_p"].to_numpy()
        reached = values[~np.isnan(values)]
        low, high = measures.bootstrap_interval(reached, np.median) if len(reached) else (np.nan, np.nan)
        rows.append({"model": model, "temperature": temperature, "top_p": float(np.median(reached)) if len(reached)
                     else np.nan, "top_p_low": low, "top_p_high": high, "reached": len(reached) / len(values)})
    return pd.DataFrame(rows)


def sensitivity_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per model: how fast entropy moves at the settings people use, in bits per 0.1 of the
    control: temperature from 0.7 to 1.0 and top_p from 0.9 to 0.95 (each the other off), with
    bootstrap 95 % intervals over contexts."""
    results = with_optional_columns(results)
    rows = []
    for model, group in results.groupby("model"):
        slopes = {"temperature": [], "top_p": []}
        for _, context in group.groupby("prompt_index"):
            for control, (low, high) in {"temperature": (0.7, 1.0), "top_p": (0.9, 0.95)}.items():
                curve = context[context["sweep"] == control].sort_values(control)
                slopes[control].append(0.1 * measures.slope(curve[control].to_numpy(), curve["entropy_bits"].to_numpy(),
                                                             low, high))
        for control, values in slopes.items():
            values = np.array(values)
            low, high = measures.bootstrap_interval(values)
            rows.append({"model": model, "control": control, "bits_per_tenth": values.mean(), "low": low,
                         "high": high})
    return pd.DataFrame(rows)


def vocab_sizes(results: pd.DataFrame) -> dict[str, int]:
    """Each model's vocabulary: the tokens kept when nothing is cut."""
    untouched = results[(results["sweep"] == "temperature") & (results["temperature"] == 1.0)]
    return untouched.groupby("model")["tokens_kept"].max().astype(int).to_dict()


def rule_table(results: pd.DataFrame, vocab_sizes: dict[str, int], value: float = 0.5) -> pd.DataFrame:
    """The theory against the data, per model, at ``value``: the Zipf exponent s* above which top_p
    moves entropy more (for the model's vocabulary), the share of contexts steeper than s*, and how
    often "temperature moves it more exactly when s < s*" is right (Wilson interval)."""
    pairs = paired(results)
    pairs = pairs[(pairs["value"] - value).abs() < 1e-9].dropna(subset=["zipf_s"])
    rows = []
    for model, group in pairs.groupby("model"):
        crossing = measures.zipf_crossing(vocab_sizes[model], value)
        predicted = group["zipf_s"] < crossing
        actual = group["margin_bits"] > 0
        right = int((predicted == actual).sum())
        low, high = measures.wilson_interval(right, len(group))
        rows.append({"model": model, "value": value, "zipf_crossing": crossing,
                     "median_s": group["zipf_s"].median(), "steeper_share": float((~predicted).mean()),
                     "accuracy": right / len(group), "accuracy_low": low, "accuracy_high": high,
                     "spearman_s_margin": group["zipf_s"].corr(group["margin_bits"], method="spearman"),
                     "contexts": len(group)})
    return pd.DataFrame(rows)


def joint_grid(results: pd.DataFrame, model: str) -> pd.DataFrame:
    """Mean entropy across contexts over the temperature × top_p grid of one model."""
    joint = results[(results["sweep"] == "joint") & (results["model"] == model)]
    return joint.groupby(["temperature", "top_p"], as_index=False)["entropy_bits"].mean()


@dataclass(frozen=True)
class Verdict:
    """The answer at one value across models: how many models each control clearly leads in (95 %
    interval of the mean margin excluding zero), the median Zipf crossing s* and the median top_p of
    equal entropy at that temperature."""

    value: float
    models: int
    temperature_leads: int
    top_p_leads: int
    zipf_crossing: float
    matched_top_p: float

    @property
    def leader(self) -> str:
        """``"temperature"`` or ``"top_p"`` when it clearly leads in every model, else ``"mixed"``."""
        if self.models and self.temperature_leads == self.models:
            return "temperature"
        if self.models and self.top_p_leads == self.models:
            return "top_p"
        return "mixed"


def verdict(margin: pd.DataFrame, exchange: pd.DataFrame, rule: pd.DataFrame, value: float = 0.5) -> Verdict:
    """Summarise ``margin_table``, ``exchange_table`` and ``rule_table`` at ``value``."""
    at_value = margin[(margin["value"] - value).abs() < 1e-9]
    matched = exchange[(exchange["temperature"] - value).abs() < 1e-9]["top_p"].dropna()
    crossings = rule[(rule["value"] - value).abs() < 1e-9]["zipf_crossing"].dropna() if len(rule) else rule
    return Verdict(value=value, models=len(at_value),
                   temperature_leads=int((at_value["margin_low"] > 0).sum()),
                   top_p_leads=int((at_value["margin_high"] < 0).sum()),
                   zipf_crossing=float(crossings.median()) if len(crossings) else float("nan"),
                   matched_top_p=float(matched.median()) if len(matched) else float("nan"))


def summary_lines(results: pd.DataFrame, value: float = 0.5) -> list[str]:
    """The answer in a few plain lines, one per model, computed from the results."""
    table = margin_table(results)
    lines = []
    for row in table[(table["value"] - value).abs() < 1e-9].itertuples():
        leader = "temperature" if row.margin_low > 0 else "top_p" if row.margin_high < 0 else "neither, clearly"
        lines.append(
            f"{row.model}: at {value:g}, |ΔH_T| − |ΔH_p| = {row.margin_bits:+.2f} bits (95% CI {row.margin_low:+.2f} "
            f"to {row.margin_high:+.2f}) over {row.contexts} contexts; temperature moved entropy more in "
            f"{row.temperature_share:.0%} ({row.share_low:.0%}–{row.share_high:.0%}); leader: {leader}."
        )
    return lines


DIVERSITY_VALUES = (0.5, 0.7, 0.9)
DIVERSITY_SAMPLES = 32
DIVERSITY_LENGTH = 128
DIVERSITY_SEEDS = (0, 1, 2)
PARTNERS = {"fortune-base": "fortune-small", "fortune-small": "fortune-base"}
"""Models that share a tokenizer: each scores the other's text (a quality proxy)."""


def diversity_prompts(prompts: Sequence[StudyPrompt], heldout: str | None, per_kind: int = 4) -> list[StudyPrompt]:
    """Stratified starts: one shipped prompt per category (up to ``per_kind``), and the same number
    of passages of the model's own held-out text when it has one."""
    by_category = {}
    for prompt in prompts:
        by_category.setdefault(prompt.category, prompt)
    chosen = list(by_category.values())[:per_kind]
    if heldout:
        passages = [passage.strip() for passage in heldout.split("<|endoftext|>") if len(passage.strip()) > 80]
        chosen += [StudyPrompt("heldout", passage[:160]) for passage in passages[:per_kind]]
    return chosen


@torch.inference_mode()
def perplexity_under(scorer: ModelHandle, prompt_ids: Sequence[int], continuation_ids: Sequence[int]) -> float:
    """The perplexity ``scorer`` gives the continuation after the prompt (its own tokenizer's ids)."""
    ids = torch.tensor([[*prompt_ids, *continuation_ids]], device=scorer.device)
    log_probs = torch.log_softmax(scorer.model(input_ids=ids).logits[0, :-1].float(), dim=-1)
    targets = ids[0, 1:]
    token_log_probs = log_probs.gather(1, targets[:, None]).squeeze(1)[len(prompt_ids) - 1:]
    return float(torch.exp(-token_log_probs.mean()))


def diversity_sweep(handle: ModelHandle, results: pd.DataFrame, prompts: Sequence[StudyPrompt],
                    heldout: str | None, seed: int = 0, scorer: ModelHandle | None = None) -> Iterator[dict]:
    """Generated-text diversity at equal values and at matched entropy, one row per model, start,
    seed and setting: distinct-1/2/3, self-BLEU, entropy rate (mean entropy per drawn token, bits)
    and, when a ``scorer`` with the same tokenizer is given, its perplexity of the samples.

    Settings: temperature alone and top_p alone at 0.5, 0.7, 0.9; and for each temperature, the top_p
    of equal next-token entropy (the model's pooled exchange rate from ``results``).
    """
    rates = exchange_table(results[results["model"] == handle.name]).set_index("temperature")["top_p"]
    settings = [("temperature", value, False, SamplingConfig(temperature=value)) for value in DIVERSITY_VALUES]
    settings += [("top_p", value, False, SamplingConfig(top_p=value)) for value in DIVERSITY_VALUES]
    for value in DIVERSITY_VALUES:
        matched = rates.get(value, np.nan)
        if not np.isnan(matched):
            settings.append(("top_p", round(float(matched), 3), True, SamplingConfig(top_p=round(float(matched), 3))))
    starts = diversity_prompts(prompts, heldout)
    limits_ok = handle.limits.max_samples >= DIVERSITY_SAMPLES
    samples = DIVERSITY_SAMPLES if limits_ok else handle.limits.max_samples
    for index, start in enumerate(tqdm(starts, desc=f"{handle.name}: generating", unit="start")):
        for run_seed in (seed + offset for offset in DIVERSITY_SEEDS):
            for parameter, value, matched, config in settings:
                generation = handle.generate(start.text, config, n=samples, max_new_tokens=DIVERSITY_LENGTH,
                                             seed=run_seed)
                ids = [[token.id for token in c.tokens] for c in generation.continuations]
                texts = [c.text for c in generation.continuations]
                entropies = [token.entropy_after_bits for c in generation.continuations for token in c.tokens]
                row = {
                    "model": handle.name, "start": index, "category": start.category, "seed": run_seed,
                    "parameter": parameter, "value": value, "matched_entropy": matched,
                    "distinct_1": distinct_n(ids, 1), "distinct_2": distinct_n(ids, 2),
                    "distinct_3": distinct_n(ids, 3),
                    "self_bleu": self_bleu(texts, tokenize="zh" if handle.name == "poems-zh" else "13a"),
                    "entropy_rate_bits": mean_token_entropy(entropies),
                }
                if scorer is not None:
                    row["partner_perplexity"] = float(np.median([
                        perplexity_under(scorer, generation.prompt.ids, sample) for sample in ids if sample]))
                yield row


DIVERSITY_MEASURES = ("distinct_2", "self_bleu", "entropy_rate_bits", "partner_perplexity")


def diversity_contrast(diversity: pd.DataFrame) -> pd.DataFrame:
    """Temperature against top_p in generated text, per model and value: the mean difference (top_p
    minus temperature) of each measure, paired by start and seed, with a bootstrap 95% CI over starts
    (the seeds of one start are averaged first: they share a prompt), both at equal nominal values
    and at equal next-token entropy (the top_p whose entropy matches that temperature's; the k-th
    smallest matched top_p goes with the k-th smallest temperature, as the exchange rate rises with
    temperature)."""
    rows = []
    for model, frame in diversity.groupby("model"):
        temperatures = frame[frame["parameter"] == "temperature"]
        top_ps = frame[(frame["parameter"] == "top_p") & ~frame["matched_entropy"].astype(bool)]
        matched = frame[(frame["parameter"] == "top_p") & frame["matched_entropy"].astype(bool)]
        pairs = [("equal value", value, value, top_ps) for value in sorted(temperatures["value"].unique())]
        pairs += [("equal entropy", value, rate, matched) for value, rate in
                  zip(sorted(temperatures["value"].unique()), sorted(matched["value"].unique()))]
        for comparison, value, top_p, candidates in pairs:
            keys = ["start", "seed"]
            joined = temperatures[temperatures["value"] == value].merge(
                candidates[candidates["value"] == top_p], on=keys, suffixes=("_temperature", "_top_p"))
            for measure in DIVERSITY_MEASURES:
                if f"{measure}_top_p" not in joined or joined[f"{measure}_top_p"].isna().all():
                    continue
                joined["difference"] = joined[f"{measure}_top_p"] - joined[f"{measure}_temperature"]
                per_start = joined.groupby("start")["difference"].mean().dropna().to_numpy()
                low, high = measures.bootstrap_interval(per_start)
                rows.append({"model": model, "comparison": comparison, "temperature": value, "top_p": top_p,
                             "measure": measure, "difference": float(np.mean(per_start)) if len(per_start) else np.nan,
                             "low": low, "high": high, "starts": len(per_start)})
    return pd.DataFrame(rows)
