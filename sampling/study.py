"""The study: at equal values, does temperature or top_p move next-token entropy more?

Reads the long-form results of `sampling.sweep` and answers in numbers and in words. Also
measures the diversity of generated text on a smaller grid.
"""

from __future__ import annotations

import math
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
from sampling.metrics import distinct_n, mean_token_entropy, repetition_rate, self_bleu
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
                 resamples: int = 2000, single_context_intervals: bool = False) -> pd.DataFrame:
    """Per model and value: the mean margin and the shares of contexts where temperature (and where
    top_p) moved entropy more, each kind of context weighted the same, with cluster-bootstrap 95 %
    intervals (and Bonferroni-adjusted ones for all the table's cells together); with
    ``single_context_intervals``, the same bootstrap over single contexts beside them (``naive_low``,
    ``naive_high``), to show what clustering changes; and the exact part: the
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
        # The same bootstrap with every context its own cluster: what the intervals were before.
        naive_low, naive_high = measures.percentile_interval(measures.cluster_bootstrap(
            margins, np.arange(len(margins)), kinds, resamples), LEVEL) if single_context_intervals else (np.nan,) * 2
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


def _curves(results: pd.DataFrame, sweep: str, below_one: bool = False) -> pd.DataFrame:
    """One model's entropy curves of one sweep: a row per context, a column per value."""
    rows = results[results["sweep"] == sweep]
    if below_one:
        rows = rows[rows[sweep] < 1.0]
    return rows.pivot(index="prompt_index", columns=sweep, values="entropy_bits").sort_index(axis=1)


def _contexts(results: pd.DataFrame) -> pd.DataFrame:
    """One model's contexts, a row each, indexed by ``prompt_index`` (their kind and cluster)."""
    return results.drop_duplicates("prompt_index").set_index("prompt_index")


def exchange_rates(results: pd.DataFrame) -> pd.DataFrame:
    """Per model, context and temperature below 1: the top_p that gives the same entropy."""
    results = with_optional_columns(results)
    frames = []
    for model, frame in results.groupby("model"):
        temperature = _curves(frame, "temperature", below_one=True)
        top_p = _curves(frame, "top_p").loc[temperature.index]
        rates = measures.exchange_rates(top_p.columns.to_numpy(), top_p.to_numpy(), temperature.to_numpy())
        kinds = _contexts(frame)["context_set"].loc[temperature.index]
        frames.append(pd.DataFrame({"model": model, "prompt_index": np.repeat(temperature.index, rates.shape[1]),
                                    "context_set": np.repeat(kinds.to_numpy(), rates.shape[1]),
                                    "temperature": np.tile(temperature.columns.to_numpy(), len(temperature)),
                                    "top_p": rates.ravel()}))
    return pd.concat(frames, ignore_index=True)


def exchange_table(results: pd.DataFrame) -> pd.DataFrame:
    """The exchange rate per model and temperature below 1, defined two ways:

    - ``mean_top_p``: the top_p whose mean entropy equals temperature T's mean entropy (the mean
      over contexts, kinds weighted the same), with a cluster-bootstrap 95 % interval: the rate
      that equalises the average, used for the generated-text comparison;
    - ``median_top_p``: the median over contexts of each context's own equal-entropy top_p, and the
      share of contexts where any top_p reaches T's entropy (``reached``).
    """
    results = with_optional_columns(results)
    rates = exchange_rates(results)
    table = rates.groupby(["model", "temperature"], as_index=False).agg(
        median_top_p=("top_p", "median"), reached=("top_p", lambda values: float(values.notna().mean())))
    mean_rates = pd.concat([_mean_exchange(frame) for _, frame in results.groupby("model")], ignore_index=True)
    return table.merge(mean_rates, on=["model", "temperature"], how="left")


def _mean_exchange(results: pd.DataFrame, resamples: int = 2000) -> pd.DataFrame:
    """`exchange_table`'s ``mean_top_p`` for one model."""
    temperature_bits = _curves(results, "temperature", below_one=True)
    top_p_bits = _curves(results, "top_p").loc[temperature_bits.index]
    context = _contexts(results).loc[temperature_bits.index]
    values = np.concatenate([temperature_bits.to_numpy(), top_p_bits.to_numpy()], axis=1)
    kinds, clusters = context["context_set"].to_numpy(), context["cluster"].to_numpy()
    split = temperature_bits.shape[1]
    top_ps = top_p_bits.columns.to_numpy()

    def solve(means: np.ndarray) -> np.ndarray:
        """Mean temperature entropies and mean top_p curve(s), ``[..., T + P]``, to rates ``[..., T]``."""
        means = np.atleast_2d(means)
        return measures.exchange_rates(top_ps, means[:, split:], means[:, :split])

    solved = solve(measures.cluster_bootstrap(values, clusters, kinds, resamples))
    intervals = [measures.percentile_interval(solved[:, column], LEVEL) for column in range(split)]
    return pd.DataFrame({"model": results["model"].iloc[0], "temperature": temperature_bits.columns.to_numpy(),
                         "mean_top_p": solve(measures.kind_weighted_mean(values, kinds))[0],
                         "mean_low": [low for low, _ in intervals], "mean_high": [high for _, high in intervals]})


