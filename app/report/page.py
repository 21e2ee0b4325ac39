"""The report as one self-contained HTML page: plotly.js inlined once (no CDN, works
offline), then per model the timeline, the incidents and the detailed windows (each
feature's baseline-against-current histogram with its statistics table)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import plotly.io as pio
from plotly.offline import get_plotlyjs

from app.report.figures import histogram_figure, timeline_figure
from app.report.incidents import Incident, find_incidents
from app.report.load import ModelData, ReportInput

# A model with at most this many windows has every window detailed; with more, the
# drifted windows and the latest one, the most recent MAX_DETAILED of them.
DETAIL_ALL_UP_TO: Final = 12
MAX_DETAILED: Final = 40

# Shown in the page (and read by the browser test) when any script fails, so a broken page
# says so instead of silently missing charts.
_ERROR_HOOK: Final = """<script>
window.addEventListener("error", function (e) {
  var box = document.getElementById("report-errors");
  if (!box) { return; }
  box.hidden = false;
  box.appendChild(document.createTextNode("JavaScript error: " + e.message + "\\n"));
});
</script>"""

_CSS: Final = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #212121; }
h1 { font-size: 1.5em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .4em 0 1em; }
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-drift { color: #c62828; font-weight: 600; } .status-ok { color: #2e7d32; }
.status-insufficient_data { color: #757575; }
.features { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr));
            gap: 1em; }
.feature { border: 1px solid #e0e0e0; padding: .5em; }
.feature h4 { margin: 0 0 .3em; }
.window { margin: 1.5em 0; } .summary { color: #b71c1c; }
#report-errors { background: #ffebee; color: #b71c1c; padding: .5em; white-space: pre-wrap; }
nav a { margin-right: .6em; }
"""


@dataclass(frozen=True)
class PageStats:
    n_models: int
    n_windows: int
    n_drifted: int
    n_incidents: int
    n_detailed: int


def number(value: object) -> str:
    """A statistics-table cell: the exact value in ``data-value``, a rounded one shown."""
    if value is None:
        return '<td class="num">-</td>'
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, int):
        return f'<td class="num" data-value="{value}">{value:,}</td>'
    if isinstance(value, float):
        return f'<td class="num" data-value="{value!r}">{value:.4g}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _plot(fig: Any, div_id: str, *, toolbar: bool = True) -> str:
    return str(
        pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True, "displayModeBar": toolbar},
        )
    )


