"""A live worker's incidents (app.pipeline.live_incidents): a model's windows, closed on
different stage-2 partitions in any order, give the lifecycle ``IncidentTracker`` gives
for the same windows in order (analyze, replay); restarts and redelivery change nothing."""

from __future__ import annotations

import random
import zlib
from dataclasses import replace
from typing import Any

import orjson
import pytest

from app.codecs.incident import incident_document
from app.codecs.lifecycle import (
    ClosedReport,
    ProgressReport,
    decode_report,
    encode_closed,
    encode_progress,
    lifecycle_from_bytes,
    lifecycle_to_bytes,
)
from app.contracts.schemas import validate
from app.pipeline.incidents import ClosedWindow, IncidentEvent
from app.pipeline.live_incidents import ModelLifecycle, on_closed, on_progress
from app.pipeline.results import WindowResult
from tests.unit.pipeline.test_alert_findings import AMOUNT_SHIFT
from tests.unit.pipeline.test_incidents import OK, SIZE, STORY, T0, at, run

Q = 4  # stage-2 partitions
FRAUD_ID = STORY[0].model_id
Report = ClosedReport | ProgressReport


def stage2_reports(results: list[WindowResult], partitions: int = Q) -> list[list[Report]]:
    """What each stage-2 partition q sends, in its order: at each step of the model's
    horizon (one window), the windows of q it completes, then its progress."""
    out: list[list[Report]] = [[] for _ in range(partitions)]
    by_end = {r.span.end_ms: r for r in results}
    ends = sorted(by_end)
    for end in ends:
        r = by_end[end]
        home = zlib.crc32(f"{r.model_id}|{r.span.start_ms}".encode()) % partitions
        out[home].append(ClosedReport(home, ClosedWindow.of(r)))
        for q in range(partitions):
            out[q].append(ProgressReport(q, r.model_id, end))
    return out


def interleave(queues: list[list[Report]], seed: int) -> list[Report]:
    """One order stage 3 may read them in: each q's reports in q's order, the partitions
    mixed at random (they run on different tasks and workers)."""
    rng = random.Random(seed)
    heads = [list(q) for q in queues]
    out = []
    while any(heads):
        q = rng.choice([i for i, h in enumerate(heads) if h])
        out.append(heads[q].pop(0))
    return out


def apply(
    state: ModelLifecycle, report: Report, resolve_after: int = 3
) -> tuple[ModelLifecycle, list[IncidentEvent]]:
    if isinstance(report, ClosedReport):
        return on_closed(state, report.window, Q, resolve_after)
    return on_progress(state, report.source, report.closed_through_ms, Q, resolve_after)


def live(reports: list[Report], resolve_after: int = 3) -> list[dict[str, Any]]:
    state = ModelLifecycle()
    docs = []
    for report in reports:
        state, events = apply(state, report, resolve_after)
        for e in events:
            doc = incident_document(e)
            validate("incident-event", doc)
            docs.append(doc)
    return docs


def test_a_models_windows_closed_on_four_partitions_in_any_order_give_the_offline_lifecycle() -> (
    None
):
    offline = run(STORY)
    assert [d["event"] for d in offline] == ["opened", "updated", "updated", "resolved"]
    queues = stage2_reports(STORY)
    assert sum(1 for q in queues if any(isinstance(r, ClosedReport) for r in q)) > 1
    for seed in range(200):
        assert live(interleave(queues, seed)) == offline, seed


def test_windows_without_events_and_a_small_resolve_after_still_match() -> None:
    # No result for windows 3 and 8 (no events): they are skipped, as offline.
    story = [r for i, r in enumerate(STORY) if i not in (3, 8)]
    queues = stage2_reports(story)
    for resolve_after in (1, 2, 3):
        offline = run(story, resolve_after)
        for seed in range(50):
            assert live(interleave(queues, seed), resolve_after) == offline, (resolve_after, seed)


def test_nothing_is_applied_until_every_stage2_partition_has_passed_the_window() -> None:
    opened_by = at(AMOUNT_SHIFT, 1)
    end = opened_by.span.end_ms
    state, events = on_closed(ModelLifecycle(), ClosedWindow.of(opened_by), Q, 3)
    assert events == [] and list(state.pending) == [opened_by.span.start_ms]
    for q in range(Q - 1):
        state, events = on_progress(state, q, end, Q, 3)
        assert events == []
    assert state.final_through(Q) is None
    # An older or repeated value changes nothing.
    assert on_progress(state, 0, end - SIZE * 1000, Q, 3) == (state, [])
    assert on_progress(state, 0, end, Q, 3) == (state, [])
    state, events = on_progress(state, Q - 1, end, Q, 3)
    assert [(e.event, e.window_id, e.sequence) for e in events] == [
        ("opened", opened_by.window_id, 0)
    ]
    assert state.pending == {} and state.incidents.last_window_start_ms == opened_by.span.start_ms
    with pytest.raises(ValueError, match="stage-2 partition 4"):
        on_progress(state, Q, end, Q, 3)


