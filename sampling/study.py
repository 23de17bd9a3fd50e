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


OPTIONAL_COLUMNS = {"context_set": "prompts", "category": "", "cluster": "", "zipf_s": float("nan")}
"""Columns older results files lack, and what they mean there (no cluster: each context its own)."""

VALUES = (0.1, 0.3, 0.5, 0.7, 0.9)
PRIMARY_VALUE = 0.5
"""The primary endpoint, fixed before the data (docs/study/README.md, "The question, stated"): at
temperature = top_p = 0.5, per model, the mean margin |ΔH_T| − |ΔH_p| and the shares of contexts
where each control moves entropy more, both always shown; each kind of context (prompts, held-out
windows, sampled steps) weighs the same; intervals resample whole clusters. T > 1 has no top_p
counterpart (top_p cannot raise entropy), so only values up to 1 are compared."""
LEVEL = 0.95


def with_optional_columns(results: pd.DataFrame) -> pd.DataFrame:
    missing = {column: value for column, value in OPTIONAL_COLUMNS.items() if column not in results.columns}
    results = results.assign(**missing) if missing else results
    if (results["cluster"] == "").any():
        results = results.assign(cluster=results["cluster"].where(
            results["cluster"] != "", "context " + results["prompt_index"].astype(str)))
    return results


def model_order(models) -> list[str]:
    """The real models first (in `sampling.fetch.REAL_MODELS` order), then the others by name."""
    from sampling.fetch import REAL_MODELS

    models = set(models)
    return [name for name in REAL_MODELS if name in models] + sorted(models - set(REAL_MODELS))


def paired(results: pd.DataFrame) -> pd.DataFrame:
    """Per model, context and value that both sweeps visit: the raw entropy (T = 1, nothing cut),
    the entropy under temperature alone and under top_p alone (bits), how many tokens top_p
    kept, and the margin |ΔH_T| − |ΔH_p| (positive: temperature moved it more)."""
    results = with_optional_columns(results)
    keys = ["model", "prompt_index"]
    temperature = results[results["sweep"] == "temperature"]
    raw = temperature[temperature["temperature"] == 1.0].set_index(keys)["entropy_bits"].rename("raw_bits")
    top_p = results[results["sweep"] == "top_p"].rename(
        columns={"top_p": "value", "entropy_bits": "top_p_bits", "tokens_kept": "top_p_kept"})
    merged = (
        temperature.rename(columns={"temperature": "value", "entropy_bits": "temperature_bits"})
        [keys + ["context_set", "category", "cluster", "zipf_s", "value", "temperature_bits"]]
        .merge(top_p[keys + ["value", "top_p_bits", "top_p_kept"]], on=keys + ["value"])
        .join(raw, on=keys)
    )
    merged["margin_bits"] = measures.margin(merged["raw_bits"].to_numpy(), merged["temperature_bits"].to_numpy(),
                                            merged["top_p_bits"].to_numpy())
    return merged


def _cells(pairs: pd.DataFrame, values: Sequence[float] | None) -> pd.DataFrame:
    if values is None:
        return pairs
    return pairs[np.isclose(pairs["value"].to_numpy()[:, None], np.asarray(values)[None, :]).any(axis=1)]


