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

import pandas as pd
from tqdm import tqdm

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
                  "entropy_bits", "effective_tokens", "tokens_kept"}


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


def _read_bounded(source: Path | str | BinaryIO, name: str, max_rows: int) -> pd.DataFrame:
    columns = sorted(RESULT_COLUMNS)
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(source)
        _check_columns(name, set(parquet.schema_arrow.names))
        if parquet.metadata.num_rows > max_rows:
            raise _too_many_rows(name, max_rows)
        return parquet.read(columns=columns).to_pandas()
    header = pd.read_csv(source, nrows=0)
    _check_columns(name, set(header.columns))
    if hasattr(source, "seek"):
        source.seek(0)
    results = pd.read_csv(source, usecols=columns, nrows=max_rows + 1)
    if len(results) > max_rows:
        raise _too_many_rows(name, max_rows)
    return results


def entropy_change(results: pd.DataFrame) -> pd.DataFrame:
    """Per model, prompt and value: how far temperature alone and top_p alone move the entropy
    away from the raw distribution (T = 1, no filter), in bits. Only values both sweeps visit."""
    raw = (
        results[(results["sweep"] == "temperature") & (results["temperature"] == 1.0)]
        .set_index(["model", "prompt_index"])["entropy_bits"]
    )
    temperature = results[results["sweep"] == "temperature"].rename(columns={"temperature": "value"})
    top_p = results[results["sweep"] == "top_p"].rename(columns={"top_p": "value"})
    keys = ["model", "prompt_index", "value"]
    merged = temperature[keys + ["entropy_bits"]].merge(
        top_p[keys + ["entropy_bits"]], on=keys, suffixes=("_temperature", "_top_p")
    )
    merged["raw_entropy_bits"] = raw.reindex(pd.MultiIndex.from_frame(merged[["model", "prompt_index"]])).to_numpy()
    merged["change_temperature"] = merged["entropy_bits_temperature"] - merged["raw_entropy_bits"]
    merged["change_top_p"] = merged["entropy_bits_top_p"] - merged["raw_entropy_bits"]
    merged["temperature_moves_more"] = merged["change_temperature"].abs() > merged["change_top_p"].abs()
    return merged


def comparison_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per model and value: mean entropy change of each control, and on what share of prompts
    temperature moved the entropy more than top_p."""
    changes = entropy_change(results)
    return (
        changes.groupby(["model", "value"])
        .agg(
            prompts=("prompt_index", "nunique"),
            raw_entropy_bits=("raw_entropy_bits", "mean"),
            change_temperature=("change_temperature", "mean"),
            change_top_p=("change_top_p", "mean"),
            temperature_moves_more=("temperature_moves_more", "mean"),
        )
        .reset_index()
    )


def joint_grid(results: pd.DataFrame, model: str) -> pd.DataFrame:
    """Mean entropy across prompts over the temperature × top_p grid of one model."""
    joint = results[(results["sweep"] == "joint") & (results["model"] == model)]
    return joint.groupby(["temperature", "top_p"], as_index=False)["entropy_bits"].mean()


def entropy_curves(results: pd.DataFrame, model: str) -> pd.DataFrame:
    """Median and interquartile range across prompts of entropy against the value of temperature
    alone and of top_p alone, on the values up to 1 that both can take."""
    changes = entropy_change(results[results["model"] == model])
    long = pd.concat([
        changes[["value", "entropy_bits_temperature"]].rename(columns={"entropy_bits_temperature": "entropy"})
        .assign(parameter="temperature"),
        changes[["value", "entropy_bits_top_p"]].rename(columns={"entropy_bits_top_p": "entropy"})
        .assign(parameter="top_p"),
    ])
    grouped = long.groupby(["parameter", "value"])["entropy"]
    return pd.DataFrame({
        "median": grouped.median(), "q25": grouped.quantile(0.25), "q75": grouped.quantile(0.75),
    }).reset_index()


def change_by_prompt(results: pd.DataFrame, model: str, values: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9)) -> pd.DataFrame:
    """Each prompt's entropy change from raw, per control, at a few values."""
    changes = entropy_change(results[results["model"] == model])
    changes = changes[changes["value"].round(6).isin([round(v, 6) for v in values])]
    return pd.concat([
        changes[["value", "change_temperature"]].rename(columns={"change_temperature": "change_bits"})
        .assign(parameter="temperature"),
        changes[["value", "change_top_p"]].rename(columns={"change_top_p": "change_bits"}).assign(parameter="top_p"),
    ], ignore_index=True)


def answer(results: pd.DataFrame, value: float = 0.5) -> list[str]:
    """One plain sentence per model, computed from the results."""
    table = comparison_table(results)
    at_value = table[(table["value"] - value).abs() < 1e-9]
    sentences = []
    for row in at_value.itertuples():
        overall = table[table["model"] == row.model]
        values_won = int((overall["temperature_moves_more"] > 0.5).sum())
        sentences.append(
            f"{row.model}: at {value:g}, temperature lowers entropy by {-row.change_temperature:.2f} bits on "
            f"average against {-row.change_top_p:.2f} for top_p (raw entropy {row.raw_entropy_bits:.2f} bits); "
            f"temperature moved it more on {row.temperature_moves_more:.0%} of {row.prompts} prompts. "
            f"Of the {len(overall)} values from {overall['value'].min():g} to {overall['value'].max():g}, "
            f"temperature moved entropy more on most prompts at {values_won}."
        )
    return sentences


def diversity_sweep(
    handle: ModelHandle,
    prompts: Sequence[StudyPrompt],
    temperatures: Sequence[float],
    top_ps: Sequence[float],
    samples: int = 8,
    length: int = 30,
    seed: int = 0,
) -> Iterator[dict]:
    """Distinct-n, self-BLEU and mean token entropy of generated text, against temperature (top_p
    off) and against top_p (temperature 1). One row per model, prompt and setting."""
    settings = [("temperature", v, SamplingConfig(temperature=v)) for v in temperatures]
    settings += [("top_p", v, SamplingConfig(top_p=v)) for v in top_ps]
    for index, prompt in enumerate(tqdm(prompts, desc=f"{handle.name}: generating", unit="prompt")):
        for parameter, value, config in settings:
            generation = handle.generate(prompt.text, config, n=samples, max_new_tokens=length, seed=seed)
            ids = [[token.id for token in c.tokens] for c in generation.continuations]
            texts = [c.text for c in generation.continuations]
            entropies = [token.entropy_after_bits for c in generation.continuations for token in c.tokens]
            yield {
                "model": handle.name,
                "prompt_index": index,
                "category": prompt.category,
                "parameter": parameter,
                "value": value,
                "distinct_1": distinct_n(ids, 1),
                "distinct_2": distinct_n(ids, 2),
                "distinct_3": distinct_n(ids, 3),
                "self_bleu": self_bleu(texts, tokenize="zh" if prompt.category == "chinese" else "13a"),
                "mean_token_entropy_bits": mean_token_entropy(entropies),
            }
