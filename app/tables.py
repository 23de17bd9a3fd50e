"""Tables behind the charts and the CSV download: a trace or a generation in, a DataFrame out."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import fields
from pathlib import Path

import pandas as pd
import torch

from sampling.config import SamplingConfig
from sampling.models import Generation
from sampling.pipeline import CONTEXT_STAGES, Trace
from sampling.tokens import unique_labels

Labeller = Callable[[Sequence[int]], list[str]]

RAW_STAGE = "raw"
HEAD_POINTS = 300
TAIL_POINTS = 200
"""The cumulative curve: every rank up to the cut (at most 300), then 200 log-spaced ranks."""


def top_ids(trace: Trace, top_n: int, also: int | None = None) -> list[int]:
    """The ``top_n`` most likely ids of the raw distribution (temperature keeps this order), and
    ``also`` after them when it is not among them (the token a sample drew, whatever its rank)."""
    ids = torch.topk(trace.logits, min(top_n, trace.logits.shape[-1])).indices.tolist()
    return ids + [also] if also is not None and also not in ids else ids


def _temperature(trace: Trace) -> float | None:
    """The temperature the engine divided by (vLLM's raised one included, llama.cpp's dynamic one
    read off the stage); None for greedy."""
    if trace.stage("greedy") is not None:
        return None
    stage = trace.stage("temperature")
    if stage is None:
        return 1.0
    if trace.config.dynatemp_range > 0:
        divided = (stage.logits > float("-inf")) & (stage.logits != 0) & (stage.logits_in != 0)
        return float((stage.logits_in[divided] / stage.logits[divided]).median()) if divided.any() else None
    return stage.value if stage.value > 0 else None


def adjusted_logits(trace: Trace, moved_by: Collection[str] | None = None) -> torch.Tensor:
    """The logits the temperature divides: the model's, moved by the stages that act on the context
    (logit bias, penalties, DRY) where they run before the temperature, as in every engine's
    default order; or by the stages ``moved_by`` names."""
    adjusted = trace.logits.clone()
    for stage in trace.stages:
        if moved_by is None and stage.name == "temperature":
            break
        if stage.name in (CONTEXT_STAGES if moved_by is None else moved_by):
            finite = (stage.logits > float("-inf")) & (stage.logits_in > float("-inf"))
            adjusted[finite] += stage.logits[finite] - stage.logits_in[finite]
    return adjusted


def removed_by(trace: Trace, ids: list[int]) -> list[str]:
    """For each token id of a ``[vocab]`` trace, the stage that removed it ("" where kept)."""
    stage_index = torch.full(trace.logits.shape, -1)
    for index, stage in enumerate(trace.stages):
        stage_index[~stage.kept & (stage.logits_in > float("-inf"))] = index
    return [trace.stages[index].name if index >= 0 else "" for index in stage_index[ids].tolist()]


def top_tokens(trace: Trace, labeller: Labeller, top_n: int, drawn: int | None = None) -> pd.DataFrame:
    """One row per top token (raw rank order), with the arithmetic that turns its logit into its
    final probability: logit, logit / T, the softmax of the scaled logits, their cumulative sum in
    rank order, the final probability and the stage that removed it. ``drawn``: a token a sample
    drew, added after the top tokens when it is not among them and marked ▶ in its label."""
    ids = top_ids(trace, top_n, drawn)
    labels = unique_labels(labeller(ids), ids)
    if drawn is not None:
        labels = [f"▶ {label}" if token == drawn else label for label, token in zip(labels, ids, strict=True)]
    temperature = _temperature(trace)
    logits = adjusted_logits(trace)
    scaled = logits / temperature if temperature is not None else torch.full_like(trace.logits, float("nan"))
    scaled_probs = torch.softmax(scaled, dim=-1)
    order = torch.argsort(trace.logits, descending=True, stable=True)
    cumulative = torch.empty_like(scaled_probs).scatter_(-1, order, scaled_probs[order].double().cumsum(-1).float())
    return pd.DataFrame({
        "rank": [*range(1, min(top_n, len(ids)) + 1),
                 *(int((trace.logits > trace.logits[token]).sum()) + 1 for token in ids[top_n:])],
        "token_id": ids,
        "label": labels,
        "logit": trace.logits[ids].tolist(),
        "adjusted_logit": logits[ids].tolist(),
        "scaled_logit": scaled[ids].tolist(),
        "scaled_prob": scaled_probs[ids].tolist(),
        "cumulative": cumulative[ids].tolist(),
        "raw_prob": trace.raw_probs[ids].tolist(),
        "final_prob": trace.probs[ids].tolist(),
        "kept": trace.kept[ids].tolist(),
        "removed_by": removed_by(trace, ids),
    })


OUTCOME_COLUMNS = ("label", "final_prob", "removed_by")
ARITHMETIC_COLUMNS = ("label", "logit", "scaled_logit", "scaled_prob", "cumulative")
"""The worked arithmetic in two narrow tables, so that each fits its panel: what each token ends
with, then how it got there."""


def outcome(tokens: pd.DataFrame) -> pd.DataFrame:
    """Each top token's final probability and the stage that removed it ("" where kept)."""
    return tokens[list(OUTCOME_COLUMNS)]