def detailed_windows(windows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Indexes of the windows detailed in the page (see ``DETAIL_ALL_UP_TO``)."""
    if len(windows) <= DETAIL_ALL_UP_TO:
        return list(range(len(windows)))
    picked = [i for i, doc in enumerate(windows) if doc["status"] == "drift"]
    if not picked or picked[-1] != len(windows) - 1:
        picked.append(len(windows) - 1)
    return picked[-MAX_DETAILED:]


def stats_rows(feature: Mapping[str, Any]) -> list[tuple[str, object]]:
    """The statistics table of one feature: the result's own numbers, in its order."""
    effect = feature.get("effect") or {}
    rows: list[tuple[str, object]] = [
        ("status", feature["status"]),
        ("n", feature["n"]),
        ("null_count", feature["null_count"]),
        ("test", feature.get("test")),
        ("p_value", feature.get("p_value")),
        ("p_value_adjusted", feature.get("p_value_adjusted")),
        (f"effect ({effect.get('name', '-')})", effect.get("value")),
        ("threshold", effect.get("threshold")),
    ]
    rows += [(key, value) for key, value in (feature.get("stats") or {}).items()]
    return rows


def _feature_block(feature: Mapping[str, Any], div_id: str, summary: str | None) -> str:
    name = html.escape(feature["name"])
    status = html.escape(feature["status"])
    parts = [f'<div class="feature" data-feature="{name}">']
    parts.append(f'<h4>{name} <span class="status-{status}">{status}</span></h4>')
    if summary:
        parts.append(f'<p class="summary">{html.escape(summary)}</p>')
    fig = histogram_figure(feature)
    parts.append(
        _plot(fig, div_id, toolbar=False)
        if fig is not None
        else "<p>No histogram in this result.</p>"
    )
    histogram = feature.get("histogram") or {}
    if histogram.get("unseen_values"):
        named = ", ".join(
            f"{html.escape(str(v['value']))} ({v['count']:,})" for v in histogram["unseen_values"]
        )
        parts.append(f"<p>Unseen values: {named}</p>")
    rows = "".join(
        f'<tr data-stat="{html.escape(k)}"><th>{html.escape(k)}</th>{number(v)}</tr>'
        for k, v in stats_rows(feature)
    )
    parts.append(f'<table class="stats">{rows}</table></div>')
    return "".join(parts)


def feature_summaries(event: Mapping[str, Any] | None) -> dict[str, str]:
    if event is None:
        return {}
    return {
        f["name"]: f["summary"]
        for f in event.get("drifted_features", [])
        if isinstance(f.get("summary"), str)
    }


def _window_section(model_index: int, index: int, doc: Mapping[str, Any], event: Any) -> str:
    window = doc["window"]
    status = html.escape(doc["status"])
    anchor = f"m{model_index}-w{index}"
    head = (
        f'<section class="window" id="{anchor}" data-window-id="{html.escape(doc["window_id"])}">'
        f"<h3>{html.escape(window['start'])} to {html.escape(window['end'])}: "
        f'<span class="status-{status}">{status}</span>'
        + (f", severity {html.escape(str(doc['severity']))}" if doc.get("severity") else "")
        + f", {doc['n_events']:,} events</h3>"
    )
    summaries = feature_summaries(event)
    blocks = [
        _feature_block(feature, f"{anchor}-f{j}", summaries.get(feature["name"]))
        for j, feature in enumerate(doc["features"])
    ]
    return head + '<div class="features">' + "".join(blocks) + "</div></section>"


def _incidents_table(incidents: Sequence[Incident], model_index: int) -> str:
    if not incidents:
        return "<p>No incidents: no window drifted.</p>"
    rows = "".join(
        f'<tr class="incident"><td><a href="#m{model_index}-w{i.first}">'
        f"{html.escape(i.start)}</a></td><td>{html.escape(i.end)}</td>"
        f'<td class="num">{i.n_windows}</td><td>{html.escape(i.max_severity or "-")}</td>'
        f"<td>{html.escape(', '.join(i.features))}</td></tr>"
        for i in incidents
    )
    return (
        '<table class="incidents"><tr><th>from</th><th>to</th><th>windows</th>'
        f"<th>worst severity</th><th>drifted features</th></tr>{rows}</table>"
    )


def _model_section(model_index: int, model: ModelData) -> tuple[str, int, int, int]:
    windows = model.windows
    incidents = find_incidents(windows)
    detailed = detailed_windows(windows)
    n_drifted = sum(1 for d in windows if d["status"] == "drift")
    nav = " ".join(
        f'<a href="#m{model_index}-w{i}">{html.escape(windows[i]["window"]["start"])}</a>'
        for i in detailed
    )
    note = (
        ""
        if len(detailed) == len(windows)
        else f"<p>{len(detailed)} of {len(windows)} windows detailed: the drifted ones and "
        f"the latest (at most {MAX_DETAILED}).</p>"
    )
    body = [
        f'<section class="model" id="m{model_index}" '
        f'data-model-id="{html.escape(model.model_id)}">',
        f"<h2>{html.escape(model.model_id)}</h2>",
        f"<p>{plural(len(windows), 'window')}, {n_drifted:,} drifted, "
        f"{plural(len(incidents), 'incident')}.</p>",
        _plot(timeline_figure(windows, incidents), f"m{model_index}-timeline"),
        "<h3>Incidents (runs of consecutive drifted windows)</h3>",
        _incidents_table(incidents, model_index),
        f"<h3>Windows</h3>{note}<nav>{nav}</nav>",
    ]
    body += [
        _window_section(model_index, i, windows[i], model.events.get(windows[i]["window_id"]))
        for i in detailed
    ]
    body.append("</section>")
    return "".join(body), n_drifted, len(incidents), len(detailed)


def render_page(data: ReportInput, *, title: str) -> tuple[str, PageStats]:
    """The whole HTML page and what it holds."""
    sections = []
    n_drifted = n_incidents = n_detailed = 0
    for index, model in enumerate(data.models.values()):
        section, drifted, incidents, detailed = _model_section(index, model)
        sections.append(section)
        n_drifted += drifted
        n_incidents += incidents
        n_detailed += detailed
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>{_ERROR_HOOK}"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f'<div id="report-errors" hidden></div>'
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="totals">'
        f"{plural(len(data.models), 'model')}, {plural(data.n_windows, 'window')}, "
        f"{n_drifted:,} drifted, {plural(n_incidents, 'incident')}, "
        f"{plural(data.n_events, 'drift event')}.</p>" + "".join(sections) + "</body></html>\n"
    )
    stats = PageStats(len(data.models), data.n_windows, n_drifted, n_incidents, n_detailed)
    return page, stats
