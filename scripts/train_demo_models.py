"""Train the bundled demo models: four corpora, four tokenizers, five sizes.

| model | corpus (Debian package) | tokenizer vocabulary |
|---|---|---|
| fortune-small, fortune-base | English fortune cookies (`fortunes`) | 4,096 |
| poems-zh | Chinese fortunes and Tang and Song poems (`fortunes-zh`) | 8,192 |
| code-py | the Python standard library's own `.py` sources | 16,384 |
| bible-kjv | the King James Bible (`bible-kjv`, read with its `bible` program) | 2,048 |

Reproducible: a fixed seed, one CPU thread per run, and every setting below is written into the
model card. Each model trains within 15 minutes on the project's 2-core machine and stays under
20 MB. Usage (after `apt-get install fortunes fortunes-zh bible-kjv`):

    python scripts/train_demo_models.py                  # every model into models/
    python scripts/train_demo_models.py --only code-py --steps 50

Each model directory gets config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
generation_config.json (the sampling settings the model suggests), a README.md model card with the
measured validation perplexity, and its corpus's held-out text goes to sampling/data/heldout/ (the
study draws its text windows from there).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import subprocess
import sysconfig
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from tqdm import tqdm
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

ROOT = Path(__file__).resolve().parent.parent
FORTUNES_DIR = Path("/usr/share/games/fortunes")
# ASCII drawings teach the model nothing; the Chinese files (fortunes-zh) are a corpus of their own.
SKIPPED_FORTUNES = {"ascii-art", "chinese", "song100", "tang300"}
CHINESE_FORTUNES = ("chinese", "song100", "tang300")
END_OF_TEXT = "<|endoftext|>"
SEED = 1234
CONTEXT = 128
VALIDATION_SHARE = 0.05
HELD_OUT_CHARACTERS = 60_000
"""How much of each corpus's held-out text is kept in sampling/data/heldout/ for the study."""
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _read_fortune_files(names: list[str]) -> list[str]:
    cookies = []
    for name in names:
        text = ANSI_ESCAPE.sub("", (FORTUNES_DIR / name).read_text(encoding="utf-8", errors="replace"))
        cookies += [cookie.strip() for cookie in text.split("\n%\n") if cookie.strip()]
    return cookies


def english_fortunes() -> list[str]:
    """All English fortune cookies, one string each; `%` lines separate them."""
    files = sorted(
        path.name
        for path in FORTUNES_DIR.iterdir()
        if path.is_file() and not path.is_symlink() and path.suffix not in {".dat", ".u8"}
        and path.name not in SKIPPED_FORTUNES
    ) if FORTUNES_DIR.is_dir() else []
    if not files:
        raise SystemExit(f"No fortune files in {FORTUNES_DIR}: run `apt-get install fortunes` first.")
    cookies = []
    for name in files:
        text = (FORTUNES_DIR / name).read_text(encoding="latin-1")
        cookies += [cookie.strip() for cookie in text.split("\n%\n") if cookie.strip()]
    return cookies


def chinese_fortunes() -> list[str]:
    """Chinese sayings and the Tang and Song poems of `fortunes-zh` (colour codes removed)."""
    if not all((FORTUNES_DIR / name).exists() for name in CHINESE_FORTUNES):
        raise SystemExit("No Chinese fortunes: run `apt-get install fortunes-zh` first.")
    return _read_fortune_files(list(CHINESE_FORTUNES))


def python_sources() -> list[str]:
    """The standard library's top-level modules (tests and generated tables left out)."""
    library = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(path for path in library.glob("*.py") if not path.name.startswith(("test", "_pydecimal")))
    return [path.read_text(encoding="utf-8", errors="replace") for path in files]


def king_james_bible() -> list[str]:
    """The King James Bible, one chapter per document, from the `bible` program of bible-kjv."""
    try:
        text = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        raise SystemExit("No King James Bible: run `apt-get install bible-kjv` first.") from None
    chapters: dict[str, list[str]] = {}
    for line in text.splitlines():
        reference, _, verse = line.partition(" ")
        if verse:
            chapters.setdefault(reference.split(":")[0], []).append(verse.strip())
    return [" ".join(verses) for verses in chapters.values()]


@dataclass(frozen=True)
class Corpus:
    name: str
    read: Callable[[], list[str]]
    vocab_size: int
    description: str
    licence: str


