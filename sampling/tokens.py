"""Visible token labels: never blank, never ambiguous.

Each id is decoded on its own. Whitespace becomes a glyph (␣ ↵ ⇥ ␍), invisible characters become
``<U+XXXX>``, and bytes that are only part of a UTF-8 character become ``<0xE4>``, so that a chart
axis shows what the token really is. `unique_labels` tells apart two ids that decode alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from transformers import PreTrainedTokenizerBase
from transformers.convert_slow_tokenizer import bytes_to_unicode

WHITESPACE_GLYPHS = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}
EMPTY_LABEL = "∅"
PADDING_MARK = "⦸"
"""Marks an id the model can output but the tokenizer has no token for (padding rows of the output
layer, as in Qwen checkpoints): ``⦸115148``."""
_BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@lru_cache(maxsize=1)
def _byte_level_decoder() -> dict[str, int]:
    return {char: byte for byte, char in bytes_to_unicode().items()}


def _raw_bytes(tokenizer: PreTrainedTokenizerBase, token_id: int) -> bytes:
    """The bytes a token stands for, for byte-level BPE and SentencePiece byte fallback alike."""
    piece = tokenizer.convert_ids_to_tokens(token_id)
    if piece is None:
        return b""
    fallback = _BYTE_FALLBACK.match(piece)
    if fallback:
        return bytes.fromhex(fallback.group(1))
    byte_of = _byte_level_decoder()
    if all(char in byte_of for char in piece):
        return bytes(byte_of[char] for char in piece)
    return piece.replace("▁", " ").encode("utf-8")


def make_visible(text: str) -> str:
    """Replace whitespace by glyphs and invisible characters by their code point."""
    if not text:
        return EMPTY_LABEL
    shown = []
    for char in text:
        if char in WHITESPACE_GLYPHS:
            shown.append(WHITESPACE_GLYPHS[char])
        elif unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp", "Zs"}:
            shown.append(f"<U+{ord(char):04X}>")
        else:
            shown.append(char)
    return "".join(shown)


def _visible_bytes(raw: bytes) -> str:
    """Decode what is valid UTF-8 and show every stray byte as <0x..>."""
    parts, position = [], 0
    while position < len(raw):
        try:
            parts.append(make_visible(raw[position:].decode("utf-8")))
            break
        except UnicodeDecodeError as error:
            good_end = position + error.start
            if good_end > position:
                parts.append(make_visible(raw[position:good_end].decode("utf-8")))
            bad_end = position + error.end
            parts.extend(f"<0x{byte:02X}>" for byte in raw[good_end:bad_end])
            position = bad_end
    return "".join(parts) or EMPTY_LABEL


def is_padding(tokenizer: PreTrainedTokenizerBase, token_id: int, known: int | None = None) -> bool:
    """True for an id beyond the tokenizer's ``known`` tokens (added tokens included; default
    ``len(tokenizer)``, which costs 0.25 ms on Gemma's tokenizer: count it once per batch)."""
    return token_id >= (len(tokenizer) if known is None else known)


def padding_label(token_id: int) -> str:
    return f"{PADDING_MARK}{token_id}"


def token_label(tokenizer: PreTrainedTokenizerBase, token_id: int, known: int | None = None) -> str:
    """The visible label of one token id; ``⦸id`` for an id the tokenizer does not have.

    >>> from sampling.models import load_model
    >>> tokenizer = load_model("fortune-small").tokenizer
    >>> token_label(tokenizer, tokenizer(" the")["input_ids"][0])
    '␣the'
    """
    if is_padding(tokenizer, token_id, known):
        return padding_label(token_id)
    text = tokenizer.decode([token_id])
    if "\ufffd" not in text:
        return make_visible(text)
    return _visible_bytes(_raw_bytes(tokenizer, token_id))


def token_labels(tokenizer: PreTrainedTokenizerBase, token_ids: Sequence[int]) -> list[str]:
    """The labels of ``token_ids``, in time linear in their number."""
    known = len(tokenizer)
    return [token_label(tokenizer, int(token_id), known) for token_id in token_ids]


def unique_labels(labels: Sequence[str], token_ids: Sequence[int]) -> list[str]:
    """Append ``#id`` to labels that more than one id shares, so a chart never merges two tokens."""
    counts = Counter(labels)
    return [
        f"{label} #{int(token_id)}" if counts[label] > 1 else label
        for label, token_id in zip(labels, token_ids, strict=True)
    ]


def decode_with_padding(tokenizer: PreTrainedTokenizerBase, token_ids: Sequence[int]) -> str:
    """The text of ``token_ids``, with ``⦸id`` where an id has no token (``decode`` drops them)."""
    parts, run, known = [], [], len(tokenizer)
    for token_id in token_ids:
        if is_padding(tokenizer, token_id, known):
            parts += [tokenizer.decode(run), padding_label(token_id)]
            run = []
        else:
            run.append(token_id)
    return "".join([*parts, tokenizer.decode(run)])
