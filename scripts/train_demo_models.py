"""Train the two bundled demo models on Debian's `fortunes` text.

Reproducible: a fixed seed, one CPU thread per run, and every setting below is
written into the model card. Usage (after `apt-get install fortunes`):

    python scripts/train_demo_models.py                  # both models into models/
    python scripts/train_demo_models.py --only fortune-small --steps 200

Each model directory gets config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, generation_config.json and a README.md model card with
the measured validation perplexity.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from tqdm import tqdm
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

FORTUNES_DIR = Path("/usr/share/games/fortunes")
# ASCII drawings teach the model nothing about English.
SKIPPED_FILES = {"ascii-art"}
END_OF_TEXT = "<|endoftext|>"
SEED = 1234
VOCAB_SIZE = 4096
CONTEXT = 128
BATCH = 32
VALIDATION_SHARE = 0.05


@dataclass(frozen=True)
class ModelSpec:
    name: str
    n_layer: int
    n_head: int
    n_embd: int
    steps: int
    learning_rate: float


SPECS = {
    spec.name: spec
    for spec in (
        ModelSpec("fortune-small", n_layer=2, n_head=2, n_embd=128, steps=900, learning_rate=2e-3),
        ModelSpec("fortune-base", n_layer=4, n_head=4, n_embd=256, steps=1000, learning_rate=1.5e-3),
    )
}


def read_cookies(directory: Path = FORTUNES_DIR) -> list[str]:
    """All fortune cookies, one string each; `%` lines separate them."""
    files = sorted(
        path
        for path in directory.iterdir()
        if path.is_file() and not path.is_symlink() and path.suffix not in {".dat", ".u8"}
        and path.name not in SKIPPED_FILES
    )
    if not files:
        raise SystemExit(f"No fortune files in {directory}: run `apt-get install fortunes` first.")
    cookies = []
    for path in files:
        text = path.read_text(encoding="latin-1")
        cookies += [cookie.strip() for cookie in text.split("\n%\n") if cookie.strip()]
    return cookies


def train_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
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


def random_windows(stream: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    starts = torch.randint(0, len(stream) - CONTEXT, (BATCH,), generator=generator)
    return torch.stack([stream[start : start + CONTEXT] for start in starts.tolist()])


@torch.no_grad()
def validation_loss(model: GPT2LMHeadModel, stream: torch.Tensor) -> float:
    """Mean next-token loss over the full, non-overlapping windows of the validation text."""
    model.eval()
    windows = stream[: len(stream) // CONTEXT * CONTEXT].view(-1, CONTEXT)
    losses = [
        model(input_ids=windows[i : i + BATCH], labels=windows[i : i + BATCH]).loss.item()
        for i in range(0, len(windows), BATCH)
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
        batch = random_windows(train, generator)
        loss = model(input_ids=batch, labels=batch).loss  # the model shifts labels by one itself
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if (step + 1) % 50 == 0 or step + 1 == steps:
            current = validation_loss(model, valid)
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
the dashboard, the tests and the study run offline. It writes English-like
fragments in the style of Unix fortune cookies; it is a teaching model, not a
useful one.

| | |
|---|---|
| architecture | GPT-2: {n_layer} layers, {n_head} heads, width {n_embd}, 256 positions |
| parameters | {parameters:,} (embeddings tied) |
| tokenizer | byte-level BPE, vocabulary {vocab_size}, `<|endoftext|>` is BOS and EOS |
| training data | Debian package `fortunes` {fortunes_version} (`/usr/share/games/fortunes`, all files but `ascii-art`), {cookies:,} cookies, {train_tokens:,} training tokens; {validation_share:.0%} of cookies held out |
| data licence | BSD-style, see `/usr/share/doc/fortunes/copyright` (fortune-mod, from BSD fortune(6)) |
| training | AdamW, peak learning rate {learning_rate}, batch {batch} x {context} tokens, {steps_trained} steps, best checkpoint at step {best_step}, seed {seed}, 1 CPU thread |
| training time | {training_seconds} s on a 2-core CPU machine |
| validation perplexity | **{validation_perplexity}** (loss {validation_loss} nats per token) |

Reproduce with `python scripts/train_demo_models.py --only {name}`.
"""


def fortunes_version() -> str:
    status = Path("/var/lib/dpkg/status")
    if not status.exists():
        return "(version unknown)"
    block = status.read_text().split("Package: fortunes\n", 1)[-1]
    return next((line.split(": ", 1)[1] for line in block.splitlines() if line.startswith("Version: ")), "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "models")
    parser.add_argument("--only", choices=sorted(SPECS), action="append", help="train only this model")
    parser.add_argument("--steps", type=int, help="override the number of training steps (for a quick try)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    cookies = read_cookies()
    random.Random(SEED).shuffle(cookies)
    held_out = int(len(cookies) * VALIDATION_SHARE)
    valid_texts, train_texts = cookies[:held_out], cookies[held_out:]
    tokenizer = train_tokenizer(train_texts)
    train, valid = token_stream(tokenizer, train_texts), token_stream(tokenizer, valid_texts)
    print(f"{len(cookies)} cookies, {len(train)} training and {len(valid)} validation tokens")

    for name in args.only or sorted(SPECS):
        spec = SPECS[name]
        steps = args.steps or spec.steps
        model, facts = train_model(spec, tokenizer, train, valid, steps)
        directory = args.out / name
        directory.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
        GenerationConfig(
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.eos_token_id,
        ).save_pretrained(directory)
        card = MODEL_CARD.format(
            **asdict(spec),
            **facts,
            vocab_size=len(tokenizer),
            fortunes_version=fortunes_version(),
            cookies=len(cookies),
            train_tokens=len(train),
            validation_share=VALIDATION_SHARE,
            batch=BATCH,
            context=CONTEXT,
            seed=SEED,
        )
        (directory / "README.md").write_text(card)
        (directory / "training_facts.json").write_text(json.dumps(facts, indent=2) + "\n")
        print(f"{name}: {json.dumps(facts)}")


if __name__ == "__main__":
    main()