def margin_table(results: pd.DataFrame, context_set: str | None = None, values: Sequence[float] | None = None,
                 resamples: int = 2000) -> pd.DataFrame:
    """Per model and value: the mean margin and the shares of contexts where temperature (and where
    top_p) moved entropy more, each kind of context weighted the same, with cluster-bootstrap 95 %
    intervals (and Bonferroni-adjusted ones for all the table's cells together); the naive bootstrap
    over single contexts beside them, to show what clustering changes; and the exact part: the
    share of contexts where top_p keeps one token (p1 >= value), where top_p always wins."""
    pairs = _cells(paired(results), values)
    if context_set is not None:
        pairs = pairs[pairs["context_set"] == context_set]
    groups = list(pairs.groupby(["model", "value"]))
    adjusted = measures.adjusted_level(len(groups), LEVEL)
    rows = []
    for (model, value), group in groups:
        margins = group["margin_bits"].to_numpy()
        kinds, clusters = group["context_set"].to_numpy(), group["cluster"].to_numpy()
        columns = np.stack([margins, margins > 0, margins < 0], axis=1).astype(float)
        point = measures.kind_weighted_mean(columns, kinds)
        estimates = measures.cluster_bootstrap(columns, clusters, kinds, resamples)
        (low, high), (share_low, share_high), (top_p_low, top_p_high) = (
            measures.percentile_interval(estimates[:, column], LEVEL) for column in range(3))
        adjusted_low, adjusted_high = measures.percentile_interval(estimates[:, 0], adjusted)
        naive_low, naive_high = measures.bootstrap_interval(margins)
        one_token = group["top_p_kept"].to_numpy() == 1
        rows.append({"model": model, "value": value, "contexts": len(margins), "clusters": len(set(clusters)),
                     "margin_bits": point[0], "margin_low": low, "margin_high": high,
                     "margin_low_adjusted": adjusted_low, "margin_high_adjusted": adjusted_high,
                     "naive_low": naive_low, "naive_high": naive_high,
                     "temperature_share": point[1], "share_low": share_low, "share_high": share_high,
                     "top_p_share": point[2], "top_p_share_low": top_p_low, "top_p_share_high": top_p_high,
                     "one_token_share": float(one_token.mean()),
                     "top_p_wins_where_one_token": bool((margins[one_token] <= 0).all()),
                     "raw_bits": measures.kind_weighted_mean(group["raw_bits"].to_numpy(), kinds)})
    table = pd.DataFrame(rows)
    if len(table):
        table["model"] = pd.Categorical(table["model"], model_order(table["model"]), ordered=True)
        table = table.sort_values(["model", "value"]).reset_index(drop=True)
        table["model"] = table["model"].astype(str)
    return table


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
    """The exchange rate per model and temperature below 1, defined two ways:

    - ``mean_top_p``: the top_p whose mean entropy equals temperature T's mean entropy (the mean
      over contexts, kinds weighted the same), with a cluster-bootstrap 95 % interval: the rate
      that equalises the average, used for the generated-text comparison;
    - ``top_p`` (``median_top_p``): the median over contexts of each context's own equal-entropy
      top_p, with a bootstrap interval of that median, and the share of contexts where any top_p
      reaches T's entropy.
    """
    results = with_optional_columns(results)
    rates = exchange_rates(results)
    rows = []
    for (model, temperature), group in rates.groupby(["model", "temperature"]):
        values = group["top_p"].to_numpy()
        reached = values[~np.isnan(values)]
        low, high = measures.bootstrap_interval(reached, np.median) if len(reached) else (np.nan, np.nan)
        rows.append({"model": model, "temperature": temperature, "top_p": float(np.median(reached)) if len(reached)
                     else np.nan, "top_p_low": low, "top_p_high": high, "reached": len(reached) / len(values)})
    table = pd.DataFrame(rows).rename(columns={"top_p": "median_top_p", "top_p_low": "median_low",
                                              "top_p_high": "median_high"})
    mean_rates = pd.concat([_mean_exchange(frame) for _, frame in results.groupby("model")], ignore_index=True)
    return table.merge(mean_rates, on=["model", "temperature"], how="left")


