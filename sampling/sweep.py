"""Vectorised sweeps: next-token entropy over grids of temperature, top_p, top_k and min_p.

Temperature never changes the order of tokens, so each prompt is sorted once. For one
temperature, every top_p (or top_k, min_p) cut keeps a prefix of the sorted tokens, and the entropy
of a renormalised prefix of mass ``M_k`` with ``S_k = Σ p log p`` is ``log M_k - S_k / M_k``: one
pair of prefix sums gives every cut. The cut itself is found exactly as transformers finds it
(ascending sort, softmax, cumulative sum), so the kept sets equal `sampling.apply`'s.

Run ``python -m sampling.sweep --help`` for the command line.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from sampling.contexts import ENGLISH_SOURCES, Contexts, collect, heldout_sources, uses_chat_template
from sampling.measures import zipf_exponent
from sampling.models import BUNDLED_MODELS, load_model
from sampling.limits import Limits
from sampling.study import (PARTNERS, PROMPTS_FILE, StudyPrompt, diversity_sweep, read_prompts, read_results,
                            summary_lines)

DEFAULT_TEMPERATURES = tuple(round(0.05 * i, 2) for i in range(1, 41))  # 0.05 … 2.0
DEFAULT_TOP_PS = tuple(round(0.01 * i, 2) for i in range(1, 101))  # 0.01 … 1.0: fine enough to exchange
DEFAULT_TOP_KS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
DEFAULT_MIN_PS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
DEFAULT_JOINT_TOP_PS = tuple(round(0.05 * i, 2) for i in range(1, 21))  # 0.05 … 1.0
DEFAULT_JOINT_TEMPERATURES = tuple(round(0.1 * i, 1) for i in range(1, 21))  # 0.1 … 2.0
# Bounds the [prompts, temperatures, vocab] working tensors of one chunk (about 160 MB in float64).
CHUNK_ELEMENTS = 20_000_000

COLUMNS = ["sweep", "prompt_index", "temperature", "top_p", "top_k", "min_p", "entropy_bits", "tokens_kept"]


@dataclass(frozen=True)
class Grids:
    """The values each sweep visits. The joint grid is temperatures × top_ps."""

    temperatures: Sequence[float] = DEFAULT_TEMPERATURES
    top_ps: Sequence[float] = DEFAULT_TOP_PS
    top_ks: Sequence[int] = DEFAULT_TOP_KS
    min_ps: Sequence[float] = DEFAULT_MIN_PS
    joint: bool = True
    joint_top_ps: Sequence[float] = DEFAULT_JOINT_TOP_PS
    joint_temperatures: Sequence[float] = DEFAULT_JOINT_TEMPERATURES
    """The joint grid's temperatures; those not among ``temperatures`` are skipped."""

    def __post_init__(self) -> None:
        checks = {
            "temperatures": (self.temperatures, lambda v: v > 0, "> 0"),
            "top_ps": (self.top_ps, lambda v: 0 < v <= 1, "in (0, 1]"),
            "joint_top_ps": (self.joint_top_ps, lambda v: 0 < v <= 1, "in (0, 1]"),
            "top_ks": (self.top_ks, lambda v: v >= 1 and v == int(v), "whole numbers >= 1"),
            "min_ps": (self.min_ps, lambda v: 0 <= v <= 1, "in [0, 1]"),
        }
        for name, (values, valid, rule) in checks.items():
            bad = [v for v in values if not (isinstance(v, (int, float)) and math.isfinite(v) and valid(v))]
            if bad or not values:
                raise ValueError(f"{name} must be a non-empty list of values {rule}, got {list(values)!r}")


