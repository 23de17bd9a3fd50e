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


def _token_tooltip(*extra: alt.Tooltip) -> list[alt.Tooltip]:
    return [alt.Tooltip("label:N", title="token"), alt.Tooltip("token_id:Q", title="id"), *extra]


def top_tokens_chart(tokens: pd.DataFrame, x_max: float) -> alt.LayerChart:
    """Bars of the final probability of the top tokens; a tick at their raw probability.

    Removed tokens have no bar, a grey label row and a grey tick.
    """
    order = tokens["label"].tolist()
    base = alt.Chart(tokens).encode(
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=160)),
        tooltip=_token_tooltip(
            alt.Tooltip("final_prob:Q", title="final p", format=PROBABILITY_FORMAT),
            alt.Tooltip("raw_prob:Q", title="raw p (T=1)", format=PROBABILITY_FORMAT),
            alt.Tooltip("kept:N", title="kept"),
        ),
    )
    scale = alt.Scale(domain=[0, x_max])
    bars = base.mark_bar().encode(
        x=alt.X("final_prob:Q", scale=scale, title="probability"),
        color=alt.condition("datum.kept", alt.value(KEPT_COLOR), alt.value(REMOVED_COLOR)),
    )
    raw_ticks = base.mark_tick(thickness=2, size=14, color="#222").encode(x=alt.X("raw_prob:Q", scale=scale))
    return alt.layer(bars, raw_ticks).properties(height=alt.Step(16))


def stages_chart(stages: pd.DataFrame, color_max: float) -> alt.Chart:
    """A heat map, stage × token: how each stage reshapes the distribution and what it cuts."""
    token_order = stages.drop_duplicates("rank").sort_values("rank")["label"].tolist()
    stage_order = stages.drop_duplicates("stage_index").sort_values("stage_index")["stage"].tolist()
    return (
        alt.Chart(stages)
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X("label:N", sort=token_order, title=None, axis=alt.Axis(labelAngle=-60, labelLimit=90)),
            y=alt.Y("stage:N", sort=stage_order, title=None, axis=alt.Axis(labelLimit=140)),
            color=alt.condition(
                "datum.kept",
                alt.Color("prob:Q", scale=alt.Scale(domain=[0, color_max], scheme="blues"), title="p"),
                alt.value(REMOVED_COLOR),
            ),
            tooltip=[alt.Tooltip("stage:N"), *_token_tooltip(alt.Tooltip("prob:Q", title="p", format=PROBABILITY_FORMAT))],
        )
        .properties(height=alt.Step(22))
    )


def cumulative_chart(curve: pd.DataFrame, threshold: float | None, cutoff_rank: int, x_max: int) -> alt.LayerChart:
    """The sorted cumulative probability; top_p keeps every token up to the one that reaches it."""
    # A log axis shows the head, where top_p usually cuts, and the long tail together.
    x = alt.X("rank:Q", scale=alt.Scale(type="log", domain=[1, max(x_max, cutoff_rank, 2)]),
              title="tokens, most likely first (log scale)")
    y = alt.Y("cumulative:Q", scale=alt.Scale(domain=[0, 1]), title="cumulative probability")
    line = alt.Chart(curve).mark_line(color="#555", interpolate="step-after").encode(x=x, y=y)
    points = alt.Chart(curve).mark_circle(size=36).encode(
        x=x,
        y=y,
        color=alt.condition("datum.kept", alt.value(KEPT_COLOR), alt.value(REMOVED_COLOR)),
        tooltip=[
            alt.Tooltip("rank:Q"),
            *_token_tooltip(
                alt.Tooltip("prob:Q", title="p", format=PROBABILITY_FORMAT),
                alt.Tooltip("cumulative:Q", format=PROBABILITY_FORMAT),
            ),
        ],
    )
    cutoff = alt.Chart(pd.DataFrame({"rank": [cutoff_rank]})).mark_rule(color=THRESHOLD_COLOR).encode(x="rank:Q")
    layers = [line, points, cutoff]
    if threshold is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"cumulative": [threshold]}))
            .mark_rule(color=THRESHOLD_COLOR, strokeDash=[6, 4])
            .encode(y="cumulative:Q")
        )
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
