"""A tiny model whose vocabulary is made of attacks: HTML, markdown links and images, LaTeX,
Streamlit's colour and icon syntax, and spreadsheet formulas. Every token it can write must reach
the page, the charts and the CSV as plain text."""

from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

HOSTILE_TOKENS = [
    "[Log in again](https://evil.example/x)",
    "![x](http://127.0.0.1:9/px.png)",
    "<img src=x onerror=alert(1)>",
    "<b>bold</b>",
    "$\\huge\\text{HACKED}$",
    ":red[**SESSION EXPIRED**]",
    ":material/warning:",
    "https://evil.example/auto",
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
]


def build_hostile_model(path: Path) -> Path:
    vocabulary = {"<|endoftext|>": 0, **{token: index + 1 for index, token in enumerate(HOSTILE_TOKENS)}}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="<|endoftext|>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(vocabulary), n_positions=64, n_layer=1, n_head=1, n_embd=16,
                                       bos_token_id=0, eos_token_id=0))
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path
