"""Drift incidents (app.pipeline.incidents): one model's window results in event-time order
give opened, a few updated, resolved; the state survives a restart as bytes.

The windows are real results of the example baseline (tests.unit.pipeline.test_alert_findings's
seeded windows), placed at consecutive 5-minute spans.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.codecs.incident import incident_document, incident_event_from_document
from app.codecs.incident_state import incident_state_from_bytes, incident_state_to_bytes
from app.codecs.window_result import span_document
from app.contracts.schemas import validate
from app.pipeline.incidents import IncidentState, IncidentTracker, step
from app.pipeline.results import WindowResult
from app.windows.spec import WindowSpan
from tests.unit.pipeline.test_alert_findings import AMOUNT_SHIFT, FRAUD, STOPPED, _window

EXAMPLES = Path(__file__).resolve().parents[3] / "schemas" / "examples"
T0 = 1_795_762_800_000  # 2026-11-27T07:00:00Z
SIZE = 300
OK, _ = _window(FRAUD, 5000, seed=5)
THIN, _ = _window(FRAUD, 12, seed=2)  # insufficient_data, not partial
assert (OK.status, THIN.status) == ("ok", "insufficient_data")


def at(template: WindowResult, i: int, *, partial: bool = False) -> WindowResult:
    """``template`` as the model's i-th window, emitted a minute after it ended."""
    span = WindowSpan(T0 + i * SIZE * 1000, SIZE)
    emitted = span_document(WindowSpan(span.end_ms + 60_000, 1))["start"]
    return replace(template, span=span, emitted_at=emitted, partial=partial)


def severe(template: WindowResult) -> WindowResult:
    return replace(template, evaluation=replace(template.evaluation, severity="high"))


def run(results: list[WindowResult], resolve_after: int = 3) -> list[dict[str, Any]]:
    tracker = IncidentTracker(resolve_after)
    docs = []
    for r in results:
        event = tracker.on_result(r)
        if event is not None:
            doc = incident_document(event)
            validate("incident-event", doc)
            docs.append(doc)
    return docs


def brief(docs: list[dict[str, Any]]) -> list[tuple[str, int, str, list[str], str]]:
    """(event, sequence, window start, features, severity) of each lifecycle event."""
    return [
        (
            d["event"],
            d["sequence"],
            d["window"]["start"][11:16],
            [f["name"] for f in d["drifted_features"]],
            d["severity"],
        )
        for d in docs
    ]


def win(i: int) -> str:
    key = f"{FRAUD.model_id}|{FRAUD.baseline_id}|{T0 + i * SIZE * 1000}|{SIZE}"
    return "win-" + hashlib.sha256(key.encode()).hexdigest()[:16]


# A drift that lasts from the second window to the seventh, with a second feature joining
# for two windows, one quiet window inside it and a thin one after it.
STORY = [
    at(OK, 0),
    at(AMOUNT_SHIFT, 1),
    at(AMOUNT_SHIFT, 2),
    at(STOPPED, 3),
    at(STOPPED, 4),
    at(OK, 5),  # one ok window: not enough to resolve
    at(AMOUNT_SHIFT, 6),
    at(OK, 7),
    at(THIN, 8),  # insufficient data: neither counts nor breaks the run
    at(OK, 9),
    at(OK, 10),  # the third ok window in a row: resolved
    at(OK, 11),
]


def test_a_drift_lasting_several_windows_is_one_incident_opened_updated_resolved() -> None:
    docs = run(STORY)
    assert brief(docs) == [
        ("opened", 0, "07:05", ["amount"], "low"),
        ("updated", 1, "07:15", ["amount", "is_new_customer"], "low"),
        ("updated", 2, "07:30", ["amount"], "low"),
        ("resolved", 3, "07:50", ["amount"], "low"),
    ]
    ids = {d["incident_id"] for d in docs}
    key = f"incident|{FRAUD.model_id}|{win(1)}"
    assert ids == {"inc-" + hashlib.sha256(key.encode()).hexdigest()[:16]}
    assert [d["drifted_windows"] for d in docs] == [1, 3, 5, 5]
    assert [d["ok_windows"] for d in docs] == [0, 0, 0, 3]
    # The per-window drift events are unchanged: five drifted windows, five alerts.
    assert sum(r.drift_event() is not None for r in STORY) == 5


def test_exact_resolved_document() -> None:
    resolved = run(STORY)[-1]
    amount = next(f for f in AMOUNT_SHIFT.findings() if f.name == "amount").summary
    assert resolved == {
        "schema_version": 1,
        "kind": "incident",
        "event": "resolved",
        "incident_id": resolved["incident_id"],
        "sequence": 3,
        "model_id": "fraud-scorer",
        "model_version": "3.2.0",
        "baseline_id": FRAUD.baseline_id,
        "opened_window_id": win(1),
        "opened_window": {
            "start": "2026-11-27T07:05:00Z",
            "end": "2026-11-27T07:10:00Z",
            "start_ms": T0 + 300_000,
            "end_ms": T0 + 600_000,
            "size_seconds": 300,
        },
        "window_id": win(10),
        "window": {
            "start": "2026-11-27T07:50:00Z",
            "end": "2026-11-27T07:55:00Z",
            "start_ms": T0 + 3_000_000,
            "end_ms": T0 + 3_300_000,
            "size_seconds": 300,
        },
        "last_drift_window_id": win(6),
        "severity": "low",
        "peak_severity": "low",
        "drifted_features": [{"name": "amount", "summary": amount}],
        "drifted_windows": 5,
        "ok_windows": 3,
        "emitted_at": "2026-11-27T07:56:00Z",
    }