CORPORA = {
    corpus.name: corpus
    for corpus in (
        Corpus("fortunes", english_fortunes, 4096,
               "Debian package `fortunes` (`/usr/share/games/fortunes`, all English files but `ascii-art`)",
               "BSD-style, see `/usr/share/doc/fortunes/copyright` (fortune-mod, from BSD fortune(6))"),
        Corpus("fortunes-zh", chinese_fortunes, 8192,
               "Debian package `fortunes-zh` (`chinese`, `tang300`, `song100`: sayings, Tang and Song poems)",
               "see `/usr/share/doc/fortunes-zh/copyright`"),
        Corpus("python-stdlib", python_sources, 16384,
               "the Python 3.11 standard library's top-level `.py` modules (no tests)",
               "Python Software Foundation License"),
        Corpus("bible-kjv", king_james_bible, 2048,
               "Debian package `bible-kjv` (the King James Bible, one chapter per document)",
               "public domain (the text), see `/usr/share/doc/bible-kjv-text/copyright`"),
    )
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    corpus: str
    n_layer: int
    n_head: int
    n_embd: int
    steps: int
    learning_rate: float
    batch: int
    style: str
    """What the model writes, for its model card."""
    suggested: dict
    """The sampling settings its generation_config.json suggests (what transformers and vLLM apply
    when a request says nothing)."""


SPECS = {
    spec.name: spec
    for spec in (
        ModelSpec("fortune-small", "fortunes", n_layer=2, n_head=2, n_embd=128, steps=900, learning_rate=2e-3,
                  batch=32, style="English-like fragments in the style of Unix fortune cookies",
                  suggested={"do_sample": True, "temperature": 0.8, "top_p": 0.95, "top_k": 0}),
        ModelSpec("fortune-base", "fortunes", n_layer=4, n_head=4, n_embd=256, steps=1000, learning_rate=1.5e-3,
                  batch=32, style="English-like fragments in the style of Unix fortune cookies",
                  suggested={"do_sample": True, "temperature": 0.8, "top_p": 0.95, "top_k": 0}),
        ModelSpec("poems-zh", "fortunes-zh", n_layer=3, n_head=4, n_embd=192, steps=550, learning_rate=2e-3,
                  batch=24, style="Chinese sayings and lines in the style of Tang and Song poems",
                  suggested={"do_sample": True, "temperature": 0.9, "top_p": 0.9, "top_k": 0}),
        ModelSpec("code-py", "python-stdlib", n_layer=3, n_head=4, n_embd=160, steps=500, learning_rate=2e-3,
                  batch=16, style="Python that looks like the standard library's",
                  suggested={"do_sample": True, "temperature": 0.4, "top_p": 0.9, "top_k": 0,
                             "repetition_penalty": 1.1}),
        ModelSpec("bible-kjv", "bible-kjv", n_layer=2, n_head=4, n_embd=256, steps=650, learning_rate=2e-3,
                  batch=24, style="verses in the style of the King James Bible",
                  suggested={"do_sample": True, "temperature": 0.7, "top_k": 40, "top_p": 1.0}),
    )
}


def split(documents: list[str]) -> tuple[list[str], list[str]]:
    """Shuffled with the seed; the first 5 % are held out."""
    documents = list(documents)
    random.Random(SEED).shuffle(documents)
    held_out = max(1, int(len(documents) * VALIDATION_SHARE))
    return documents[held_out:], documents[:held_out]


def train_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=END_OF_TEXT,
        eos_token=END_OF_TEXT,
        unk_token=END_OF_TEXT,
        model_max_length=256,
    )


def token_stream(tokenizer: PreTrainedTokenizerFast, texts: list[str]) -> torch.Tensor:
    ids: list[int] = []
    for encoding in tokenizer(texts)["input_ids"]:
        ids += encoding + [tokenizer.eos_token_id]
    return torch.tensor(ids, dtype=torch.long)


def random_windows(stream: torch.Tensor, generator: torch.Generator, batch: int) -> torch.Tensor:
    starts = torch.randint(0, len(stream) - CONTEXT, (batch,), generator=generator)
    return torch.stack([stream[start : start + CONTEXT] for start in starts.tolist()])


@torch.no_grad()
def validation_loss(model: GPT2LMHeadModel, stream: torch.Tensor, batch: int) -> float:
    """Mean next-token loss over the full, non-overlapping windows of the validation text."""
    model.eval()
    windows = stream[: len(stream) // CONTEXT * CONTEXT].view(-1, CONTEXT)
    losses = [
        model(input_ids=windows[i : i + batch], labels=windows[i : i + batch]).loss.item()
        for i in range(0, len(windows), batch)
    ]
    model.train()
    return sum(losses) / len(losses)


def learning_rate_at(step: int, spec: ModelSpec) -> float:
    warmup = 30
    if step < warmup:
        return spec.learning_rate * (step + 1) / warmup
    progress = (step - warmup) / max(1, spec.steps - warmup)
    return spec.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train_model(
    spec: ModelSpec,
    tokenizer: PreTrainedTokenizerFast,
    train: torch.Tensor,
    valid: torch.Tensor,
    steps: int,
) -> tuple[GPT2LMHeadModel, dict]:
    torch.manual_seed(SEED)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_layer=spec.n_layer,
        n_head=spec.n_head,
        n_embd=spec.n_embd,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.learning_rate, weight_decay=0.1)
    generator = torch.Generator().manual_seed(SEED)
    best_loss, best_state, best_step = float("inf"), None, 0
    started = time.perf_counter()
    progress = tqdm(range(steps), desc=spec.name)
    for step in progress:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, spec)
        batch = random_windows(train, generator, spec.batch)
        loss = model(input_ids=batch, labels=batch).loss  # the model shifts labels by one itself
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if (step + 1) % 50 == 0 or step + 1 == steps:
            current = validation_loss(model, valid, spec.batch)
            progress.set_postfix(train=f"{loss.item():.3f}", valid=f"{current:.3f}")
            if current < best_loss:
                best_loss, best_step = current, step + 1
                best_state = {key: value.clone() for key, value in model.state_dict().items()}
    model.load_state_dict(best_state)
    facts = {
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps_trained": steps,
        "best_step": best_step,
        "validation_loss": round(best_loss, 4),
        "validation_perplexity": round(math.exp(best_loss), 1),
        "training_seconds": round(time.perf_counter() - started),
    }
    return model, facts


