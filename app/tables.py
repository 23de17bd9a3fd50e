"""Tables behind the charts and the CSV download: a trace or a generation in, a DataFrame out."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import torch

from sampling.models import Generation
from sampling.pipeline import Trace
from sampling.tokens import unique_labels

Labeller = Callable[[Sequence[int]], list[str]]

STAGE_TITLES = {
    "greedy": "greedy (argmax)",
    "temperature": "temperature {value:g}",
    "top_k": "top_k {value:g}",
    "top_p": "top_p {value:g}",
    "min_p": "min_p {value:g}",
    "typical_p": "typical_p {value:g}",
    "epsilon_cutoff": "epsilon {value:g}",
    "eta_cutoff": "eta {value:g}",
}
RAW_TITLE = "raw (T=1)"
MAX_CURVE_POINTS = 2000


def stage_title(name: str, value: float) -> str:
    return STAGE_TITLES[name].format(value=value)


def top_ids(trace: Trace, top_n: int) -> list[int]:
    """The ``top_n`` most likely ids of the raw distribution (temperature keeps this order)."""
    return torch.topk(trace.logits, min(top_n, trace.logits.shape[-1])).indices.tolist()


def top_tokens(trace: Trace, labeller: Labeller, top_n: int) -> pd.DataFrame:
    """One row per top token: raw and final probability, and whether the pipeline kept it."""
    ids = top_ids(trace, top_n)
    return pd.DataFrame({
        "rank": range(1, len(ids) + 1),
        "token_id": ids,
        "label": unique_labels(labeller(ids), ids),
        "raw_prob": trace.raw_probs[ids].tolist(),
        "final_prob": trace.probs[ids].tolist(),
        "kept": trace.kept[ids].tolist(),
    })


def stage_probabilities(trace: Trace, tokens: pd.DataFrame) -> pd.DataFrame:
    """The probability of each top token after each stage, the raw distribution first."""
    ids = tokens["token_id"].tolist()
    columns = [(RAW_TITLE, trace.raw_probs, torch.ones_like(trace.kept))]
    columns += [(stage_title(stage.name, stage.value), stage.probs, stage.kept) for stage in trace.stages]
    frames = [
        pd.DataFrame({
            "stage_index": index,
            "stage": title,
            "rank": tokens["rank"],
            "token_id": ids,
            "label": tokens["label"],
            "prob": probs[ids].tolist(),
            "kept": kept[ids].tolist(),
        })
        for index, (title, probs, kept) in enumerate(columns)
    ]
    return pd.concat(frames, ignore_index=True)


def cumulative_curve(trace: Trace, labeller: Labeller, max_rank: int) -> tuple[pd.DataFrame, float | None, int]:
    """The sorted cumulative probability that top_p cuts, its threshold and the cut-off rank.

    Without a top_p stage the curve is of the final distribution's input as the engine would see
    it (after temperature for transformers and vLLM) and there is no threshold.
    """
    stage = trace.stage("top_p")
    if stage is not None:
        details = stage.details
        sorted_probs, sorted_ids = details["sorted_probs"], details["sorted_ids"]
        cumulative, threshold, cutoff = details["cumulative"], float(details["threshold"]), int(details["cutoff_rank"])
    else:
        sorted_probs, sorted_ids = torch.sort(trace.probs, descending=True)
        cumulative, threshold, cutoff = sorted_probs.cumsum(-1), None, int(trace.kept.sum())
    # Enough of the curve to see the cut and where the mass runs out, but never the whole vocabulary.
    mass_reached = int((cumulative < 0.999).sum()) + 1
    shown = min(max(max_rank, cutoff + 5, mass_reached), len(sorted_ids), MAX_CURVE_POINTS)
    ids = sorted_ids[:shown].tolist()
    frame = pd.DataFrame({
        "rank": range(1, shown + 1),
        "token_id": ids,
        "label": unique_labels(labeller(ids), ids),
        "prob": sorted_probs[:shown].tolist(),
        "cumulative": cumulative[:shown].tolist(),
        "kept": [rank <= cutoff for rank in range(1, shown + 1)],
    })
    return frame, threshold, cutoff


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


def comparison_csv(traces: dict[str, Trace], labeller: Labeller, generations: dict[str, Generation]) -> str:
    """The download: every token's raw and final probability in each panel, then each panel's
    generated tokens, as two CSV tables separated by a blank line."""
    distributions = pd.concat(
        [top_tokens(trace, labeller, trace.logits.shape[-1]).assign(panel=panel.upper())
         for panel, trace in traces.items()],
        ignore_index=True,
    )
    parts = [distributions[["panel", *distributions.columns[:-1]]].to_csv(index=False)]
    if generations:
        generated = pd.concat([continuations(generation).assign(panel=panel.upper())
                               for panel, generation in generations.items()], ignore_index=True)
        parts.append(generated[["panel", *generated.columns[:-1]]].to_csv(index=False))
    return "\n".join(parts)
