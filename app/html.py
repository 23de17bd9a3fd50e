"""HTML for token strips. Every piece of model or user text passes through `html.escape` here,
and only here; the page shows the result with `st.html`, never with raw markdown."""

from __future__ import annotations

import html
import re
import string
from collections.abc import Sequence

from sampling.models import Continuation
from sampling.tokens import WHITESPACE_GLYPHS, padding_label


# Text with no spaces (a long URL, Chinese) wraps inside its panel instead of running into the other.
STRIP_STYLE = "line-height:1.9;font-family:monospace;overflow-wrap:anywhere;word-break:break-all"


def _shade(probability: float) -> str:
    # Lightness follows probability: likely tokens are pale, surprising ones stand out.
    lightness = 72 + 26 * max(0.0, min(1.0, probability))
    return f"hsl(210, 70%, {lightness:.0f}%)"


def _chip(text: str, title: str, background: str) -> str:
    return (
        f'<span title="{html.escape(title, quote=True)}" style="background:{background};'
        f'border-radius:3px;padding:0 1px;margin:0 1px;white-space:pre-wrap">{html.escape(text)}</span>'
    )


def continuation_html(continuation: Continuation) -> str:
    """One continuation, each token shaded by its probability, with a tooltip of its figures."""
    chips = [
        _chip(
            token.label.replace(WHITESPACE_GLYPHS[" "], " "),  # read as text; shading shows the boundaries
            ("padding id {id}: the model can output it, the tokenizer has no token for it · ".format(id=token.id)
             if token.label == padding_label(token.id) else "")
            + f"p = {token.probability:.4f} · raw rank {token.raw_rank} · "
            f"entropy {token.entropy_before_bits:.2f} → {token.entropy_after_bits:.2f} bits · "
            f"{token.tokens_kept} kept",
            _shade(token.probability),
        )
        for token in continuation.tokens
    ]
    ending = " ⏹" if continuation.stopped_at_eos else ""
    return f'<div style="{STRIP_STYLE}">{"".join(chips)}{ending}</div>'


def prompt_html(labels: Sequence[str], ids: Sequence[int]) -> str:
    """The prompt's tokens as chips, each with its id as a tooltip."""
    chips = [_chip(label, f"id {token_id}", "#eef") for label, token_id in zip(labels, ids, strict=True)]
    return f'<div style="{STRIP_STYLE}">{"".join(chips)}</div>'


_MARKDOWN_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")


def escape_markdown(text: str) -> str:
    """``text`` for a Streamlit element that renders markdown, shown literally: every ASCII
    punctuation character is backslash-escaped, as CommonMark allows."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