def arithmetic(tokens: pd.DataFrame) -> pd.DataFrame:
    """The worked arithmetic of the top tokens, from `top_tokens`: logits (and, where the logit bias,
    penalties or DRY moved them, the moved logits), logits divided by the temperature, their softmax
    and its running sum in rank order. Columns that do not apply (no temperature divides in greedy
    decoding) are left out rather than shown empty."""
    columns = list(ARITHMETIC_COLUMNS)
    if not tokens["adjusted_logit"].equals(tokens["logit"]):
        columns.insert(columns.index("logit") + 1, "adjusted_logit")
    return tokens[[column for column in columns if not tokens[column].isna().all()]]


def thresholds(trace: Trace) -> list[tuple[str, float]]:
    """What each cutting stage of a ``[vocab]`` trace compared against: (stage, value). top_p: the
    number of tokens it kept; typical_p: the entropy it centred on (nats); the others: the
    probability below which they removed a token (top_k: the k-th largest)."""
    found = []
    for stage in trace.stages:
        details = stage.details
        if stage.name == "top_p":
            found.append((stage.name, float(details["cutoff_rank"])))
        elif stage.name == "typical_p":
            found.append((stage.name, float(details["entropy_nats"])))
        elif "penalised" in details:
            found.append((stage.name, float(details["penalised"])))
        elif "removed" in details:
            found.append((stage.name, float(details["removed"])))
        elif "threshold_prob" in details:
            found.append((stage.name, float(details["threshold_prob"])))
    return found


def stage_names(trace: Trace) -> list[str]:
    """The heat map's columns: the raw distribution, then every stage in the engine's order."""
    return [RAW_STAGE, *(stage.name for stage in trace.stages)]


def stage_probabilities(trace: Trace, tokens: pd.DataFrame) -> pd.DataFrame:
    """The probability of each top token after each stage, the raw distribution first."""
    ids = tokens["token_id"].tolist()
    columns = [(RAW_STAGE, "T = 1", trace.raw_probs, torch.ones_like(trace.kept))]
    columns += [(stage.name, f"{stage.value:g}", stage.probs, stage.kept) for stage in trace.stages]
    frames = [
        pd.DataFrame({
            "stage": name,
            "value": value,
            "rank": tokens["rank"],
            "token_id": ids,
            "label": tokens["label"],
            "prob": probs[ids].tolist(),
            "kept": kept[ids].tolist(),
        })
        for name, value, probs, kept in columns
    ]
    return pd.concat(frames, ignore_index=True)


