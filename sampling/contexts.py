"""The contexts the study measures next-token entropy in, three kinds of them:

- ``prompts``: the last position of each of the shipped prompts (`sampling/data/prompts.tsv`);
- ``heldout``: every position of 64-token windows at random offsets in text the model was not
  trained on (each bundled model's held-out share of its corpus, in `sampling/data/heldout/`, or
  any text file for other models);
- ``generated``: every step of continuations the model sampled itself at temperature 1.

Each kind gives a ``[contexts, vocab]`` float32 tensor of logits with a label per context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from sampling.config import SamplingConfig
from sampling.models import BUNDLED_CORPUS, ModelHandle

HELDOUT_DIR = Path(__file__).resolve().parent / "data" / "heldout"
WINDOW = 64


@dataclass
class Contexts:
    """Logits ``[n, vocab]`` and, per context, its kind and category."""

    logits: list[torch.Tensor] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    def add(self, logits: torch.Tensor, kind: str, category: str) -> None:
        self.logits.append(logits.float().cpu().reshape(-1, logits.shape[-1]))
        count = self.logits[-1].shape[0]
        self.kinds += [kind] * count
        self.categories += [category] * count

    def stacked(self) -> torch.Tensor:
        return torch.cat(self.logits)

    def __len__(self) -> int:
        return len(self.kinds)


def heldout_text(handle: ModelHandle, path: Path | None = None) -> str | None:
    """The text to draw windows from: ``path``, or the bundled model's held-out corpus text."""
    if path is not None:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    corpus = BUNDLED_CORPUS.get(handle.name)
    source = HELDOUT_DIR / f"{corpus}.txt" if corpus else None
    return source.read_text(encoding="utf-8") if source and source.exists() else None


@torch.inference_mode()
def window_logits(handle: ModelHandle, text: str, windows: int, seed: int = 0, batch: int = 8) -> torch.Tensor:
    """Logits at every position of ``windows`` windows of 64 tokens at random offsets in ``text``:
    ``[windows × 64, vocab]``. Each window is fed as the tokenizer feeds a text, after the special
    tokens it puts first (Gemma's BOS; none for GPT-2's tokenizer). The forward passes run
    ``batch`` windows at a time."""
    ids = handle.tokenizer(text, add_special_tokens=False)["input_ids"]
    prefix = handle.tokenizer("")["input_ids"]
    if len(ids) < WINDOW + 1:
        raise ValueError(f"the held-out text has {len(ids)} tokens; a window needs {WINDOW + 1}")
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - WINDOW, (windows,), generator=generator).tolist()
    rows = torch.tensor([prefix + ids[start : start + WINDOW] for start in starts])
    out = []
    for first in range(0, len(rows), batch):
        chunk = rows[first : first + batch].to(handle.device)
        logits = handle.model(input_ids=chunk, use_cache=False).logits[:, len(prefix):]
        out.append(logits.float().cpu().reshape(-1, handle.vocab_size))
    return torch.cat(out)


def collect(handle: ModelHandle, prompts: list, heldout: str | None, windows: int, generated_prompts: int,
            samples: int, steps: int, seed: int = 0) -> Contexts:
    """Every context of one model: the prompts, the held-out windows and the sampled steps."""
    contexts = Contexts()
    for prompt in prompts:
        contexts.add(handle.next_token_logits(prompt.text).logits, "prompts", prompt.category)
    if heldout:
        contexts.add(window_logits(handle, heldout, windows, seed), "heldout", BUNDLED_CORPUS.get(handle.name, "text"))
    starts = [prompt.text for prompt in prompts[:generated_prompts]]
    if heldout:
        starts = [heldout[: 200]] + starts[: max(0, generated_prompts - 1)]
    for index, start in enumerate(starts):
        generation = handle.generate(start, SamplingConfig(), n=samples, max_new_tokens=steps, seed=seed + index,
                                     return_logits=True)
        for row, continuation in enumerate(generation.continuations):  # only the steps it really took
            contexts.add(generation.step_logits[: len(continuation.tokens), row], "generated", "sampled")
    return contexts
