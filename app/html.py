"""Text from outside (URL values and keys, prompts, file names, tokens, model output) made safe for
the page, in one place: HTML token strips through `html.escape` (shown with `st.html`), and
markdown for Streamlit's notices with every outside value inside an inline code span, where no
link, image, formula, colour or icon is ever rendered."""

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
    ending = " ■" if continuation.stopped_at_eos else ""
    return f'<div style="{STRIP_STYLE}">{"".join(chips)}{ending}</div>'


def prompt_html(labels: Sequence[str], ids: Sequence[int]) -> str:
    """The prompt's tokens as chips, each with its id as a tooltip."""
    chips = [_chip(label, f"id {token_id}", "#eef") for label, token_id in zip(labels, ids, strict=True)]
    return f'<div style="{STRIP_STYLE}">{"".join(chips)}</div>'


_MARKDOWN_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")
PREVIEW_CHARACTERS = 40
REASON_CHARACTERS = 300
"""Error messages (from a loader, a model) are shown longer than URL values, still bounded."""


def escape_markdown(text: str) -> str:
    """Our own text for a Streamlit element that renders markdown, shown literally: every ASCII
    punctuation character is backslash-escaped, as CommonMark allows. (Not for outside text: a
    URL in it would still be turned into a link; use `safe_markdown`.)"""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def preview(value: object, width: int = PREVIEW_CHARACTERS) -> str:
    """An outside value cut to ``width`` characters, with its length when it was longer; line
    breaks and tabs shown as glyphs."""
    text = str(value)
    shown = "".join(WHITESPACE_GLYPHS.get(char, char) if char in "\n\t\r" else char for char in text[:width])
    return f"{shown}… ({len(text):,} characters)" if len(text) > width else shown


def code_span(text: str) -> str:
    """``text`` as a markdown inline code span: fenced with more backticks than it contains."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}"


def safe_markdown(template: str, width: int = PREVIEW_CHARACTERS, **values: object) -> str:
    """A notice for `st.warning`, `st.error`, ...: ``template`` is our own text (escaped), each
    ``{name}`` in it an outside value, shown as a preview of ``width`` characters in an inline
    code span.

    >>> safe_markdown("Value {value} is not allowed.", value="[x](https://evil.example)")
    'Value ` [x](https://evil.example) ` is not allowed\\\\.'
    """
    parts = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(escape_markdown(literal))
        if field is not None:
            parts.append(code_span(preview(values[field], width)))
    return "".join(parts)


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def uploader_text(key: str, button: str, limit: str) -> str:
    """A style that shows the file uploader ``key``'s button and limit in the page's language:
    Streamlit writes them in English and offers no way to change them, so its words are drawn at
    size 0 and ours in their place (screen readers read the page's own label, set on the widget)."""
    selector = f".st-key-{key} [data-testid='stFileUploaderDropzone']"
    return (f"<style>{selector} button [data-testid='stMarkdownContainer'] p, "
            f"{selector} [data-testid='stFileUploaderDropzoneInstructions'] span {{font-size: 0}} "
            f"{selector} button [data-testid='stMarkdownContainer'] p::after {{content: {_css_string(button)}; font-size: 14px}} "
            f"{selector} [data-testid='stFileUploaderDropzoneInstructions'] span::after "
            f"{{content: {_css_string(limit)}; font-size: 14px}}</style>")