def sensitivity_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per model: how fast entropy moves at the settings people use, in bits per 0.1 of the
    control: temperature from 0.7 to 1.0 and top_p from 0.9 to 0.95 (each the other off), with
    cluster-bootstrap 95 % intervals, kinds of context weighted the same."""
    results = with_optional_columns(results)
    rows = []
    for model, frame in results.groupby("model"):
        context = _contexts(frame).sort_index()
        kinds, clusters = context["context_set"].to_numpy(), context["cluster"].to_numpy()
        for control, (low, high) in {"temperature": (0.7, 1.0), "top_p": (0.9, 0.95)}.items():
            curves = _curves(frame, control).loc[context.index]
            values = 0.1 * measures.slope(curves.columns.to_numpy(), curves.to_numpy(), low, high)
            estimates = measures.cluster_bootstrap(values, clusters, kinds)
            interval = measures.percentile_interval(estimates, LEVEL)
            rows.append({"model": model, "control": control,
                         "bits_per_tenth": float(measures.kind_weighted_mean(values, kinds)),
                         "low": interval[0], "high": interval[1]})
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
    rule_threshold: float
    """Median over models of the entropy (bits) above which, fitted on each model itself, temperature
    wins; NaN unless every model's rule points that way."""
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
        rule_threshold=float(rules["own_threshold_bits"].median())
        if len(rules) and not rules["temperature_below"].any() else float("nan"),
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
DIVERSITY_STARTS = 6
"""Starts of each kind: shipped prompts (one per category, then more) and held-out passages."""
DIVERSITY_SAMPLES = 8
DIVERSITY_LENGTH = 64
DIVERSITY_SEEDS = (0,)
PARTNERS = {"fortune-base": "fortune-small", "fortune-small": "fortune-base", "smollm2": "gemma3", "gemma3": "smollm2"}
"""Which model scores whose samples: the fortune models share a tokenizer; the two real models
score each other's text, re-tokenized (a quality check that a model's own loops cannot game)."""


def diversity_prompts(prompts: Sequence[StudyPrompt], heldout: dict[str, str],
                      per_kind: int = DIVERSITY_STARTS) -> list[StudyPrompt]:
    """Stratified starts: ``per_kind`` shipped prompts, one per category in turn, and as many
    passages of the held-out texts (taken from each source in turn), when there are any."""
    by_category: dict[str, list[StudyPrompt]] = {}
    for prompt in prompts:
        by_category.setdefault(prompt.category, []).append(prompt)
    chosen = [group[rank] for rank in range(max(map(len, by_category.values()), default=0))
              for group in by_category.values() if rank < len(group)][:per_kind]
    passages = {source: [passage.strip() for passage in text.split("<|endoftext|>") if len(passage.strip()) > 80]
                for source, text in heldout.items()}
    interleaved = [(source, found[rank]) for rank in range(max(map(len, passages.values()), default=0))
                   for source, found in passages.items() if rank < len(found)]
    return chosen + [StudyPrompt(f"heldout {source}", passage[:160]) for source, passage in interleaved[:per_kind]]


@torch.inference_mode()
def perplexity_under(scorer: ModelHandle, prompt: str, continuation: str) -> float:
    """The perplexity ``scorer`` gives the continuation's text after the prompt's, each encoded by
    its own tokenizer as it feeds text (the prompt with its special tokens)."""
    prompt_ids = scorer.tokenizer(prompt)["input_ids"] or list(scorer.encode("").ids)
    continuation_ids = scorer.tokenizer(continuation, add_special_tokens=False)["input_ids"]
    if not continuation_ids:
        return math.nan
    ids = torch.tensor([[*prompt_ids, *continuation_ids]], device=scorer.device)
    # Only the positions that predict the continuation: a vocabulary-wide row each.
    logits = scorer.model(input_ids=ids, logits_to_keep=len(continuation_ids) + 1).logits[0, :-1].float()
    surprise = torch.nn.functional.cross_entropy(logits, ids[0, len(prompt_ids):])
    return float(torch.exp(surprise))


