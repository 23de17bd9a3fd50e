"""Altair charts: a DataFrame from `app.tables` in, an `alt.Chart` out. No Streamlit here.

Charts of panel A and B take the same scale arguments so they compare at a glance.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

KEPT_COLOR = "#3b6fb6"
REMOVED_COLOR = "#c8c8c8"
THRESHOLD_COLOR = "#d1495b"
PROBABILITY_FORMAT = ".4f"


# Kept and removed tokens by a data field rather than a condition: the same picture, cheaper to build.
KEPT_SCALE = alt.Scale(domain=[True, False], range=[KEPT_COLOR, REMOVED_COLOR])


def _token_tooltip(*extra: alt.Tooltip) -> list[alt.Tooltip]:
    return [alt.Tooltip("label:N", title="token"), alt.Tooltip("token_id:Q", title="id"), *extra]


# Fixed scales make the charts of panel A and B comparable without knowing each other.
PROBABILITY_SCALE = {"type": "sqrt", "domain": [0, 1]}


def top_tokens_chart(tokens: pd.DataFrame) -> alt.LayerChart:
    """Bars of the final probability of the top tokens; a tick at their raw probability.

    Removed tokens have no bar and a grey label row. The square-root scale keeps small
    probabilities visible next to large ones.
    """
    # Layers union their domains and drop a sort by field: the order is given as a list.
    base = alt.Chart(tokens).encode(
        y=alt.Y("label:N", sort=tokens.sort_values("rank")["label"].tolist(), title=None,
                axis=alt.Axis(labelLimit=160)),
        tooltip=_token_tooltip(
            alt.Tooltip("final_prob:Q", title="final p", format=PROBABILITY_FORMAT),
            alt.Tooltip("raw_prob:Q", title="raw p (T=1)", format=PROBABILITY_FORMAT),
            alt.Tooltip("kept:N", title="kept"),
        ),
    )
    scale = alt.Scale(**PROBABILITY_SCALE)
    bars = base.mark_bar().encode(
        x=alt.X("final_prob:Q", scale=scale, title="probability (square-root scale)"),
        color=alt.Color("kept:N", scale=KEPT_SCALE, legend=None),
    )
    raw_ticks = base.mark_tick(thickness=2, size=14, color="#222").encode(x=alt.X("raw_prob:Q", scale=scale))
    return alt.layer(bars, raw_ticks).properties(height=alt.Step(16))


def stages_chart(stages: pd.DataFrame) -> alt.LayerChart:
    """A heat map, stage × token: how each stage reshapes the distribution and what it cuts."""
    token_order = stages.drop_duplicates("rank").sort_values("rank")["label"].tolist()
    stage_order = stages.drop_duplicates("stage_index").sort_values("stage_index")["stage"].tolist()
    base = alt.Chart(stages).encode(
        x=alt.X("label:N", sort=token_order, title=None, axis=alt.Axis(labelAngle=-60, labelLimit=90)),
        y=alt.Y("stage:N", sort=stage_order, title=None, axis=alt.Axis(labelLimit=140)),
        tooltip=[alt.Tooltip("stage:N"), *_token_tooltip(alt.Tooltip("prob:Q", title="p", format=PROBABILITY_FORMAT))],
    )
    kept = base.transform_filter("datum.kept").mark_rect(stroke="white", strokeWidth=0.5).encode(
        color=alt.Color("prob:Q", scale=alt.Scale(**PROBABILITY_SCALE, scheme="blues"), title="p"),
    )
    removed = base.transform_filter("!datum.kept").mark_rect(stroke="white", strokeWidth=0.5, color=REMOVED_COLOR)
    return alt.layer(kept, removed).properties(height=alt.Step(22))


def cumulative_chart(curve: pd.DataFrame, threshold: float | None, cutoff_rank: int, vocab_size: int) -> alt.LayerChart:
    """The sorted cumulative probability; top_p keeps every token up to the one that reaches it."""
    # A log axis over the whole vocabulary shows the head, where top_p usually cuts, and the tail.
    x = alt.X("rank:Q", scale=alt.Scale(type="log", domain=[1, max(vocab_size, 2)]),
              title="tokens, most likely first (log scale)")
    y = alt.Y("cumulative:Q", scale=alt.Scale(domain=[0, 1]), title="cumulative probability")
    base = alt.Chart(curve.assign(cutoff=cutoff_rank, threshold=threshold))
    line = base.mark_line(color="#555", interpolate="step-after").encode(x=x, y=y)
    points = base.mark_circle(size=36).encode(
        x=x,
        y=y,
        color=alt.Color("kept:N", scale=KEPT_SCALE, legend=None),
        tooltip=[
            alt.Tooltip("rank:Q"),
            *_token_tooltip(
                alt.Tooltip("prob:Q", title="p", format=PROBABILITY_FORMAT),
                alt.Tooltip("cumulative:Q", format=PROBABILITY_FORMAT),
            ),
        ],
    )
    layers = [line, points]
    if cutoff_rank < vocab_size:
        layers.append(base.mark_rule(color=THRESHOLD_COLOR).encode(x="min(cutoff):Q"))
    if threshold is not None:
        layers.append(base.mark_rule(color=THRESHOLD_COLOR, strokeDash=[6, 4]).encode(y="min(threshold):Q"))
    return alt.layer(*layers).properties(height=240)


def entropy_heatmap(grid: pd.DataFrame) -> alt.Chart:
    """Mean next-token entropy over the temperature × top_p grid (columns temperature, top_p, entropy_bits)."""
    return (
        alt.Chart(grid)
        .mark_rect()
        .encode(
            x=alt.X("top_p:O", title="top_p", axis=alt.Axis(format=".2f", labelAngle=-60)),
            y=alt.Y("temperature:O", title="temperature", sort="descending", axis=alt.Axis(format=".2f")),
            color=alt.Color("entropy_bits:Q", title="entropy (bits)", scale=alt.Scale(scheme="viridis")),
            tooltip=[
                alt.Tooltip("temperature:Q", format=".2f"),
                alt.Tooltip("top_p:Q", format=".2f"),
                alt.Tooltip("entropy_bits:Q", title="mean entropy (bits)", format=".3f"),
            ],
        )
        .properties(height=alt.Step(9))
    )


def entropy_against_value(curves: pd.DataFrame) -> alt.LayerChart:
    """Entropy against the value of temperature and of top_p on one axis: the median across prompts
    as a line, the interquartile range as a band (columns parameter, value, median, q25, q75)."""
    color = alt.Color("parameter:N", title=None, scale=alt.Scale(domain=["temperature", "top_p"],
                                                                   range=[THRESHOLD_COLOR, KEPT_COLOR]))
    x = alt.X("value:Q", title="value of the parameter (the other one off)", scale=alt.Scale(domain=[0, 1]))
    band = alt.Chart(curves).mark_area(opacity=0.2).encode(x=x, y="q25:Q", y2="q75:Q", color=color)
    line = alt.Chart(curves).mark_line(point=True).encode(
        x=x,
        y=alt.Y("median:Q", title="next-token entropy (bits)"),
        color=color,
        tooltip=[alt.Tooltip("parameter:N"), alt.Tooltip("value:Q", format=".2f"),
                 alt.Tooltip("median:Q", format=".3f"), alt.Tooltip("q25:Q", format=".3f"),
                 alt.Tooltip("q75:Q", format=".3f")],
    )
    return alt.layer(band, line).properties(height=300)


def change_spread(changes: pd.DataFrame) -> alt.Chart:
    """Box plots, across prompts, of the entropy change each control makes at a few values
    (columns parameter, value, change_bits)."""
    return (
        alt.Chart(changes)
        .mark_boxplot(extent="min-max")
        .encode(
            x=alt.X("parameter:N", title=None),
            y=alt.Y("change_bits:Q", title="entropy change from raw (bits)"),
            color=alt.Color("parameter:N", legend=None, scale=alt.Scale(domain=["temperature", "top_p"],
                                                                       range=[THRESHOLD_COLOR, KEPT_COLOR])),
            column=alt.Column("value:O", title="value", header=alt.Header(format=".2f")),
        )
        .properties(width=70, height=260)
    )


def diversity_against_value(diversity: pd.DataFrame, measure: str, title: str) -> alt.Chart:
    """A diversity measure of generated text against the value of temperature and of top_p
    (columns parameter, value and ``measure``, averaged over prompts)."""
    return (
        alt.Chart(diversity)
        .mark_line(point=True)
        .encode(
            x=alt.X("value:Q", title="value of the parameter (the other one off)", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y(f"{measure}:Q", title=title),
            color=alt.Color("parameter:N", title=None, scale=alt.Scale(domain=["temperature", "top_p"],
                                                                         range=[THRESHOLD_COLOR, KEPT_COLOR])),
            tooltip=[alt.Tooltip("parameter:N"), alt.Tooltip("value:Q", format=".2f"),
                     alt.Tooltip(f"{measure}:Q", format=".3f")],
        )
        .properties(height=220, width=300)
    )
