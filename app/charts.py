"""Vega-Lite charts of a panel: a DataFrame from `app.tables` in, a spec and its named datasets out.
No Streamlit here.

Each spec reads its rows from named datasets (``{"data": {"name": "tokens"}}``) and holds nothing
that a slider changes: every scale has a fixed domain, every layer is always present, and row
orders depend only on the model and the prompt. Moving a slider therefore sends new rows under the
same names, and the browser updates the drawn chart in place instead of building it again. Charts of
panel A and B take the same scale arguments, so they compare at a glance.
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import pandas as pd

KEPT_COLOR = "#3b6fb6"
REMOVED_COLOR = "#c8c8c8"
REMOVED_ROW_COLOR = "#ececec"
THRESHOLD_COLOR = "#d1495b"
PROBABILITY_FORMAT = ".4f"
ROW_STEP = 20
"""Pixels per token row: room for a 12 px label, so no label is ever dropped for overlap."""
LABEL_LIMIT = 150

KEPT_SCALE = alt.Scale(domain=[True, False], range=[KEPT_COLOR, REMOVED_COLOR])
# A square-root scale keeps small probabilities visible next to large ones; fixed from 0 to 1.
PROBABILITY_SCALE = {"type": "sqrt", "domain": [0, 1], "nice": False}


@dataclass(frozen=True)
class ChartSpec:
    """A Vega-Lite spec without data, and the rows of each dataset it names."""

    spec: dict
    datasets: dict[str, pd.DataFrame]

    def with_data(self) -> dict:
        """The spec with its datasets attached, as `st.vega_lite_chart` takes it."""
        return {**self.spec, "datasets": self.datasets}


def _spec(chart: alt.TopLevelMixin, datasets: dict[str, pd.DataFrame]) -> ChartSpec:
    spec = chart.to_dict(validate=False)
    spec.pop("datasets", None)
    return ChartSpec(spec, datasets)


def _token_axis(labels: list[str], title: str | None = None) -> alt.Y:
    return alt.Y("label:N", sort=labels, title=title, scale=alt.Scale(domain=labels),
                 axis=alt.Axis(labelLimit=LABEL_LIMIT, labelOverlap=False, labelFontSize=12))


def _tooltip(*extra: alt.Tooltip, titles: dict[str, str]) -> list[alt.Tooltip]:
    return [alt.Tooltip("label:N", title=titles["token"]), alt.Tooltip("token_id:Q", title=titles["id"]), *extra]


def top_tokens_chart(tokens: pd.DataFrame, titles: dict[str, str], labels: list[str] | None = None) -> ChartSpec:
    """Bars of the final probability of the top tokens, a tick at their raw (T = 1) probability,
    and a grey band behind every row the pipeline removed.

    ``tokens`` has one row per token (`app.tables.top_tokens`); ``labels`` fix the rows (by
    default the tokens' labels in rank order). ``titles`` holds the axis and tooltip titles in the
    page's language.
    """
    labels = labels if labels is not None else tokens.sort_values("rank")["label"].tolist()
    scale = alt.Scale(**PROBABILITY_SCALE)
    base = alt.Chart(alt.NamedData("tokens")).encode(
        y=_token_axis(labels),
        tooltip=_tooltip(
            alt.Tooltip("final_prob:Q", title=titles["final_p"], format=PROBABILITY_FORMAT),
            alt.Tooltip("raw_prob:Q", title=titles["raw_p"], format=PROBABILITY_FORMAT),
            alt.Tooltip("logit:Q", title=titles["logit"], format=".3f"),
            alt.Tooltip("scaled_logit:Q", title=titles["scaled_logit"], format=".3f"),
            alt.Tooltip("removed_by:N", title=titles["removed_by"]),
            titles=titles,
        ),
    )
    removed_rows = base.transform_filter("!datum.kept").mark_rect(color=REMOVED_ROW_COLOR).encode(
        x=alt.datum(0, scale=scale), x2=alt.datum(1))
    bars = base.mark_bar(height={"band": 0.8}).encode(
        x=alt.X("final_prob:Q", scale=scale, title=titles["probability_axis"]),
        color=alt.Color("kept:N", scale=KEPT_SCALE, legend=None),
    )
    raw_ticks = base.mark_tick(thickness=2, size=14, color="#222").encode(x=alt.X("raw_prob:Q", scale=scale))
    chart = alt.layer(removed_rows, bars, raw_ticks).properties(height=alt.Step(ROW_STEP))
    return _spec(chart, {"tokens": tokens})


def stages_chart(stages: pd.DataFrame, stage_names: list[str], labels: list[str],
                 titles: dict[str, str]) -> ChartSpec:
    """A heat map, token × stage: how each stage reshapes the distribution and what it cuts.

    Tokens are rows, as in the top-tokens chart, so every token keeps its label at any width;
    stages are columns in the engine's order (``stage_names``: the raw distribution, then each
    stage that runs). Grey cells were cut at that stage or before.
    """
    base = alt.Chart(alt.NamedData("stages")).encode(
        y=_token_axis(labels),
        x=alt.X("stage:N", sort=stage_names, scale=alt.Scale(domain=stage_names), title=None,
                # A fixed extent: the stage names' lengths never move the rows up or down.
                # labelLimit fits the longest stage name, "repetition_penalty", uncut.
                axis=alt.Axis(orient="top", labelAngle=-40, labelLimit=140, labelOverlap=False,
                              minExtent=100, maxExtent=100)),
        tooltip=[alt.Tooltip("stage:N", title=titles["stage"]), alt.Tooltip("value:N", title=titles["setting"]),
                 *_tooltip(alt.Tooltip("prob:Q", title=titles["p"], format=PROBABILITY_FORMAT), titles=titles)],
    )
    cells = base.mark_rect(stroke="white", strokeWidth=0.5).encode(
        color=alt.condition(
            "datum.kept",
            alt.Color("prob:Q", scale=alt.Scale(**PROBABILITY_SCALE, scheme="blues"), title=titles["p"],
                      legend=alt.Legend(orient="bottom", direction="horizontal", gradientLength=160)),
            alt.value(REMOVED_COLOR),
        ),
    )
    return _spec(cells.properties(height=alt.Step(ROW_STEP)), {"stages": stages})


def cumulative_chart(curve: pd.DataFrame, cut: pd.DataFrame, vocab_size: int, titles: dict[str, str]) -> ChartSpec:
    """The sorted cumulative probability; top_p keeps every token up to the one that reaches it.

    The rank axis is logarithmic over the whole vocabulary, from 1 to ``vocab_size`` exactly in
    every panel (no rounding to a "nice" end). ``cut`` holds at most one row: the cut-off rank and
    the top_p threshold, drawn as a solid and a dashed rule; with no cut it is empty.
    """
    x_scale = alt.Scale(type="log", domain=[1, max(vocab_size, 2)], nice=False)
    x = alt.X("rank:Q", scale=x_scale, title=titles["rank_axis"], axis=alt.Axis(format="~s"))
    y = alt.Y("cumulative:Q", scale=alt.Scale(domain=[0, 1], nice=False), title=titles["cumulative_axis"])
    base = alt.Chart(alt.NamedData("curve"))
    line = base.mark_line(color="#555", interpolate="step-after").encode(x=x, y=y)
    points = base.mark_circle(size=36).encode(
        x=x, y=y,
        color=alt.Color("kept:N", scale=KEPT_SCALE, legend=None),
        tooltip=[alt.Tooltip("rank:Q", title=titles["rank"]),
                 *_tooltip(alt.Tooltip("prob:Q", title=titles["p"], format=PROBABILITY_FORMAT),
                           alt.Tooltip("cumulative:Q", title=titles["cumulative"], format=PROBABILITY_FORMAT),
                           titles=titles)],
    )
    rules = alt.Chart(alt.NamedData("cut"))
    cutoff = rules.mark_rule(color=THRESHOLD_COLOR).encode(x=alt.X("cutoff:Q", scale=x_scale))
    threshold = rules.mark_rule(color=THRESHOLD_COLOR, strokeDash=[6, 4]).encode(
        y=alt.Y("threshold:Q", scale=alt.Scale(domain=[0, 1], nice=False)))
    chart = alt.layer(line, points, cutoff, threshold).properties(height=240)
    return _spec(chart, {"curve": curve, "cut": cut})


def entropy_heatmap(grid: pd.DataFrame, titles: dict[str, str] | None = None) -> alt.Chart:
    """Mean next-token entropy over the temperature × top_p grid (columns temperature, top_p, entropy_bits)."""
    titles = titles or {"temperature_axis": "temperature", "entropy": "entropy (bits)"}
    return (
        alt.Chart(grid)
        .mark_rect()
        .encode(
            x=alt.X("top_p:O", title="top_p", axis=alt.Axis(format=".2f", labelAngle=-60)),
            y=alt.Y("temperature:O", title=titles["temperature_axis"], sort="descending",
                    axis=alt.Axis(format=".2f")),
            color=alt.Color("entropy_bits:Q", title=titles["entropy"], scale=alt.Scale(scheme="viridis")),
            tooltip=[
                alt.Tooltip("temperature:Q", format=".2f"),
                alt.Tooltip("top_p:Q", format=".2f"),
                alt.Tooltip("entropy_bits:Q", title="mean entropy (bits)", format=".3f"),
            ],
        )
        .properties(height=alt.Step(9))
    )
def margin_chart(table: pd.DataFrame, titles: dict[str, str]) -> alt.LayerChart:
    """The answer in one chart: |ΔH_T| − |ΔH_p| against the value (both controls at it), one line
    per model with its 95 % band, and the zero line (above: temperature moved entropy more).
    ``table``: model, value, margin_bits, margin_low, margin_high (`sampling.study.margin_table`)."""
    x = alt.X("value:Q", title=titles["value_axis"], scale=alt.Scale(domain=[0, 1], nice=False))
    color = alt.Color("model:N", title=titles["model"])
    band = alt.Chart(table).mark_area(opacity=0.18).encode(x=x, y="margin_low:Q", y2="margin_high:Q", color=color)
    line = alt.Chart(table).mark_line(point=True).encode(
        x=x, y=alt.Y("margin_bits:Q", title=titles["margin_axis"]), color=color,
        tooltip=[alt.Tooltip("model:N", title=titles["model"]), alt.Tooltip("value:Q", format=".2f"),
                 alt.Tooltip("margin_bits:Q", title=titles["margin_axis"], format="+.3f"),
                 alt.Tooltip("margin_low:Q", format="+.3f"), alt.Tooltip("margin_high:Q", format="+.3f")])
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#222", strokeDash=[4, 3]).encode(y="zero:Q")
    return alt.layer(band, line, zero).properties(height=300)


def exchange_chart(table: pd.DataFrame, titles: dict[str, str]) -> alt.LayerChart:
    """The fair comparison: for each temperature below 1, the top_p whose mean entropy equals the
    temperature's (95 % band), one line per model, against the diagonal top_p = T.
    ``table``: model, temperature, mean_top_p, mean_low, mean_high (`sampling.study.exchange_table`)."""
    x = alt.X("temperature:Q", title=titles["temperature_axis"], scale=alt.Scale(domain=[0, 1], nice=False))
    y_scale = alt.Scale(domain=[0, 1], nice=False)
    color = alt.Color("model:N", title=titles["model"])
    band = alt.Chart(table).mark_area(opacity=0.18).encode(x=x, y=alt.Y("mean_low:Q", scale=y_scale),
                                                            y2="mean_high:Q", color=color)
    line = alt.Chart(table).mark_line(point=True).encode(
        x=x, y=alt.Y("mean_top_p:Q", title=titles["exchange_axis"], scale=y_scale), color=color,
        tooltip=[alt.Tooltip("model:N", title=titles["model"]), alt.Tooltip("temperature:Q", format=".2f"),
                 alt.Tooltip("mean_top_p:Q", title=titles["exchange_axis"], format=".3f"),
                 alt.Tooltip("median_top_p:Q", title=titles["median_exchange"], format=".3f")])
    diagonal = alt.Chart(pd.DataFrame({"a": [0.0, 1.0]})).mark_line(color="#888", strokeDash=[4, 3]).encode(
        x="a:Q", y="a:Q")
    return alt.layer(band, line, diagonal).properties(height=300)


def wins_chart(table: pd.DataFrame, titles: dict[str, str]) -> alt.LayerChart:
    """Who wins against the context's own entropy: the share of contexts where temperature moves
    entropy more, per 1-bit bin of the raw entropy, one line per model, and the line of one half.
    ``table``: model, entropy_bin, temperature_share, contexts (`sampling.study.wins_by_entropy`)."""
    color = alt.Color("model:N", title=titles["model"])
    line = alt.Chart(table).mark_line(point=True).encode(
        x=alt.X("entropy_bin:Q", title=titles["context_entropy_axis"]),
        y=alt.Y("temperature_share:Q", title=titles["temperature_share_axis"], scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        color=color,
        tooltip=[alt.Tooltip("model:N", title=titles["model"]), alt.Tooltip("entropy_bin:Q", format=".1f"),
                 alt.Tooltip("temperature_share:Q", format=".0%"), alt.Tooltip("contexts:Q")])
    half = alt.Chart(pd.DataFrame({"half": [0.5]})).mark_rule(color="#222", strokeDash=[4, 3]).encode(y="half:Q")
    return alt.layer(line, half).properties(height=300)


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