def _mean_exchange(results: pd.DataFrame, resamples: int = 2000) -> pd.DataFrame:
    """`exchange_table`'s ``mean_top_p`` for one model."""
    temperature = results[(results["sweep"] == "temperature") & (results["temperature"] < 1.0)]
    top_p = results[results["sweep"] == "top_p"]
    temperature_bits = temperature.pivot(index="prompt_index", columns="temperature", values="entropy_bits")
    top_p_bits = top_p.pivot(index="prompt_index", columns="top_p", values="entropy_bits").loc[temperature_bits.index]
    context = results.drop_duplicates("prompt_index").set_index("prompt_index").loc[temperature_bits.index]
    values = np.concatenate([temperature_bits.to_numpy(), top_p_bits.to_numpy()], axis=1)
    kinds, clusters = context["context_set"].to_numpy(), context["cluster"].to_numpy()
    point = measures.kind_weighted_mean(values, kinds)
    estimates = measures.cluster_bootstrap(values, clusters, kinds, resamples)
    temperatures, top_ps = temperature_bits.columns.to_numpy(), top_p_bits.columns.to_numpy()
    split = len(temperatures)

    def solve(means: np.ndarray) -> np.ndarray:
        return np.array([measures.exchange_rate(top_ps, means[split:], target) for target in means[:split]])

    solved = np.array([solve(estimate) for estimate in estimates])
    intervals = [measures.percentile_interval(solved[:, column], LEVEL) for column in range(split)]
    return pd.DataFrame({"model": results["model"].iloc[0], "temperature": temperatures, "mean_top_p": solve(point),
                         "mean_low": [low for low, _ in intervals], "mean_high": [high for _, high in intervals]})


def sensitivity_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per model: how fast entropy moves at the settings people use, in bits per 0.1 of the
    control: temperature from 0.7 to 1.0 and top_p from 0.9 to 0.95 (each the other off), with
    cluster-bootstrap 95 % intervals, kinds of context weighted the same."""
    results = with_optional_columns(results)
    rows = []
    for model, group in results.groupby("model"):
        slopes, kinds, clusters = {"temperature": [], "top_p": []}, [], []
        for _, context in group.groupby("prompt_index"):
            kinds.append(context["context_set"].iloc[0])
            clusters.append(context["cluster"].iloc[0])
            for control, (low, high) in {"temperature": (0.7, 1.0), "top_p": (0.9, 0.95)}.items():
                curve = context[context["sweep"] == control].sort_values(control)
                slopes[control].append(0.1 * measures.slope(curve[control].to_numpy(), curve["entropy_bits"].to_numpy(),
                                                             low, high))
        for control, values in slopes.items():
            values = np.array(values)
            estimates = measures.cluster_bootstrap(values, np.array(clusters), np.array(kinds))
            low, high = measures.percentile_interval(estimates, LEVEL)
            rows.append({"model": model, "control": control,
                         "bits_per_tenth": float(measures.kind_weighted_mean(values, np.array(kinds))),
                         "low": low, "high": high})
    return pd.DataFrame(rows)


def vocab_sizes(results: pd.DataFrame) -> dict[str, int]:
    """Each model's vocabulary: the tokens kept when nothing is cut."""
    untouched = results[(results["sweep"] == "temperature") & (results["temperature"] == 1.0)]
    return untouched.groupby("model")["tokens_kept"].max().astype(int).to_dict()


def rule_table(results: pd.DataFrame, vocab_sizes: dict[str, int], value: float = PRIMARY_VALUE) -> pd.DataFrame:
    """The Zipf theory against the data, per model, at ``value``: the Zipf exponent s* above which
    top_p moves entropy more (for the model's vocabulary), the share of contexts steeper than s*,
    and how often "temperature moves it more exactly when s < s*" is right (Wilson interval)."""
    pairs = _cells(paired(results), [value]).dropna(subset=["zipf_s"])
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


