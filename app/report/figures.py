"""The report's plotly figures, built from the numbers in the window results (nothing is
recomputed but proportions and effect / threshold ratios; the hover text shows the raw
numbers, carried in each trace's ``customdata``)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.report.incidents import Incident

STATUS_COLORS: Final = {"ok": "#2e7d32", "drift": "#c62828", "insufficient_data": "#9e9e9e"}
BASELINE_COLOR: Final = "#90a4ae"
WINDOW_COLOR: Final = "#1565c0"
# An empty template: plotly's default one adds ~8 KB of JSON to every figure.
_TEMPLATE: Final = "none"
# On a heatmap cell whose feature drifted: a null-rate or unseen-values finding flags a
# feature whose distribution effect stays under its bar, so the colour alone would hide it.
DRIFT_MARK: Final = "drift"


def feature_names(windows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every feature of the model's results, in order of first appearance."""
    names: dict[str, None] = {}
    for doc in windows:
        for feature in doc["features"]:
            names.setdefault(feature["name"], None)
    return list(names)


def window_middle(doc: Mapping[str, Any]) -> str:
    """The middle of a result's window, as plotly reads a date (UTC, milliseconds)."""
    window = doc["window"]
    middle_ms = (int(window["start_ms"]) + int(window["end_ms"])) // 2
    moment = datetime.fromtimestamp(middle_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{middle_ms % 1000:03d}"


def effect_ratio(feature: Mapping[str, Any]) -> float | None:
    """The feature's effect over its threshold (>= 1 reaches the bar), or None."""
    effect = feature.get("effect")
    if not effect or effect.get("value") is None or not effect.get("threshold"):
        return None
    return float(effect["value"]) / float(effect["threshold"])


def timeline_figure(
    windows: Sequence[Mapping[str, Any]], incidents: Sequence[Incident]
) -> go.Figure:
    """Top: each window's event count, coloured by status, incidents shaded. Bottom: each
    feature's effect / threshold per window (heatmap; hover: effect, threshold, status)."""
    names = feature_names(windows)
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        row_heights=[0.3, 0.7],
        subplot_titles=(
            "window status (events per window)",
            "effect / threshold per feature (drift: the feature drifted)",
        ),
    )
    # Each window drawn at its middle, so a heatmap cell spans the window it stands for.
    starts = [window_middle(doc) for doc in windows]
    for status, color in STATUS_COLORS.items():
        picked = [i for i, doc in enumerate(windows) if doc["status"] == status]
        if not picked:
            continue
        fig.add_trace(
            go.Scatter(
                name=status,
                x=[starts[i] for i in picked],
                y=[windows[i]["n_events"] for i in picked],
                customdata=[[windows[i]["window_id"], windows[i].get("severity")] for i in picked],
                mode="markers",
                marker={"color": color, "size": 9},
                hovertemplate="%{x}<br>%{y} events<br>%{customdata[0]}<br>severity "
                "%{customdata[1]}<extra>" + status + "</extra>",
            ),
            row=1,
            col=1,
        )
    z: list[list[float | None]] = []
    custom: list[list[list[Any]]] = []
    marks: list[list[str]] = []
    for name in names:
        row_z: list[float | None] = []
        row_c: list[list[Any]] = []
        row_t: list[str] = []
        for doc in windows:
            feature = next((f for f in doc["features"] if f["name"] == name), None)
            if feature is None:
                row_z.append(None)
                row_c.append([None, None, "absent"])
                row_t.append("")
                continue
            effect = feature.get("effect") or {}
            row_z.append(effect_ratio(feature))
            row_t.append(DRIFT_MARK if feature["drifted"] else "")
            row_c.append([effect.get("value"), effect.get("threshold"), feature["status"]])
        z.append(row_z)
        custom.append(row_c)
        marks.append(row_t)
    fig.add_trace(
        go.Heatmap(
            name="effect / threshold",
            x=starts,
            y=names,
            z=z,
            customdata=custom,
            text=marks,
            texttemplate="%{text}",
            zmin=0,
            zmax=2,
            colorscale=[[0.0, "#f5f5f5"], [0.5, "#ffcc80"], [0.5001, "#ef5350"], [1.0, "#b71c1c"]],
            colorbar={"title": {"text": "effect / threshold"}, "len": 0.65, "y": 0.33},
            hovertemplate="%{y} at %{x}<br>effect %{customdata[0]} / threshold "
            "%{customdata[1]} = %{z:.3f}<br>%{customdata[2]}<extra></extra>",
            xgap=1,
            ygap=1,
        ),
        row=2,
        col=1,
    )
    for incident in incidents:
        fig.add_vrect(
            x0=incident.start,
            x1=incident.end,
            fillcolor=STATUS_COLORS["drift"],
            opacity=0.12,
            line_width=0,
            row=1,
            col=1,
        )
    fig.update_layout(
        template=_TEMPLATE,
        height=260 + 26 * len(names),
        margin={"l": 140, "r": 20, "t": 40, "b": 40},
        legend={"orientation": "h", "y": 1.08, "x": 1, "xanchor": "right"},
    )
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    return fig


def _fmt_edge(value: float) -> str:
    return f"{value:.4g}"


def histogram_cells(histogram: Mapping[str, Any]) -> tuple[list[str], list[int], list[int]]:
    """(cell labels, window counts, baseline counts) of a result's feature histogram; the
    null cell (window: nulls + missing + mismatched) and, for categories, the unseen cell
    (never in training, so 0 on the baseline side) are added when either side has any."""
    counts = [int(c) for c in histogram["counts"]]
    base = [int(c) for c in histogram["baseline_counts"]]
    if histogram["kind"] == "numeric":
        edges = [float(e) for e in histogram["edges"]]
        labels = [f"< {_fmt_edge(edges[0])}"]
        labels += [f"[{_fmt_edge(a)}, {_fmt_edge(b)})" for a, b in itertools.pairwise(edges)]
        labels.append(f">= {_fmt_edge(edges[-1])}")
    else:
        labels = [str(c) for c in histogram["categories"]] + ["(other)"]
        if histogram.get("unseen"):
            labels.append("(unseen)")
            counts.append(int(histogram["unseen"]))
            base.append(0)
    window_nulls = (
        int(histogram["nulls"]) + int(histogram["missing"]) + int(histogram["mismatched"])
    )
    baseline_nulls = int(histogram["baseline_nulls"])
    if window_nulls or baseline_nulls:
        labels.append("(null)")
        counts.append(window_nulls)
        base.append(baseline_nulls)
    return labels, counts, base


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def histogram_figure(feature: Mapping[str, Any]) -> go.Figure | None:
    """Baseline against current, as shares of each side's total, for one feature of a
    result; None when the result carries no histogram (a feature unknown to the baseline,
    or a version-1 result)."""
    histogram = feature.get("histogram")
    if not histogram:
        return None
    labels, counts, base = histogram_cells(histogram)
    fig = go.Figure()
    for name, values, color in (
        ("baseline", base, BASELINE_COLOR),
        ("window", counts, WINDOW_COLOR),
    ):
        fig.add_trace(
            go.Bar(
                name=name,
                x=labels,
                y=_shares(values),
                customdata=values,
                marker_color=color,
                hovertemplate="%{x}: %{y:.2%} (%{customdata:,})<extra>" + name + "</extra>",
            )
        )
    fig.update_layout(
        template=_TEMPLATE,
        barmode="group",
        height=280,
        margin={"l": 50, "r": 10, "t": 10, "b": 60},
        yaxis={"tickformat": ".0%", "rangemode": "tozero"},
        xaxis={"type": "category"},
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
    )
    return fig