MODEL_CARD = """# {name}

A tiny GPT-2-architecture causal language model bundled with this project so that
the dashboard, the tests and the study run offline. It writes {style}; it is a
teaching model, not a useful one.

| | |
|---|---|
| architecture | GPT-2: {n_layer} layers, {n_head} heads, width {n_embd}, 256 positions |
| parameters | {parameters:,} (embeddings tied) |
| tokenizer | byte-level BPE trained on the same corpus, vocabulary {vocab_size:,}, `<|endoftext|>` is BOS and EOS |
| training data | {description}{version}: {documents:,} documents, {train_tokens:,} training tokens; {validation_share:.0%} of documents held out |
| data licence | {licence} |
| training | AdamW, peak learning rate {learning_rate}, batch {batch} x {context} tokens, {steps_trained} steps, best checkpoint at step {best_step}, seed {seed}, 1 CPU thread |
| training time | {training_seconds} s on a 2-core CPU machine |
| validation perplexity | **{validation_perplexity}** (loss {validation_loss} nats per token) |
| suggested sampling | {suggested} (`generation_config.json`) |

Reproduce with `python scripts/train_demo_models.py --only {name}`.
"""


def package_version(package: str) -> str:
    status = Path("/var/lib/dpkg/status")
    if not status.exists():
        return ""
    block = status.read_text().split(f"Package: {package}\n", 1)
    if len(block) < 2:
        return ""
    return next((f" {line.split(': ', 1)[1]}" for line in block[1].splitlines() if line.startswith("Version: ")), "")


def generation_config(spec: ModelSpec, tokenizer: PreTrainedTokenizerFast) -> GenerationConfig:
    return GenerationConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                            pad_token_id=tokenizer.eos_token_id, **spec.suggested)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "models")
    parser.add_argument("--heldout", type=Path, default=ROOT / "sampling" / "data" / "heldout")
    parser.add_argument("--only", choices=sorted(SPECS), action="append", help="train only this model")
    parser.add_argument("--steps", type=int, help="override the number of training steps (for a quick try)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    names = args.only or sorted(SPECS)
    for corpus_name in dict.fromkeys(SPECS[name].corpus for name in names):
        corpus = CORPORA[corpus_name]
        documents = corpus.read()
        train_texts, valid_texts = split(documents)
        tokenizer = train_tokenizer(train_texts, corpus.vocab_size)
        train, valid = token_stream(tokenizer, train_texts), token_stream(tokenizer, valid_texts)
        print(f"{corpus.name}: {len(documents)} documents, {len(train)} training and {len(valid)} validation tokens")
        args.heldout.mkdir(parents=True, exist_ok=True)
        held_out_text = ("\n" + END_OF_TEXT + "\n").join(valid_texts)[:HELD_OUT_CHARACTERS]
        (args.heldout / f"{corpus.name}.txt").write_text(held_out_text, encoding="utf-8")
        for name in (name for name in names if SPECS[name].corpus == corpus.name):
            spec = SPECS[name]
            model, facts = train_model(spec, tokenizer, train, valid, args.steps or spec.steps)
            directory = args.out / name
            directory.mkdir(parents=True, exist_ok=True)
            model.save_pretrained(directory)
            tokenizer.save_pretrained(directory)
            generation_config(spec, tokenizer).save_pretrained(directory)
            package = {"fortunes": "fortunes", "fortunes-zh": "fortunes-zh", "bible-kjv": "bible-kjv-text"}
            card = MODEL_CARD.format(
                **asdict(spec) | {"suggested": ", ".join(f"{k} {v}" for k, v in spec.suggested.items())},
                **facts,
                vocab_size=len(tokenizer),
                description=corpus.description,
                version=package_version(package[corpus.name]) if corpus.name in package else "",
                licence=corpus.licence,
                documents=len(documents),
                train_tokens=len(train),
                validation_share=VALIDATION_SHARE,
                context=CONTEXT,
                seed=SEED,
            )
            (directory / "README.md").write_text(card)
            (directory / "training_facts.json").write_text(json.dumps(facts, indent=2) + "\n")
            print(f"{name}: {json.dumps(facts)}")


if __name__ == "__main__":
    main()
