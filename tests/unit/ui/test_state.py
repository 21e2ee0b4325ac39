"""What the live page holds per model: window results kept once each (the last read wins),
in window order, trimmed to the latest; drift events and incident lifecycle events; the
open incidents; and the JSON views built from them."""

from __future__ import annotations

import copy
from typing import Any

from app.report.figures import histogram_cells
from app.report.page import stats_rows
from app.ui.state import LiveState, OpenIncident
from app.ui.views import model_view, overview, window_view
from tests.unit.report.conftest import golden_docs, shifted

GOLDEN = golden_docs()
WINDOW = next(d for d in GOLDEN if d["kind"] == "window_result" and d["status"] == "drift")
EVENT = next(d for d in GOLDEN if d["kind"] == "drift_event")


def _windows(statuses: str) -> list[dict[str, Any]]:
    """One window a letter: o(k), d(rift), i(nsufficient data)."""
    names = {"o": "ok", "d": "drift", "i": "insufficient_data"}
    return [shifted(WINDOW, i, status=names[c]) for i, c in enumerate(statuses)]


def _incident(event: str, sequence: int, window: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "incident",
        "event": event,
        "incident_id": "inc-00000000000000aa",
        "sequence": sequence,
        "model_id": window["model_id"],
        "opened_window": window["window"],
        "window": window["window"],
        "peak_severity": "medium",
        "drifted_windows": 2,
        "drifted_features": [{"name": "amount"}],
        **extra,
    }


def test_windows_are_held_once_each_in_window_order_and_each_change_moves_the_version() -> None:
    state = LiveState()
    windows = _windows("odo")
    for i in (2, 0, 1):
        assert state.add(copy.deepcopy(windows[i])) is True
    assert state.version == 3
    assert [w["window_id"] for w in state.windows("fraud-scorer")] == [
        w["window_id"] for w in windows
    ]
    # The same result again (at-least-once delivery) changes nothing.
    assert state.add(copy.deepcopy(windows[1])) is False
    assert state.version == 3
    # A different result for a window already held replaces it (the last read wins).
    again = copy.deepcopy(windows[1])
    again["n_events"] = 7
    assert state.add(again) is True
    assert state.version == 4
    assert [w["n_events"] for w in state.windows("fraud-scorer")] == [
        windows[0]["n_events"],
        7,
        windows[2]["n_events"],
    ]


def test_other_documents_are_counted_and_left_out() -> None:
    state = LiveState()
    broken = copy.deepcopy(WINDOW)
    del broken["window"]
    others: list[object] = [
        None,
        [],
        {"kind": "window_result"},
        {"kind": "dead_letter", "model_id": "m"},
    ]
    for doc in others:
        assert state.add(doc) is False
    assert state.add(broken) is False
    assert (state.skipped, state.version, state.model_ids()) == (5, 0, [])


def test_each_model_keeps_its_latest_windows() -> None:
    state = LiveState(max_windows=3)
    windows = _windows("ooddo")
    for doc in reversed(windows):  # the oldest arrive last and are dropped at once
        state.add(doc)
    assert [w["window_id"] for w in state.windows("fraud-scorer")] == [
        w["window_id"] for w in windows[2:]
    ]


def test_open_incident_from_the_windows_is_the_drifted_run_reaching_the_latest_window() -> None:
    state = LiveState()
    windows = _windows("oddod")
    for doc in windows[:3]:
        state.add(doc)
    assert state.open_incidents("fraud-scorer") == [
        OpenIncident(
            incident_id=None,
            since=windows[1]["window"]["start"],
            until=windows[2]["window"]["end"],
            n_windows=2,
            severity="low",
            features=tuple(sorted(f["name"] for f in WINDOW["features"] if f["drifted"])),
        )
    ]
    state.add(windows[3])  # an ok window ends it
    assert state.open_incidents("fraud-scorer") == []
    state.add(windows[4])
    assert [i.n_windows for i in state.open_incidents("fraud-scorer")] == [1]
    assert state.summary()[0] == {
        "model_id": "fraud-scorer",
        "n_windows": 5,
        "n_drifted": 3,
        "latest_start": windows[4]["window"]["start"],
        "latest_status": "drift",
        "open_incidents": 1,
    }


def test_incident_events_decide_what_is_open_when_the_topic_carries_them() -> None:
    state = LiveState()
    windows = _windows("ddo")
    for doc in windows:
        state.add(doc)
    assert state.add(_incident("updated", 1, windows[1])) is True
    assert state.add(_incident("opened", 0, windows[0])) is False  # older: ignored
    [open_] = state.open_incidents("fraud-scorer")
    assert (open_.incident_id, open_.until, open_.n_windows, open_.features) == (
        "inc-00000000000000aa",
        windows[1]["window"]["end"],
        2,
        ("amount",),
    )
    assert state.add(_incident("resolved", 2, windows[2])) is True
    assert state.open_incidents("fraud-scorer") == []


def test_the_views_carry_the_results_numbers() -> None:
    state = LiveState()
    windows = _windows("od")
    for doc in windows:
        state.add(doc)
    event = dict(EVENT, window_id=windows[1]["window_id"], window=windows[1]["window"])
    state.add(event)
    assert overview(state)["version"] == 3
    model = model_view(state, "fraud-scorer")
    assert model is not None
    assert [w["window_id"] for w in model["windows"]] == [
        windows[1]["window_id"],
        windows[0]["window_id"],
    ]  # newest first
    assert [w["n_events"] for w in model["windows"]] == [w["n_events"] for w in windows[::-1]]
    heatmap = next(t for t in model["timeline"]["data"] if t["type"] == "heatmap")
    assert heatmap["y"] == [f["name"] for f in WINDOW["features"]]
    view = window_view(state, "fraud-scorer", windows[1]["window_id"])
    assert view is not None
    summaries = {f["name"]: f["summary"] for f in EVENT["drifted_features"]}
    for shown, feature in zip(view["features"], windows[1]["features"], strict=True):
        assert shown["name"] == feature["name"]
        assert shown["stats"] == [[k, v] for k, v in stats_rows(feature)]
        assert shown["summary"] == summaries.get(feature["name"])
        if feature["histogram"] is None:
            assert shown["histogram"] is None
            continue
        labels, counts, base = histogram_cells(feature["histogram"])
        bars = {t["name"]: t for t in shown["histogram"]["data"]}
        assert bars["window"]["x"] == labels and bars["window"]["customdata"] == counts
        assert bars["baseline"]["customdata"] == base
    assert model_view(state, "nobody") is None
    assert window_view(state, "fraud-scorer", "win-ffffffffffffffff") is None