def cumulative_curve(trace: Trace, labeller: Labeller, max_rank: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sorted cumulative probability that top_p cuts, and the cut: a table of at most one row
    with the cut-off rank (where fewer than all tokens are kept) and the top_p threshold.

    Without a top_p stage the curve is of the final distribution.
    """
    stage = trace.stage("top_p")
    if stage is not None:
        details = stage.details
        sorted_probs, sorted_ids = details["sorted_probs"], details["sorted_ids"]
        cumulative, threshold, cutoff = details["cumulative"], float(details["threshold"]), int(details["cutoff_rank"])
    else:
        sorted_probs, sorted_ids = torch.sort(trace.probs, descending=True)
        cumulative, threshold, cutoff = sorted_probs.cumsum(-1), None, int(trace.kept.sum())
    # Every rank up to the cut (and the top tokens), then log-spaced ranks to the end of the
    # vocabulary: the whole curve on the log axis in a few hundred points, never the whole vocabulary.
    vocab = len(sorted_ids)
    head = min(max(max_rank, cutoff + 5), HEAD_POINTS, vocab)
    tail = torch.logspace(math.log10(head), math.log10(vocab), TAIL_POINTS).round().long().tolist()
    ranks = sorted({*range(1, head + 1), *tail})
    positions = torch.tensor(ranks) - 1
    ids = sorted_ids[positions].tolist()
    curve = pd.DataFrame({
        "rank": ranks,
        "token_id": ids,
        "label": unique_labels(labeller(ids), ids),
        "prob": sorted_probs[positions].tolist(),
        "cumulative": cumulative[positions].tolist(),
        "kept": [rank <= cutoff for rank in ranks],
    })
    cut_rank = cutoff if cutoff < len(sorted_ids) else None
    cut = pd.DataFrame({"cutoff": [cut_rank], "threshold": [threshold]}, dtype="float64")
    return curve, cut.dropna(how="all")


def continuations(generation: Generation) -> pd.DataFrame:
    """One row per generated token of every continuation."""
    rows = [
        {
            "sample": index,
            "step": step,
            "token_id": token.id,
            "label": token.label,
            "probability": token.probability,
            "raw_rank": token.raw_rank,
            "entropy_before_bits": token.entropy_before_bits,
            "entropy_after_bits": token.entropy_after_bits,
            "tokens_kept": token.tokens_kept,
        }
        for index, continuation in enumerate(generation.continuations)
        for step, token in enumerate(continuation.tokens)
    ]
    return pd.DataFrame(rows)


def reported_tokens(candidates: Sequence, trace: Trace, labeller: Labeller) -> pd.DataFrame:
    """A server's reported candidates (`sampling.servers.Candidate`, with ids) as the rows the
    top-tokens chart draws: the server's probability as the bar, the local raw probability as the
    tick, and ``local_prob``, what this page computes for the same token."""
    ids = [candidate.id for candidate in candidates]
    return pd.DataFrame({
        "rank": [int((trace.logits > trace.logits[token]).sum()) + 1 for token in ids],
        "token_id": ids,
        "label": unique_labels(labeller(ids), ids),
        "logit": trace.logits[ids].tolist(),
        "scaled_logit": trace.final_logits[ids].tolist(),
        "raw_prob": trace.raw_probs[ids].tolist(),
        "final_prob": [candidate.probability for candidate in candidates],
        "local_prob": trace.probs[ids].tolist(),
        "kept": [True] * len(ids),
        "removed_by": [""] * len(ids),
    })


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
HEADER_LINES = 5
"""Lines at the top of each downloaded CSV, each starting with ``#``: what the file holds."""
ESCAPING = ("text cells: a ' was put before every cell that starts with = + - @ ' a tab or a return, so that no "
            "spreadsheet runs it as a formula; remove one leading ' to read the original (a token that really "
            "starts with ' shows as '')")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot run as spreadsheet formulas: a cell that starts with
    ``= + - @``, a tab or a carriage return gets a leading ``'`` (OWASP's advice for CSV
    injection), and so does one that starts with ``'`` itself, so that every original stays
    readable: remove one leading ``'``. Numeric columns are left as they are (``-0.5`` stays a number).

    >>> spreadsheet_safe(pd.DataFrame({"label": ["=>", "'=>", "ok"]}))["label"].tolist()
    ["'=>", "''=>", 'ok']
    """
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(
                lambda cell: f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell)
    return safe


def _header(kind: str, model: str, prompt: str, config: SamplingConfig, seed: int | None = None) -> str:
    """The file's first `HEADER_LINES` lines: what it is and how to read it, the model, the prompt
    (as a JSON string) and the full setting (every field, as JSON)."""
    setting = {item.name: getattr(config, item.name) for item in fields(config)}
    lines = [f"# sampling-explained {kind}: read with pandas.read_csv(path, skiprows={HEADER_LINES}, "
             "keep_default_na=False)",
             f"# model: {json.dumps(model, ensure_ascii=False)}",
             f"# prompt: {json.dumps(prompt, ensure_ascii=False)}",
             f"# setting: {json.dumps(setting, ensure_ascii=False)}" + ("" if seed is None else f"; seed {seed}"),
             f"# {ESCAPING}"]
    return "".join(line.replace("\n", " ").replace("\r", " ") + "\n" for line in lines)


def distribution_csv(trace: Trace, labeller: Labeller, panel: str, model: str = "", prompt: str = "") -> bytes:
    """One panel's whole distribution as a tidy CSV after a header (`HEADER_LINES`): a row per token
    of the vocabulary, most likely first, with its arithmetic (logit, logit / T, softmax,
    cumulative), final probability and the stage that removed it."""
    table = top_tokens(trace, labeller, trace.logits.shape[-1]).assign(panel=panel.upper())
    body = spreadsheet_safe(table[["panel", *table.columns[:-1]]]).to_csv(index=False)
    return (_header("next-token distribution", model, prompt, trace.config) + body).encode("utf-8")


def continuations_csv(generation: Generation, panel: str, model: str = "", prompt: str = "") -> bytes:
    """One panel's drawn continuations as a tidy CSV after a header (`HEADER_LINES`) that names the
    model, the prompt, the setting and the seed: a row per generated token."""
    table = continuations(generation).assign(panel=panel.upper())
    body = spreadsheet_safe(table[["panel", *table.columns[:-1]]]).to_csv(index=False)
    return (_header("sampled continuations", model, prompt, generation.config, generation.seed) + body).encode("utf-8")


def download_name(kind: str, model: str, panel: str, config: SamplingConfig) -> str:
    """A file name that says which model, panel and setting, in letters any system takes:
    ``distribution-smollm2-A-llama.cpp-temperature0.8-top_k40.csv``."""
    settings = "-".join(f"{name}{value:g}" for name, value in config.active().items() if name != "logit_bias")
    parts = [kind, Path(model.rstrip("/")).name or "model", panel.upper(), config.order,
             "greedy" if config.greedy else settings or "nothing-set"]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts))[:150] + ".csv"