def cross_model_rules(results: pd.DataFrame, value: float = PRIMARY_VALUE) -> pd.DataFrame:
    """Who wins, predicted across models, at ``value``; one row per pair (fitted on, tested on).

    Every rule starts from the exact part: where top_p keeps one token (p1 >= value) top_p wins.
    For the other contexts, "temperature wins when the context's entropy is below θ (or above)" is
    fitted on one model and tested on another. Beside it, on the tested model: the best constant
    answer (its own majority winner, known only after the fact), the exact part with that majority
    for the rest, and the Zipf rule (s < s* for its vocabulary). Accuracies weigh each kind of
    context the same."""
    pairs = _cells(paired(results), [value]).dropna(subset=["raw_bits"])
    vocab = vocab_sizes(results)
    models = model_order(pairs["model"].unique())
    by_model = {model: pairs[pairs["model"] == model] for model in models}

    def accuracy(frame: pd.DataFrame, predicted: np.ndarray) -> float:
        right = (predicted == (frame["margin_bits"].to_numpy() > 0)).astype(float)
        return float(measures.kind_weighted_mean(right, frame["context_set"].to_numpy()))

    fitted = {}
    for model, frame in by_model.items():
        rest = frame[frame["top_p_kept"] > 1]
        fitted[model] = measures.threshold_rule(rest["raw_bits"], rest["margin_bits"] > 0) if len(rest) else (
            np.nan, True)
    rows = []
    for tested, frame in by_model.items():
        one_token = frame["top_p_kept"].to_numpy() == 1
        wins = frame["margin_bits"].to_numpy() > 0
        majority = bool(measures.kind_weighted_mean(wins.astype(float), frame["context_set"].to_numpy()) > 0.5)
        rest_wins = wins[~one_token]
        rest_majority = bool(rest_wins.mean() > 0.5) if len(rest_wins) else False
        crossing = measures.zipf_crossing(vocab[tested], value)
        zipf = frame["zipf_s"].to_numpy() < crossing
        for fitted_on, (threshold, below) in fitted.items():
            predicted = ~one_token & measures.apply_threshold_rule(frame["raw_bits"], threshold, below)
            rows.append({"fitted_on": fitted_on, "tested_on": tested, "value": value, "threshold_bits": threshold,
                         "temperature_below": below, "accuracy": accuracy(frame, predicted),
                         "majority": accuracy(frame, np.full(len(frame), majority)),
                         "exact_and_majority": accuracy(frame, ~one_token & rest_majority),
                         "zipf": accuracy(frame, zipf) if crossing == crossing else np.nan,
                         "one_token_share": float(one_token.mean()),
                         "exact_holds": bool((frame["margin_bits"].to_numpy()[one_token] <= 0).all())})
    return pd.DataFrame(rows)


def rule_summary(cross: pd.DataFrame) -> pd.DataFrame:
    """Per tested model: the entropy rule fitted on *other* models (mean, worst), fitted on itself,
    and the baselines."""
    rows = []
    for tested, group in cross.groupby("tested_on", sort=False):
        others = group[group["fitted_on"] != tested]
        own = group[group["fitted_on"] == tested].iloc[0]
        rows.append({"model": tested, "one_token_share": own["one_token_share"], "exact_holds": own["exact_holds"],
                     "transferred": others["accuracy"].mean() if len(others) else np.nan,
                     "transferred_worst": others["accuracy"].min() if len(others) else np.nan,
                     "own_fit": own["accuracy"], "own_threshold_bits": own["threshold_bits"],
                     "temperature_below": own["temperature_below"], "majority": own["majority"],
                     "exact_and_majority": own["exact_and_majority"], "zipf": own["zipf"]})
    return pd.DataFrame(rows)


def wins_by_entropy(results: pd.DataFrame, value: float = PRIMARY_VALUE, width: float = 1.0) -> pd.DataFrame:
    """The share of contexts where temperature moves entropy more at ``value``, per model and bin
    of the context's own entropy (``width`` bits), with each bin's count: the figure of who wins."""
    pairs = _cells(paired(results), [value]).dropna(subset=["raw_bits"])
    pairs = pairs.assign(entropy_bin=(np.floor(pairs["raw_bits"] / width) + 0.5) * width,
                         temperature_wins=pairs["margin_bits"] > 0)
    table = pairs.groupby(["model", "entropy_bin"], as_index=False).agg(
        temperature_share=("temperature_wins", "mean"), contexts=("temperature_wins", "size"))
    return table[table["contexts"] >= 5]


def joint_grid(results: pd.DataFrame, model: str) -> pd.DataFrame:
    """Mean entropy across contexts over the temperature × top_p grid of one model."""
    joint = results[(results["sweep"] == "joint") & (results["model"] == model)]
    return joint.groupby(["temperature", "top_p"], as_index=False)["entropy_bits"].mean()