def test_a_window_closed_again_replaces_the_kept_copy_or_is_dropped_once_applied() -> None:
    first = ClosedWindow.of(at(AMOUNT_SHIFT, 1))
    again = replace(first, emitted_at="2026-11-27T09:00:00.000Z")  # a re-close: new time
    state, _ = on_closed(ModelLifecycle(), first, Q, 3)
    state, _ = on_closed(state, again, Q, 3)
    assert list(state.pending.values()) == [again]
    events: list[IncidentEvent] = []
    for q in range(Q):
        state, out = on_progress(state, q, first.span.end_ms, Q, 3)
        events += out
    assert [e.emitted_at for e in events] == [again.emitted_at]
    assert on_closed(state, first, Q, 3) == (state, [])


def test_a_restart_at_any_point_with_redelivery_gives_the_same_events_once_per_identity() -> None:
    """Stage 3 SIGKILLed after any record: its state is what it saved last (the bytes of
    any earlier point), and the records after that point come again. Every event is the
    one the uninterrupted run gave, and a copy is byte-identical."""
    reports = interleave(stage2_reports(STORY), seed=7)
    whole = live(reports)
    for saved_at in range(len(reports)):
        for killed_at in range(saved_at, min(saved_at + 6, len(reports)) + 1):
            state = ModelLifecycle()
            saved = lifecycle_to_bytes(state)
            sent: dict[tuple[str, int], bytes] = {}
            for i, report in enumerate(reports[:killed_at]):
                state, events = apply(state, report)
                if i == saved_at - 1:
                    saved = lifecycle_to_bytes(state)
                for e in events:
                    sent[(e.incident_id, e.sequence)] = orjson.dumps(incident_document(e))
            restored = lifecycle_from_bytes(saved)
            for report in reports[saved_at:]:
                restored, events = apply(restored, report)
                for e in events:
                    doc = orjson.dumps(incident_document(e))
                    key = (e.incident_id, e.sequence)
                    assert sent.setdefault(key, doc) == doc, (saved_at, killed_at)
            assert [orjson.loads(v) for v in sent.values()] == whole, (saved_at, killed_at)


def test_several_models_keep_separate_states() -> None:
    other = [replace(r, model_id="churn") for r in STORY[:3]]
    assert ClosedWindow.of(other[1]).window_id != ClosedWindow.of(STORY[1]).window_id
    states: dict[str, ModelLifecycle] = {}
    docs = []
    mixed = interleave(stage2_reports(STORY) + stage2_reports(other), seed=3)
    for report in mixed:
        model = report.window.model_id if isinstance(report, ClosedReport) else report.model_id
        state, events = apply(states.get(model, ModelLifecycle()), report)
        states[model] = state
        docs += [incident_document(e) for e in events]
    assert [d for d in docs if d["model_id"] == FRAUD_ID] == run(STORY)
    assert [d for d in docs if d["model_id"] == "churn"] == run(other)


def test_report_and_state_bytes_are_versioned_and_round_trip() -> None:
    window = ClosedWindow.of(at(AMOUNT_SHIFT, 1))
    raw = encode_closed(2, window)
    doc = orjson.loads(raw)
    assert (doc["v"], doc["type"], doc["from"]) == (1, "closed", 2)
    assert doc["window"]["window"]["start_ms"] == T0 + SIZE * 1000
    assert [f["name"] for f in doc["window"]["drifted_features"]] == ["amount"]
    assert decode_report(raw) == ClosedReport(2, window)
    progress = encode_progress(3, FRAUD_ID, T0)
    assert orjson.loads(progress) == {
        "v": 1,
        "type": "progress",
        "from": 3,
        "model_id": FRAUD_ID,
        "closed_through_ms": T0,
    }
    assert decode_report(progress) == ProgressReport(3, FRAUD_ID, T0)
    assert ClosedWindow.of(at(OK, 0)).drifted_features == ()
    state, _ = on_closed(ModelLifecycle(), window, Q, 3)
    state, _ = on_progress(state, 1, T0, Q, 3)
    assert lifecycle_from_bytes(lifecycle_to_bytes(state)) == state
    with pytest.raises(ValueError, match="version 2"):
        decode_report(orjson.dumps({**doc, "v": 2}))
    with pytest.raises(ValueError, match="version 2"):
        lifecycle_from_bytes(orjson.dumps({**orjson.loads(lifecycle_to_bytes(state)), "v": 2}))