def diversity_settings(handle_name: str, results: pd.DataFrame) -> list[tuple[str, float, bool, SamplingConfig]]:
    """Temperature alone and top_p alone at `DIVERSITY_VALUES`, and for each temperature the top_p
    whose mean next-token entropy equals it (`exchange_table`'s ``mean_top_p``)."""
    rates = exchange_table(results[results["model"] == handle_name]).set_index("temperature")["mean_top_p"]
    settings = [("temperature", value, False, SamplingConfig(temperature=value)) for value in DIVERSITY_VALUES]
    settings += [("top_p", value, False, SamplingConfig(top_p=value)) for value in DIVERSITY_VALUES]
    for value in DIVERSITY_VALUES:
        matched = rates.get(value, np.nan)
        if not np.isnan(matched):
            settings.append(("top_p", round(float(matched), 3), True, SamplingConfig(top_p=round(float(matched), 3))))
    return settings


def diversity_sweep(handle: ModelHandle, results: pd.DataFrame, prompts: Sequence[StudyPrompt],
                    heldout: dict[str, str], seed: int = 0, scorer: ModelHandle | None = None,
                    chat: bool = False) -> Iterator[dict]:
    """Generated-text diversity at equal values and at equal mean entropy, one row per model,
    start, seed and setting (`diversity_settings`): distinct-1/2/3, self-BLEU, the 4-gram
    repetition rate, the entropy rate (mean entropy per drawn token, bits) and, with a
    ``scorer``, the median perplexity it gives the samples. Prompt starts are chat turns when
    ``chat``."""
    settings = diversity_settings(handle.name, results)
    starts = diversity_prompts(prompts, heldout)
    samples = min(DIVERSITY_SAMPLES, handle.limits.max_samples)
    for index, start in enumerate(tqdm(starts, desc=f"{handle.name}: generating", unit="start")):
        as_chat = chat and not start.category.startswith("heldout")
        for run_seed in (seed + offset for offset in DIVERSITY_SEEDS):
            for parameter, value, matched, config in settings:
                generation = handle.generate(start.text, config, n=samples, max_new_tokens=DIVERSITY_LENGTH,
                                             seed=run_seed, chat=as_chat)
                ids = [[token.id for token in c.tokens] for c in generation.continuations]
                texts = [c.text for c in generation.continuations]
                entropies = [token.entropy_after_bits for c in generation.continuations for token in c.tokens]
                row = {
                    "model": handle.name, "start": index, "category": start.category, "seed": run_seed,
                    "parameter": parameter, "value": value, "matched_entropy": matched,
                    "distinct_1": distinct_n(ids, 1), "distinct_2": distinct_n(ids, 2),
                    "distinct_3": distinct_n(ids, 3), "repetition_rate": repetition_rate(ids),
                    "self_bleu": self_bleu(texts, tokenize="zh" if handle.name == "poems-zh" else "13a"),
                    "entropy_rate_bits": mean_token_entropy(entropies),
                }
                if scorer is not None:
                    read = handle.chat_text(start.text) if as_chat else start.text
                    row["partner_perplexity"] = float(np.nanmedian([
                        perplexity_under(scorer, read, text) for text in texts if text] or [np.nan]))
                yield row


DIVERSITY_MEASURES = ("distinct_2", "self_bleu", "repetition_rate", "entropy_rate_bits", "partner_surprise_nats")
"""What the contrast compares. The scorer's perplexity is compared as its log, the mean surprise
per token (nats): a few runaway samples make perplexities heavy-tailed."""


def diversity_contrast(diversity: pd.DataFrame, resamples: int = 2000) -> pd.DataFrame:
    """Temperature against top_p in generated text, per model and value: the mean difference (top_p
    minus temperature) of each measure, paired by start and seed, with a bootstrap 95 % interval over
    starts (the seeds of one start are averaged first: they share a prompt) and a Bonferroni-adjusted
    one for all the cells together, both at equal nominal values and at equal mean entropy (the
    top_p whose mean entropy matches that temperature's; the k-th smallest matched top_p goes with
    the k-th smallest temperature, as the exchange rate rises with temperature)."""
    if "partner_perplexity" in diversity:
        diversity = diversity.assign(partner_surprise_nats=np.log(diversity["partner_perplexity"]))
    cells = []
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
                cells.append({"model": model, "comparison": comparison, "temperature": value, "top_p": top_p,
                              "measure": measure, "per_start": per_start})
    adjusted = measures.adjusted_level(len(cells), LEVEL)
    rows = []
    for cell in cells:
        per_start = cell.pop("per_start")
        low, high = measures.bootstrap_interval(per_start, resamples=resamples, level=LEVEL)
        adjusted_low, adjusted_high = measures.bootstrap_interval(per_start, resamples=resamples, level=adjusted)
        rows.append({**cell, "difference": float(np.mean(per_start)) if len(per_start) else np.nan, "low": low,
                     "high": high, "low_adjusted": adjusted_low, "high_adjusted": adjusted_high,
                     "starts": len(per_start)})
    return pd.DataFrame(rows)
