"""The JSON the live page fetches, built from ``LiveState`` with the report's figures and
statistics rows (so the page and ``driftline report`` show the same numbers)."""

from __future__ import annotations

from typing import Any, Final

import orjson
import plotly.io as pio

from app.report.figures import histogram_figure, timeline_figure
from app.report.incidents import find_incidents
from app.report.page import feature_summaries, stats_rows
from app.ui.state import LiveState

# The timeline draws at most this many of a model's latest windows (the table lists all).
TIMELINE_WINDOWS: Final = 240


def _figure(fig: Any) -> Any:
    return orjson.loads(pio.to_json(fig, validate=False))


def overview(state: LiveState) -> dict[str, Any]:
    return {"version": state.version, "models": state.summary()}


def model_view(state: LiveState, model_id: str) -> dict[str, Any] | None:
    """A model's timeline figure, its windows (newest first) and open incidents."""
    windows = state.windows(model_id)
    if not windows:
        return None
    shown = windows[-TIMELINE_WINDOWS:]
    return {
        "version": state.version,
        "model_id": model_id,
        "timeline": _figure(timeline_figure(shown, find_incidents(shown))),
        "windows": [
            {
                "window_id": doc["window_id"],
                "start": doc["window"]["start"],
                "end": doc["window"]["end"],
                "status": doc["status"],
                "severity": doc.get("severity"),
                "n_events": doc["n_events"],
                "drifted": [f["name"] for f in doc["features"] if f.get("drifted")],
            }
            for doc in reversed(windows)
        ],
        "incidents": [
            {
                "incident_id": i.incident_id,
                "since": i.since,
                "until": i.until,
                "n_windows": i.n_windows,
                "severity": i.severity,
                "features": list(i.features),
            }
            for i in state.open_incidents(model_id)
        ],
    }


def window_view(state: LiveState, model_id: str, window_id: str) -> dict[str, Any] | None:
    """One window: per feature its baseline-against-current histogram figure (None when
    the result has no histogram), its drift summary and its statistics rows."""
    doc = state.window(model_id, window_id)
    if doc is None:
        return None
    summaries = feature_summaries(state.event(model_id, window_id))
    features = []
    for feature in doc["features"]:
        fig = histogram_figure(feature)
        features.append(
            {
                "name": feature["name"],
                "status": feature["status"],
                "summary": summaries.get(feature["name"]),
                "histogram": None if fig is None else _figure(fig),
                "stats": [[key, value] for key, value in stats_rows(feature)],
            }
        )
    return {
        "model_id": model_id,
        "window_id": window_id,
        "start": doc["window"]["start"],
        "end": doc["window"]["end"],
        "status": doc["status"],
        "severity": doc.get("severity"),
        "n_events": doc["n_events"],
        "features": features,
    }