@dataclass(frozen=True)
class Answer:
    """The answer at the primary value, across models, as numbers the sentences are built from."""

    value: float
    models: tuple[str, ...]
    temperature_leads: int
    """Models whose adjusted interval of the mean margin lies above zero."""
    top_p_leads: int
    smallest_margin: float
    largest_margin: float
    temperature_majority: int
    """Models where temperature moves entropy more in over half the contexts (interval above 1/2)."""
    top_p_majority: int
    """Models where temperature does so in under half of them (interval below 1/2)."""
    lowest_share: float
    highest_share: float
    one_token_low: float
    one_token_high: float
    rule_transferred: float
    """The entropy rule's accuracy fitted on other models, mean over tested models (NaN: one model)."""
    rule_majority: float
    rule_zipf: float
    mean_top_p: float
    """Median over models of the mean-equalising exchange rate at this temperature."""
    median_top_p: float

    @property
    def leader(self) -> str:
        """``"temperature"`` or ``"top_p"`` when it leads on the mean in every model, else ``"mixed"``."""
        if self.models and self.temperature_leads == len(self.models):
            return "temperature"
        if self.models and self.top_p_leads == len(self.models):
            return "top_p"
        return "mixed"

    @property
    def per_context(self) -> str:
        """``"temperature"`` when temperature wins in most contexts of every model, ``"top_p"`` when
        in under half of every model's, else ``"mixed"``."""
        if self.models and self.temperature_majority == len(self.models):
            return "temperature"
        if self.models and self.top_p_majority == len(self.models):
            return "top_p"
        return "mixed"


def answer(margin: pd.DataFrame, exchange: pd.DataFrame, rules: pd.DataFrame,
           value: float = PRIMARY_VALUE) -> Answer:
    """Summarise `margin_table`, `exchange_table` and `rule_summary` at ``value``."""
    at = margin[np.isclose(margin["value"], value)] if len(margin) else margin
    rates = exchange[np.isclose(exchange["temperature"], value)] if len(exchange) else exchange

    def median(column: str) -> float:
        values = rates[column].dropna() if column in rates else []
        return float(np.median(values)) if len(values) else float("nan")

    def mean(column: str) -> float:
        values = rules[column].dropna() if column in rules else []
        return float(np.mean(values)) if len(values) else float("nan")

    def extreme(column: str, pick) -> float:
        return float(pick(at[column])) if len(at) else float("nan")

    return Answer(
        value=value, models=tuple(at["model"]) if len(at) else (),
        temperature_leads=int((at["margin_low_adjusted"] > 0).sum()) if len(at) else 0,
        top_p_leads=int((at["margin_high_adjusted"] < 0).sum()) if len(at) else 0,
        smallest_margin=extreme("margin_bits", np.min), largest_margin=extreme("margin_bits", np.max),
        temperature_majority=int((at["share_low"] > 0.5).sum()) if len(at) else 0,
        top_p_majority=int((at["share_high"] < 0.5).sum()) if len(at) else 0,
        lowest_share=extreme("temperature_share", np.min), highest_share=extreme("temperature_share", np.max),
        one_token_low=extreme("one_token_share", np.min), one_token_high=extreme("one_token_share", np.max),
        rule_transferred=mean("transferred"), rule_majority=mean("majority"), rule_zipf=mean("zipf"),
        mean_top_p=median("mean_top_p"), median_top_p=median("median_top_p"))


def summary_lines(results: pd.DataFrame, value: float = PRIMARY_VALUE) -> list[str]:
    """The answer in a few plain lines, one per model, computed from the results."""
    table = margin_table(results, values=[value])
    lines = []
    for row in table.itertuples():
        leader = ("temperature" if row.margin_low_adjusted > 0 else "top_p" if row.margin_high_adjusted < 0
                  else "neither, clearly")
        lines.append(
            f"{row.model}: at {value:g}, mean |ΔH_T| − |ΔH_p| = {row.margin_bits:+.3f} bits (95% CI "
            f"{row.margin_low:+.3f} to {row.margin_high:+.3f}, {row.clusters} clusters of {row.contexts} contexts); "
            f"temperature moved entropy more in {row.temperature_share:.0%} of contexts ({row.share_low:.0%}–"
            f"{row.share_high:.0%}), top_p in {row.top_p_share:.0%}; on the mean: {leader}."
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