def _prefix_entropy(mass: torch.Tensor, plogp: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of a renormalised prefix from its mass and its Σ p log p."""
    return torch.log(mass) - plogp / mass


def _gather_prefix(prefix: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    return prefix.gather(-1, kept - 1)


def _sorted_tables(ascending_logits: torch.Tensor, temperatures: torch.Tensor):
    """For each temperature: ascending probabilities, their cumulative sum (as TopP computes it),
    and descending prefix sums of mass and Σ p log p. Shapes [prompts, temperatures, vocab]."""
    scaled = ascending_logits[:, None, :] / temperatures[None, :, None]
    probs_ascending = torch.softmax(scaled, dim=-1)
    cumulative_ascending = probs_ascending.cumsum(dim=-1)
    descending = probs_ascending.flip(-1)
    mass = descending.cumsum(dim=-1)
    plogp = torch.special.xlogy(descending, descending).cumsum(dim=-1)
    return probs_ascending, cumulative_ascending, mass, plogp


def _kept_by_top_p(cumulative_ascending: torch.Tensor, top_ps: torch.Tensor) -> torch.Tensor:
    """How many tokens TopPLogitsWarper keeps: it removes those with ascending cumulative
    probability <= 1 - top_p, and always keeps the most likely one."""
    vocab = cumulative_ascending.shape[-1]
    bounds = (1 - top_ps).to(cumulative_ascending.dtype)
    bounds = bounds.expand(*cumulative_ascending.shape[:-1], -1).contiguous()
    removed = torch.searchsorted(cumulative_ascending.contiguous(), bounds, right=True)
    removed = torch.where(top_ps < 1, removed, torch.zeros_like(removed))
    return vocab - removed.clamp(max=vocab - 1)


def _rows(sweep: str, kept: torch.Tensor, entropy_nats: torch.Tensor, offset: int, **values) -> pd.DataFrame:
    """Long-form rows; ``values`` broadcast against the [prompts, ...] result tensors."""
    shape = entropy_nats.shape
    prompt_index = torch.arange(shape[0]).view(-1, *([1] * (len(shape) - 1))).expand(shape) + offset
    frame = {"sweep": sweep, "prompt_index": prompt_index.flatten().numpy()}
    for name in ("temperature", "top_p", "top_k", "min_p"):
        value = values.get(name, {"temperature": 1.0, "top_p": 1.0, "top_k": 0, "min_p": 0.0}[name])
        frame[name] = torch.as_tensor(value).expand(shape).flatten().numpy() if torch.is_tensor(value) else value
    frame["entropy_bits"] = (entropy_nats / math.log(2)).flatten().numpy()
    frame["tokens_kept"] = kept.flatten().numpy()
    return pd.DataFrame(frame, columns=COLUMNS)


ALL_SWEEPS = ("temperature", "top_p", "top_k", "min_p", "joint")


def sweep_logits(logits: torch.Tensor, grids: Grids = Grids(), offset: int = 0,
                 sweeps: Collection[str] = ALL_SWEEPS) -> Iterator[pd.DataFrame]:
    """Entropy and tokens kept of the ``sweeps`` asked for, for logits
    ``[contexts, vocab]`` (the joint temperature × top_p grid only when ``grids.joint`` too).

    Computes in the dtype of ``logits`` (float32, as the engines do, or float64). Yields one
    DataFrame per chunk of contexts and sweep, so results can be written as they come.
    ``offset`` numbers the contexts of this call from there.
    """
    if logits.dim() != 2 or not logits.is_floating_point():
        raise ValueError(f"logits must be a float tensor [prompts, vocab], got {tuple(logits.shape)}")
    dtype, vocab = logits.dtype, logits.shape[-1]
    # Grid values go into the results exactly as given (float64); the math runs in ``dtype``.
    temperature_values = torch.tensor(sorted(set(grids.temperatures) | {1.0}), dtype=torch.float64)
    top_p_values = torch.tensor(list(grids.top_ps), dtype=torch.float64)
    min_p_values = torch.tensor(list(grids.min_ps), dtype=torch.float64)
    joint_top_p_values = torch.tensor(list(grids.joint_top_ps), dtype=torch.float64)
    temperatures, top_ps, min_ps, joint_top_ps = (
        values.to(dtype) for values in (temperature_values, top_p_values, min_p_values, joint_top_p_values))
    at_one = int((temperature_values == 1.0).nonzero())
    chunk = max(1, CHUNK_ELEMENTS // (len(temperatures) * vocab))
    for start in range(0, logits.shape[0], chunk):
        ascending = torch.sort(logits[start : start + chunk], dim=-1).values
        probs_ascending, cumulative, mass, plogp = _sorted_tables(ascending, temperatures)
        all_kept = torch.full(mass.shape[:-1], vocab, dtype=torch.long)
        entropy_all = _prefix_entropy(mass[..., -1], plogp[..., -1])
        keep_t = [i for i, value in enumerate(temperature_values.tolist()) if value in set(grids.temperatures)]
        if "temperature" in sweeps:
            yield _rows("temperature", all_kept[:, keep_t], entropy_all[:, keep_t], start + offset,
                        temperature=temperature_values[keep_t].expand(len(ascending), -1))

        kept = _kept_by_top_p(cumulative[:, at_one], top_ps)
        entropy = _prefix_entropy(_gather_prefix(mass[:, at_one], kept), _gather_prefix(plogp[:, at_one], kept))
        if "top_p" in sweeps:
            yield _rows("top_p", kept, entropy, start + offset, top_p=top_p_values.expand(len(ascending), -1))

        top_ks = torch.tensor([min(int(k), vocab) for k in grids.top_ks])
        # TopKLogitsWarper keeps every token tied with the k-th largest logit.
        kth_values = ascending.gather(-1, (vocab - top_ks).expand(len(ascending), -1))
        kept = vocab - torch.searchsorted(ascending.contiguous(), kth_values.contiguous(), right=False)
        entropy = _prefix_entropy(_gather_prefix(mass[:, at_one], kept), _gather_prefix(plogp[:, at_one], kept))
        if "top_k" in sweeps:
            yield _rows("top_k", kept, entropy, start + offset,
                        top_k=torch.tensor(list(grids.top_ks)).expand(len(ascending), -1))

        # MinPLogitsWarper removes p < min_p * p_max.
        thresholds = (min_ps[None, :] * probs_ascending[:, at_one, -1:]).contiguous()
        kept = vocab - torch.searchsorted(probs_ascending[:, at_one].contiguous(), thresholds, right=False)
        entropy = _prefix_entropy(_gather_prefix(mass[:, at_one], kept), _gather_prefix(plogp[:, at_one], kept))
        if "min_p" in sweeps:
            yield _rows("min_p", kept, entropy, start + offset, min_p=min_p_values.expand(len(ascending), -1))

        joint_t = [i for i in keep_t if temperature_values[i].item() in set(grids.joint_temperatures)]
        if grids.joint and "joint" in sweeps and joint_t:
            kept = _kept_by_top_p(cumulative[:, joint_t], joint_top_ps)
            entropy = _prefix_entropy(
                _gather_prefix(mass[:, joint_t], kept), _gather_prefix(plogp[:, joint_t], kept)
            )
            yield _rows("joint", kept, entropy, start + offset,
                        temperature=temperature_values[joint_t][None, :, None].expand(kept.shape),
                        top_p=joint_top_p_values[None, None, :].expand(kept.shape))


class ResultsWriter:
    """Appends result frames to a CSV or Parquet file (by suffix) as they are computed. Parquet
    frames are gathered into row groups of about `ROW_GROUP_ROWS` rows: one small group per
    context (a Gemma-sized vocabulary sweeps one context per chunk) would make the file 4× larger."""

    ROW_GROUP_ROWS = 250_000

    def __init__(self, path: Path) -> None:
        if path.suffix not in (".csv", ".parquet"):
            raise ValueError(f"results file must end in .csv or .parquet, got {path}")
        self.path, self._parquet, self._pending = path, None, []
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)

    def write(self, frame: pd.DataFrame) -> None:
        if self.path.suffix == ".csv":
            frame.to_csv(self.path, mode="a", header=not self.path.exists(), index=False)
            return
        self._pending.append(frame)
        if sum(len(pending) for pending in self._pending) >= self.ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._pending:
            return
        table = pa.Table.from_pandas(pd.concat(self._pending, ignore_index=True), preserve_index=False)
        self._pending = []
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self._parquet.write_table(table)

    def close(self) -> None:
        if self.path.suffix == ".parquet":
            self._flush()
        if self._parquet is not None:
            self._parquet.close()


def _grid(text: str, cast=float) -> list:
    """``"0.1,0.5,0.9"`` or ``"start:stop:step"`` (inclusive) to a list of values."""
    if ":" in text:
        start, stop, step = (float(part) for part in text.split(":"))
        count = int(round((stop - start) / step)) + 1
        return [cast(round(start + i * step, 10)) for i in range(count)]
    return [cast(part) for part in text.split(",") if part.strip()]


def context_columns(frame: pd.DataFrame, contexts: Contexts, zipf: list[float]) -> pd.DataFrame:
    """Label a frame's rows with their context's kind, category, cluster and fitted Zipf exponent."""
    index = frame["prompt_index"].to_numpy()
    frame.insert(2, "context_set", [contexts.kinds[i] for i in index])
    frame.insert(3, "category", [contexts.categories[i] for i in index])
    frame.insert(4, "cluster", [contexts.clusters[i] for i in index])
    frame["zipf_s"] = [zipf[i] for i in index]
    return frame


def merge(paths: Sequence[Path], out: Path) -> int:
    """Several runs' results files (for instance one per GPU job) into one; returns its rows."""
    frames = [read_results(path) for path in paths]
    writer = ResultsWriter(out)
    for frame in frames:
        writer.write(frame)
    writer.close()
    return sum(len(frame) for frame in frames)


def models_path(out: Path) -> Path:
    """The file beside a results file that holds, per model, how it was fed and measured."""
    return out.with_name(out.stem + "-models.csv")


def model_facts(handle, contexts: Contexts, chat: bool, seconds: float) -> dict:
    """One row of the models file: the vocabulary, the parameters, whether prompts were chat turns,
    the contexts of each kind, the held-out perplexity of each source, and the time it took."""
    kinds = pd.Series(contexts.kinds).value_counts().to_dict()
    return {"model": handle.name, "vocabulary": handle.vocab_size,
            "parameters": sum(parameter.numel() for parameter in handle.model.parameters()),
            "chat_template": chat, "bos": bool(handle.tokenizer("")["input_ids"]),
            **{f"{kind}_contexts": kinds.get(kind, 0) for kind in ("prompts", "heldout", "generated")},
            **{f"perplexity_{source}": value for source, value in contexts.perplexities.items()},
            "seconds": round(seconds, 1)}


def main(argv: Sequence[str] | None = None) -> None:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["merge"]:
        parser = argparse.ArgumentParser(prog="python -m sampling.sweep merge",
                                         description="Merge results files of several runs into one.")
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--out", type=Path, required=True)
        args = parser.parse_args(arguments[1:])
        print(f"{merge(args.files, args.out):,} rows → {args.out}")
        return
    parser = argparse.ArgumentParser(
        prog="python -m sampling.sweep",
        description="Next-token entropy over temperature, top_p, top_k, min_p and temperature × top_p, for "
        "each model in three kinds of context (the shipped prompts, held-out text windows, its own sampled "
        "steps); optionally the diversity of generated text. `python -m sampling.sweep merge A B --out C` "
        "merges results files.",
    )
    parser.add_argument("--models", nargs="+", default=list(BUNDLED_MODELS),
                        help="bundled names, hub ids or local paths (default: the bundled models)")
    parser.add_argument("--prompts", type=Path, default=PROMPTS_FILE, help="prompt file (default: the shipped set)")
    parser.add_argument("--contexts", type=Path, help="text to draw held-out windows from (default: each bundled "
                        "model's held-out corpus text; other models: the English held-out texts, "
                        f"{', '.join(ENGLISH_SOURCES)})")
    parser.add_argument("--windows", type=int, default=8, help="64-token windows per held-out text (every "
                        "position counts)")
    parser.add_argument("--generated-prompts", type=int, default=2, help="starts of self-sampled continuations")
    parser.add_argument("--generated-samples", type=int, default=4)
    parser.add_argument("--generated-steps", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("results/sweep.parquet"),
                        help="results file, .parquet or .csv, written as it goes")
    parser.add_argument("--temperatures", type=_grid, default=list(DEFAULT_TEMPERATURES), help="e.g. 0.05:2:0.05")
    parser.add_argument("--top-ps", type=_grid, default=list(DEFAULT_TOP_PS), help="e.g. 0.01:1:0.01")
    parser.add_argument("--top-ks", type=lambda text: _grid(text, int), default=list(DEFAULT_TOP_KS))
    parser.add_argument("--min-ps", type=_grid, default=list(DEFAULT_MIN_PS))
    parser.add_argument("--no-joint", action="store_true", help="skip the temperature × top_p grid")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="float32", help="the model's dtype (float32 for the study; "
                        "bfloat16 or float16 to fit a large model on a GPU)")
    parser.add_argument("--chat-template", action="store_true", help="wrap each prompt in the model's chat template "
                        "(the real instruct models, such as smollm2, always are)")
    parser.add_argument("--generate", action="store_true", help="also measure the diversity of generated text")
    parser.add_argument("--generate-only", action="store_true", help="only the generated text, from the next-token "
                        "results already in --out (they give each model's exchange rate)")
    parser.add_argument("--generate-models", nargs="+", help="the models whose text is generated (default: all "
                        "of --models)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(arguments)
    try:
        grids = Grids(args.temperatures, args.top_ps, args.top_ks, args.min_ps, joint=not args.no_joint)
        prompts = read_prompts(args.prompts)
        if args.out.suffix not in (".csv", ".parquet"):
            raise ValueError(f"results file must end in .csv or .parquet, got {args.out}")
        if args.generate_only and not args.out.exists():
            raise ValueError(f"--generate-only reads the next-token results in {args.out}, which does not exist")
    except (ValueError, OSError) as error:
        parser.error(str(error))

    if not args.generate_only:
        next_token_sweeps(args, grids, prompts)
    if args.generate or args.generate_only:
        generated_text(args, prompts)


def next_token_sweeps(args: argparse.Namespace, grids: Grids, prompts: list[StudyPrompt]) -> None:
    """Every model's contexts through every sweep, into ``args.out`` and its models file."""
    writer = ResultsWriter(args.out)
    started = time.perf_counter()
    facts = []
    for name in tqdm(args.models, desc="models", unit="model"):
        model_started = time.perf_counter()
        handle = load_model(name, device=args.device, dtype=args.dtype)
        chat = args.chat_template or uses_chat_template(handle)
        contexts = collect(handle, prompts, heldout_sources(handle, args.contexts), args.windows,
                           args.generated_prompts, args.generated_samples, args.generated_steps, args.seed, chat=chat)
        logits = contexts.stacked()
        zipf = [zipf_exponent(torch.softmax(row.double(), dim=-1)) for row in logits]
        # Every context gets the two sweeps the study compares; the prompts (the first contexts)
        # also get top_k, min_p and the joint grid that the Study view's heat map draws.
        passes = ((logits, ("temperature", "top_p")), (logits[: len(prompts)], ("top_k", "min_p", "joint")))
        for part, sweeps in passes:
            for frame in tqdm(sweep_logits(part, grids, sweeps=sweeps), desc=f"{name}: {len(part)} contexts",
                              unit="block"):
                frame.insert(0, "model", name)
                writer.write(context_columns(frame, contexts, zipf))
        facts.append(model_facts(handle, contexts, chat, time.perf_counter() - model_started))
        del logits, contexts
    writer.close()
    pd.DataFrame(facts).to_csv(models_path(args.out), index=False)
    print(f"\nNext-token sweeps: {len(args.models)} model(s) in {time.perf_counter() - started:.1f} s → {args.out}\n")
    results = read_results(args.out)
    for line in summary_lines(results):
        print(line)



def generated_text(args: argparse.Namespace, prompts: list[StudyPrompt]) -> None:
    """The diversity of generated text, into the ``-diversity.csv`` file beside ``args.out``."""
    results = read_results(args.out)
    started = time.perf_counter()
    rows = []
    for name in args.generate_models or args.models:
        handle = load_model(name, device=args.device, dtype=args.dtype, limits=Limits(max_samples=64))
        partner = PARTNERS.get(name)
        scorer = load_model(partner, device=args.device, dtype=args.dtype) if partner in args.models else None
        rows += diversity_sweep(handle, results, prompts, heldout_sources(handle, args.contexts), seed=args.seed,
                                scorer=scorer, chat=args.chat_template or uses_chat_template(handle))
    diversity = pd.DataFrame(rows)
    diversity_path = args.out.with_name(args.out.stem + "-diversity.csv")
    diversity.to_csv(diversity_path, index=False)
    print(f"\nGenerated text: {len(diversity):,} rows in {time.perf_counter() - started:.1f} s → {diversity_path}")


if __name__ == "__main__":
    main()