def test_a_severity_change_alone_updates_and_peak_severity_stays() -> None:
    docs = run([at(AMOUNT_SHIFT, 0), at(severe(AMOUNT_SHIFT), 1), at(AMOUNT_SHIFT, 2)])
    assert [(d["event"], d["severity"], d["peak_severity"]) for d in docs] == [
        ("opened", "low", "low"),
        ("updated", "high", "high"),
        ("updated", "low", "high"),
    ]


def test_unchanged_drift_windows_give_no_event() -> None:
    docs = run([at(AMOUNT_SHIFT, i) for i in range(10)])
    assert brief(docs) == [("opened", 0, "07:00", ["amount"], "low")]


def test_thin_and_partial_windows_neither_open_nor_resolve() -> None:
    # Partial windows (a replay's edges) never alert, so they open nothing either.
    assert run([at(THIN, 0), at(AMOUNT_SHIFT, 1, partial=True), at(OK, 2)]) == []
    docs = run(
        [at(AMOUNT_SHIFT, 0), at(OK, 1), at(THIN, 2), at(OK, 3, partial=True), at(OK, 4)],
        resolve_after=3,
    )
    assert brief(docs) == [("opened", 0, "07:00", ["amount"], "low")]


def test_resolve_after_one_window_and_a_new_incident_after_it() -> None:
    docs = run([at(AMOUNT_SHIFT, 0), at(OK, 1), at(AMOUNT_SHIFT, 2)], resolve_after=1)
    assert brief(docs) == [
        ("opened", 0, "07:00", ["amount"], "low"),
        ("resolved", 1, "07:05", ["amount"], "low"),
        ("opened", 0, "07:10", ["amount"], "low"),
    ]
    assert docs[0]["incident_id"] == docs[1]["incident_id"] != docs[2]["incident_id"]
    with pytest.raises(ValueError, match="resolve_after must be at least 1, got 0"):
        IncidentTracker(0)


def test_models_have_their_own_incidents() -> None:
    other = replace(AMOUNT_SHIFT, model_id="other-model")
    docs = run([at(AMOUNT_SHIFT, 0), at(other, 0), at(OK, 1)], resolve_after=1)
    assert [(d["model_id"], d["event"]) for d in docs] == [
        ("fraud-scorer", "opened"),
        ("other-model", "opened"),
        ("fraud-scorer", "resolved"),
    ]


def test_a_restart_from_saved_state_mid_incident_continues_it() -> None:
    whole = run(STORY)
    for cut in range(1, len(STORY)):
        state = IncidentState()
        docs = []
        for i, r in enumerate(STORY):
            if i == cut:  # the worker restarts: only the bytes survive
                state = incident_state_from_bytes(incident_state_to_bytes(state))
            state, event = step(state, r, 3)
            if event is not None:
                docs.append(incident_document(event))
        assert docs == whole, cut


def test_a_window_closed_again_gives_its_event_again_and_older_ones_nothing() -> None:
    state = IncidentState()
    state, opened = step(state, at(AMOUNT_SHIFT, 1), 3)
    assert opened is not None
    again, event = step(incident_state_from_bytes(incident_state_to_bytes(state)), STORY[1], 3)
    assert event is not None and incident_document(event) == incident_document(opened)
    assert again == incident_state_from_bytes(incident_state_to_bytes(state))
    assert step(state, at(OK, 0), 3) == (state, None)


def test_windows_closed_again_after_a_restart_give_the_same_events() -> None:
    """A worker that saved its state after closing windows 1..10 but whose sends were lost
    closes them again: each gives the event it gave (same id and sequence), or none."""
    state = IncidentState()
    first = []
    for r in STORY:
        state, event = step(state, r, 3)
        first.append(None if event is None else incident_document(event))
    saved = incident_state_from_bytes(incident_state_to_bytes(state))
    again = []
    for r in STORY:
        same, event = step(saved, r, 3)
        assert same == saved
        again.append(None if event is None else incident_document(event))
    assert again == first


def test_state_bytes_are_versioned_and_exact() -> None:
    state = IncidentState()
    for r in STORY[:4]:
        state, _ = step(state, r, 3)
    raw = incident_state_to_bytes(state)
    doc = orjson.loads(raw)
    assert list(doc) == ["v", "open", "last_window_start_ms", "recent"]
    assert doc["v"] == 1
    assert doc["last_window_start_ms"] == T0 + 3 * 300_000
    assert doc["open"]["sequence"] == 1
    assert [e["event"] for e in doc["recent"]] == ["opened", "updated"]
    assert incident_state_from_bytes(raw) == state
    assert incident_state_to_bytes(incident_state_from_bytes(raw)) == raw
    with pytest.raises(ValueError, match="incident state of version 2, expected 1"):
        incident_state_from_bytes(orjson.dumps({**doc, "v": 2}))


def test_event_documents_read_back() -> None:
    for doc in run(STORY):
        assert incident_document(incident_event_from_document(doc)) == doc
    with pytest.raises(ValueError, match="not an incident event of version 1"):
        incident_event_from_document({"kind": "drift_event", "schema_version": 2})


def _check_example(name: str, doc: dict[str, Any]) -> None:
    text = json.dumps(doc, indent=2) + "\n"
    path = EXAMPLES / name
    if os.environ.get("DRIFTLINE_WRITE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), name


def test_examples_are_real_output() -> None:
    docs = run(STORY)
    _check_example("incident-event.opened.json", docs[0])
    _check_example("incident-event.updated.json", docs[1])
    _check_example("incident-event.resolved.json", docs[-1])
