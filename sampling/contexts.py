"""The contexts the study measures next-token entropy in, three kinds of them:

- ``prompts``: the last position of each of the shipped prompts (`sampling/data/prompts.tsv`),
  wrapped as a user turn by the chat template for an instruct model;
- ``heldout``: every position of 64-token windows at random offsets in text the model was not
  trained on: each bundled model's held-out share of its corpus (`sampling/data/heldout/`), for
  other models the English sources there (fortunes, the King James Bible, Python's standard
  library), or any text file;
- ``generated``: every step of continuations the model sampled itself at temperature 1.

Each kind gives a ``[contexts, vocab]`` float32 tensor of logits with, per context, a label and the
*cluster* it belongs to: the unit the study resamples, since the 64 positions of one window, or the
steps of one continuation, are not independent (one prompt is a cluster of one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from sampling.config import SamplingConfig
from sampling.fetch import REAL_MODELS
from sampling.models import BUNDLED_CORPUS, ModelHandle

HELDOUT_DIR = Path(__file__).resolve().parent / "data" / "heldout"
WINDOW = 64
ENGLISH_SOURCES = ("fortunes", "bible-kjv", "python-stdlib")
"""The held-out texts a model not trained here is measured on."""


@dataclass
class Contexts:
    """Logits ``[n, vocab]`` and, per context, its kind, category and cluster; and the
    perplexity the model gives each held-out source, as fed."""

    logits: list[torch.Tensor] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)
    perplexities: dict[str, float] = field(default_factory=dict)

    def add(self, logits: torch.Tensor, kind: str, category: str, clusters: list[str]) -> None:
        self.logits.append(logits.float().cpu().reshape(-1, logits.shape[-1]))
        count = self.logits[-1].shape[0]
        if len(clusters) != count:
            raise ValueError(f"{count} contexts need {count} cluster labels, got {len(clusters)}")
        self.kinds += [kind] * count
        self.categories += [category] * count
        self.clusters += clusters

    def stacked(self) -> torch.Tensor:
        return torch.cat(self.logits)

    def __len__(self) -> int:
        return len(self.kinds)


def heldout_sources(handle: ModelHandle, path: Path | None = None) -> dict[str, str]:
    """The texts to draw windows from, by name: ``path``; or the bundled model's held-out corpus;
    or, for any other model, the English held-out sources."""
    if path is not None:
        return {Path(path).stem: Path(path).read_text(encoding="utf-8", errors="replace")}
    corpus = BUNDLED_CORPUS.get(handle.name)
    names = (corpus,) if corpus else ENGLISH_SOURCES
    return {name: (HELDOUT_DIR / f"{name}.txt").read_text(encoding="utf-8") for name in names
            if (HELDOUT_DIR / f"{name}.txt").exists()}


def uses_chat_template(handle: ModelHandle) -> bool:
    """Whether the study feeds this model's prompts as chat turns: the real instruct models."""
    model = REAL_MODELS.get(handle.name)
    return bool(model and model.chat_template and handle.has_chat_template)


@dataclass(frozen=True)
class Windows:
    logits: torch.Tensor
    """``[windows × 64, vocab]``: the next-token logits at every position."""
    perplexity: float
    """exp of the mean negative log-likelihood of each position's next token."""


@torch.inference_mode()
def window_logits(handle: ModelHandle, text: str, windows: int, seed: int = 0, batch: int = 8) -> Windows:
    """Logits at every position of ``windows`` windows of 64 tokens at random offsets in ``text``,
    and the perplexity of the tokens that follow them. Each window is fed as the tokenizer feeds a
    text, after the special tokens it puts first (Gemma's BOS; none for GPT-2's tokenizer), so a
    feeding bug shows up as a perplexity. The forward passes run ``batch`` windows at a time."""
    ids = handle.tokenizer(text, add_special_tokens=False)["input_ids"]
    prefix = handle.tokenizer("")["input_ids"]
    if len(ids) < WINDOW + 1:
        raise ValueError(f"the held-out text has {len(ids)} tokens; a window needs {WINDOW + 1}")
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - WINDOW, (windows,), generator=generator).tolist()
    rows = torch.tensor([prefix + ids[start : start + WINDOW] for start in starts])
    targets = torch.tensor([ids[start + 1 : start + WINDOW + 1] for start in starts])
    out, log_likelihood = [], 0.0
    for first in range(0, len(rows), batch):
        chunk = rows[first : first + batch].to(handle.device)
        logits = handle.model(input_ids=chunk, use_cache=False).logits[:, len(prefix):].float().cpu()
        log_probs = torch.log_softmax(logits.double(), dim=-1)
        log_likelihood += float(log_probs.gather(-1, targets[first : first + batch, :, None]).sum())
        out.append(logits.reshape(-1, handle.vocab_size))
    return Windows(torch.cat(out), math.exp(-log_likelihood / targets.numel()))


def collect(handle: ModelHandle, prompts: list, heldout: dict[str, str], windows: int, generated_prompts: int,
            samples: int, steps: int, seed: int = 0, chat: bool = False) -> Contexts:
    """Every context of one model: the prompts (as chat turns when ``chat``), ``windows`` windows
    of each held-out source, and the sampled steps."""
    contexts = Contexts()
    for index, prompt in enumerate(prompts):
        contexts.add(handle.next_token_logits(prompt.text, chat=chat).logits, "prompts", prompt.category,
                     [f"prompt {index}"])
    for source, text in heldout.items():
        measured = window_logits(handle, text, windows, seed)
        contexts.add(measured.logits, "heldout", source,
                     [f"{source} window {position // WINDOW}" for position in range(len(measured.logits))])
        contexts.perplexities[source] = measured.perplexity
    starts = [(prompt.text, chat) for prompt in prompts[:generated_prompts]]
    if heldout:
        starts = [(next(iter(heldout.values()))[:200], False)] + starts[: max(0, generated_prompts - 1)]
    for index, (start, as_chat) in enumerate(starts):
        generation = handle.generate(start, SamplingConfig(), n=samples, max_new_tokens=steps, seed=seed + index,
                                     return_logits=True, chat=as_chat)
        for row, continuation in enumerate(generation.continuations):  # only the steps it really took
            taken = len(continuation.tokens)
            contexts.add(generation.step_logits[:taken, row], "generated", "sampled",
                         [f"start {index} sample {row}"] * taken)
    return contexts
