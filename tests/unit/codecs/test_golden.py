"""Golden bytes of every message the pipeline writes: window results, drift events, the
partials topic's messages, a stage-1 snapshot and stage 2's pending state.

The files under ``golden/`` were first written by the code before results, partials and
histograms stayed typed inside a process (commit "Golden bytes ..."), so these tests prove
the typed refactor writes the same bytes and still reads what the old code wrote.
Rewrite them only for a deliberate format change: ``DRIFTLINE_WRITE_GOLDEN=1 pytest ...``.

Deliberate changes so far, each keeping the previous files as "still read" cases:

* per-model progress (issue 9): ``partials_v2``, ``stage1_snapshot_v2``,
  ``stage2_pending_v2`` (the unsuffixed files are format 1);
* histograms that keep unseen category texts (histogram format 2, issue 11):
  ``partials_v3``, ``stage1_snapshot_v3``, ``stage2_pending_v3``; and window results and
  drift events of schema version 2 (histograms, findings): ``window_results.jsonl``,
  ``drift_events.jsonl``, ``analyze.jsonl``, rewritten; the version-1 bytes are kept as
  ``*_v1.jsonl`` for the readers (``driftline tail``, the schemas).
Inside a process nothing is written out: partials carry the binner's histogram objects to
the merger and the closer, and a window result becomes bytes only at the edge.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import NoReturn

import orjson
import pytest

from app.baseline.model import Baseline, CategoricalProfile, FeatureBaseline, NumericProfile
from app.baseline.registry import BaselineRegistry
from app.binning.histogram import HistogramOps, WindowHistogram
from app.codecs.drift_event import encode_drift_event
from app.codecs.partials import ReceivedCounts, encode_output
from app.codecs.partials import decode_output as _decode_output
from app.codecs.stage1_snapshot import restore_snapshot, snapshot_to_bytes
from app.codecs.stage2_state import pending_to_bytes, restore_pending, restore_watermarks
from app.codecs.window_result import encode_window_result
from app.contracts.schemas import validate
from app.pipeline.analyze import AnalyzeOptions, analyze
from app.pipeline.close import WindowCloser
from app.windows.binner import LateEvent, Output, PartitionBinner, WatermarkAdvanced
from app.windows.merger import CompleteWindow, WindowMerger
from app.windows.partial import Partial
from app.windows.spec import WindowSpec
from tests.factories import make_baseline
from tests.unit.windows.fakes import outputs_of

GOLDEN = Path(__file__).parent / "golden"
SPEC = WindowSpec.from_seconds(60, 5)
T0 = 1_795_762_800_000  # 2026-11-27T07:00:00Z
EMITTED_MS = T0 + 3 * 60_000 + 125
SOURCES = 2

NOW_MS = T0 + 10 * 60_000  # the wall clock when events are read and snapshots restored


def _baseline() -> Baseline:
    edges = tuple(float(e) for e in range(11))
    num = NumericProfile(edges, (0,) + (1000,) * 10 + (0,), 100, 10_000, 0.0, 10.0, 5.0, 2.9)
    cat = CategoricalProfile(("DE", "FR", "US"), (5000, 3000, 2000, 0), 0, 10_000)
    pred = NumericProfile((0.0, 0.5, 1.0), (0, 5000, 5000, 0), 0, 10_000, 0.0, 1.0, 0.5, 0.29)
    return make_baseline(
        *[
            FeatureBaseline("age", "numeric", "feature", numeric=num),
            FeatureBaseline("country", "categorical", "feature", categorical=cat),
            FeatureBaseline("income", "numeric", "feature", numeric=num),
            FeatureBaseline("__prediction__", "numeric", "prediction", numeric=pred),
        ],
        model_id="fraud-scorer",
    )


BASELINE = _baseline()


def _registry() -> BaselineRegistry:
    registry = BaselineRegistry()
    registry.add(BASELINE, 0)
    return registry


def _events() -> list[list[tuple[int, dict[str, object], object]]]:
    """Per source partition: (event time, features, prediction); window 0 drifted by
    income's null rate alone, window 1 by its values, window 2 small (insufficient data),
    and one late event."""
    rng = random.Random(8)
    logs: list[list[tuple[int, dict[str, object], object]]] = [[] for _ in range(SOURCES)]
    for i in range(2600):
        w = 0 if i < 1200 else 1 if i < 2500 else 2
        drift = w == 1
        ts = T0 + w * 60_000 + (i * 37) % 60_000
        age = rng.uniform(0, 10) + (3.0 if drift else 0.0)
        countries = (
            ["DE", "DE", "FR", "US", "NL"] if drift else ["DE"] * 5 + ["FR"] * 3 + ["US"] * 2
        )
        features: dict[str, object] = {"age": age, "country": rng.choice(countries)}
        if drift or rng.random() < 0.9:
            features["income"] = rng.uniform(0, 10)
        if rng.random() < 0.01:
            features["new_col"] = None if rng.random() < 0.5 else "x"
        logs[i % SOURCES].append((ts, features, round(rng.random(), 6)))
    logs[0].append((T0 + 1_000, {"age": 1.0}, 0.5))  # later than the allowed lateness
    return logs


def _binner(p: int) -> PartitionBinner:
    return PartitionBinner(p, SPEC, HistogramOps(), _registry().choose)


def _bin(p: int, events: list[tuple[int, dict[str, object], object]]) -> list[Output]:
    b = _binner(p)
    out: list[Output] = []
    for offset, (ts, features, prediction) in enumerate(events):
        out += outputs_of(
            b.on_event(offset, "fraud-scorer", ts, dict(features), prediction, NOW_MS)
        )
    return out + b.on_end()


# -- the API under test (the only part that changes with the codecs' home) ---------------
def decode_output(raw: bytes) -> Output:
    out = _decode_output(raw)
    assert out is not None
    return out


def snapshot(b: PartitionBinner) -> bytes:
    return snapshot_to_bytes(b)


def restore(b: PartitionBinner, raw: bytes) -> None:
    restore_snapshot(b, raw, _registry().by_id, now_ms=NOW_MS)


def pending(m: WindowMerger, key: tuple[str, int]) -> bytes:
    return pending_to_bytes(m, key)


def close(window: CompleteWindow) -> tuple[bytes, bytes | None]:
    result = WindowCloser(_registry(), SPEC, "predictions").close(window, EMITTED_MS)
    alert = result.drift_event()
    return encode_window_result(result), None if alert is None else encode_drift_event(alert)


# -- helpers ---------------------------------------------------------------------------
def _check(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("DRIFTLINE_WRITE_GOLDEN") == "1":
        path.write_bytes(data)
    assert data == path.read_bytes(), name


def _lines(items: list[bytes]) -> bytes:
    return b"".join(item + b"\n" for item in items)


def _merge(runs: list[list[Output]]) -> tuple[list[CompleteWindow], bytes]:
    merger = WindowMerger(SOURCES, SPEC)
    for source in range(SOURCES):  # both carry the model (live: known from interleaving)
        merger.expect(source, "fraud-scorer")
    done: list[CompleteWindow] = []
    state = b""
    for outputs in runs:
        for out in outputs:
            if isinstance(out, Partial):
                merger.on_partial(out)
                if not state:
                    state = pending(merger, (out.model_id, out.window_start_ms))
            elif isinstance(out, WatermarkAdvanced):
                done += merger.on_watermark(out.source_partition, out.model_id, out.closed_upto_ms)
    return done, state


def _documents(windows: list[CompleteWindow]) -> tuple[bytes, bytes]:
    results: list[bytes] = []
    alerts: list[bytes] = []
    for window in windows:
        result, alert = close(window)
        results.append(result)
        if alert is not None:
            alerts.append(alert)
    return _lines(results), _lines(alerts)


# -- tests -----------------------------------------------------------------------------
def test_partials_messages_are_the_golden_bytes() -> None:
    logs = _events()
    lines = [encode_output(o) for p in range(SOURCES) for o in _bin(p, logs[p])]
    _check("partials_v3.jsonl", _lines(lines))


def test_window_results_and_drift_events_are_the_golden_bytes() -> None:
    logs = _events()
    windows, state = _merge([_bin(p, logs[p]) for p in range(SOURCES)])
    # The late event (of the first window) is in no window: it goes to the side output.
    assert [(w.window_start_ms - T0, w.n_events) for w in windows] == [
        (0, 1200),
        (60_000, 1300),
        (120_000, 100),
    ]
    results, alerts = _documents(windows)
    statuses = [orjson.loads(line)["status"] for line in results.splitlines()]
    assert statuses == ["drift", "drift", "insufficient_data"]
    assert alerts.count(b"\n") == 2
    _check("window_results.jsonl", results)
    _check("drift_events.jsonl", alerts)
    _check("stage2_pending_v3.json", state)


def test_golden_partials_messages_merge_into_the_golden_results() -> None:
    """Stage 2 of a live worker: the partials as read from the topic."""
    raw = (GOLDEN / "partials_v3.jsonl").read_bytes().splitlines()
    outputs = [decode_output(line) for line in raw]
    assert [encode_output(o) for o in outputs] == raw
    by_source: list[list[Output]] = [[] for _ in range(SOURCES)]
    for out in outputs:
        source = out.source_partition
        by_source[source].append(out)
    windows, state = _merge(by_source)
    results, alerts = _documents(windows)
    assert results == (GOLDEN / "window_results.jsonl").read_bytes()
    assert alerts == (GOLDEN / "drift_events.jsonl").read_bytes()
    assert state == (GOLDEN / "stage2_pending_v3.json").read_bytes()


def test_partials_messages_of_the_previous_format_still_merge() -> None:
    """partials.jsonl was written before per-model progress (one watermark per partition,
    no model, late events counted in the current window): read as progress of every model
    the source carries, the same windows close with the same counts."""
    raw = (GOLDEN / "partials.jsonl").read_bytes().splitlines()
    outputs = [decode_output(line) for line in raw]
    assert {o.model_id for o in outputs if isinstance(o, WatermarkAdvanced)} == {None}
    merger = WindowMerger(SOURCES, SPEC)
    merger.expect(0, "fraud-scorer")
    merger.expect(1, "fraud-scorer")
    done: list[CompleteWindow] = []
    for source in range(SOURCES):
        for out in outputs:
            if out.source_partition != source:
                continue
            if isinstance(out, Partial):
                merger.on_partial(out)
            elif isinstance(out, WatermarkAdvanced):
                done += merger.on_watermark(source, out.model_id, out.closed_upto_ms)
    assert [(w.window_start_ms - T0, w.n_events) for w in done] == [
        (0, 1200),
        (60_000, 1300),
        (120_000, 100),
    ]


def test_stage2_state_of_the_previous_format_restores() -> None:
    """stage2_pending.json (a pending window's partials, format 1) and progress of format
    1 (one closed-up-to time per source) restore: the window closes when the source that
    had not passed it does."""
    merger = WindowMerger(SOURCES, SPEC)
    restore_watermarks(merger, orjson.dumps({"closed_upto": [T0, None], "applied_offset": 7}))
    restore_pending(merger, (GOLDEN / "stage2_pending.json").read_bytes())
    assert merger.applied_offset == 7
    assert merger.clocks == {"fraud-scorer": {0: T0}}
    [window] = merger.on_watermark(0, "fraud-scorer", T0 + 60_000)
    assert (window.window_start_ms, window.n_events) == (T0, 600)


def test_a_golden_stage1_snapshot_restores_and_continues_identically() -> None:
    events = _events()[0]
    b = _binner(0)
    for offset, (ts, features, prediction) in enumerate(events[:700]):
        b.on_event(offset, "fraud-scorer", ts, dict(features), prediction, NOW_MS)
    assert b.open_windows == 1 and b.closed_upto("fraud-scorer") == T0 + 60_000
    _check("stage1_snapshot_v3.json", snapshot(b))
    restored = _binner(0)
    restore(restored, (GOLDEN / "stage1_snapshot_v3.json").read_bytes())
    assert snapshot(restored) == (GOLDEN / "stage1_snapshot_v3.json").read_bytes()
    rest: list[Output] = []
    for offset, (ts, features, prediction) in enumerate(events):
        if not restored.already_applied(offset):
            rest += outputs_of(
                restored.on_event(offset, "fraud-scorer", ts, dict(features), prediction, NOW_MS)
            )
    rest += restored.on_end()
    uninterrupted = _bin(0, events)
    tail = uninterrupted[len(uninterrupted) - len(rest) :]
    assert [encode_output(o) for o in rest] == [encode_output(o) for o in tail]


def test_analyze_writes_the_golden_bytes(tmp_path: Path) -> None:
    """``driftline analyze`` over the same events in one file (no Kafka offsets)."""
    logs = _events()
    lines = [
        orjson.dumps({"model_id": "fraud-scorer", "timestamp": ts, "features": f, "prediction": p})
        for i in range(max(map(len, logs)))
        for log in logs
        if i < len(log)
        for ts, f, p in [log[i]]
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(_lines(lines))
    analysis = analyze(path, BASELINE, AnalyzeOptions(SPEC, emitted_at_ms=EMITTED_MS))
    assert [d.kind for d in analysis.documents] == [
        "window_result",
        "drift_event",
        "incident",
        "window_result",
        "drift_event",
        "incident",
        "window_result",
    ]
    # The incident event is new beside these bytes (app.pipeline.incidents; its own tests
    # hold its exact documents): the golden file keeps the messages that were there.
    kept = [d.data for d in analysis.documents if d.kind != "incident"]
    _check("analyze.jsonl", _lines(kept))


def test_in_process_paths_hand_histograms_on_as_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Binner to merger to closer in one process (analyze, replay with one process): the
    binner's histograms are merged as they are, never written out and parsed back."""

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("a histogram was serialised inside the process")

    logs = _events()
    runs = [_bin(p, logs[p]) for p in range(SOURCES)]
    partials = [o for run in runs for o in run if isinstance(o, Partial)]
    assert partials and all(isinstance(p.hist, WindowHistogram) for p in partials)
    # Closed partials hold counts only, no batched events (kept until the end by replay).
    assert not any(p.hist._pending for p in partials if isinstance(p.hist, WindowHistogram))
    monkeypatch.setattr(WindowHistogram, "to_dict", refuse)
    monkeypatch.setattr(WindowHistogram, "from_dict", refuse)
    windows, _ = _merge_only(runs)
    results = [WindowCloser(_registry(), SPEC, "predictions").close(w, EMITTED_MS) for w in windows]
    assert [r.status for r in results] == ["drift", "drift", "insufficient_data"]
    monkeypatch.undo()
    assert (
        _lines([encode_window_result(r) for r in results])
        == (GOLDEN / "window_results.jsonl").read_bytes()
    )


def test_counts_read_from_kafka_are_checked_against_the_windows_baseline() -> None:
    """A partial read back carries its counts as received; closing the window decodes
    them against the baseline it names, and refuses counts that do not fit it."""
    line = next(x for x in (GOLDEN / "partials_v3.jsonl").read_bytes().splitlines() if b"hist" in x)
    first = decode_output(line)
    assert isinstance(first, Partial) and isinstance(first.hist, ReceivedCounts)
    result = WindowCloser(_registry(), SPEC, "predictions").close(
        CompleteWindow(first.model_id, first.window_start_ms, (first,)), EMITTED_MS
    )
    assert result.n_events == first.n_events == 600
    doc = orjson.loads(line)
    doc["hist"]["features"]["age"] = doc["hist"]["features"]["age"][:-1]
    broken = decode_output(orjson.dumps(doc))
    assert isinstance(broken, Partial)
    window = CompleteWindow(broken.model_id, broken.window_start_ms, (broken,))
    with pytest.raises(ValueError, match="feature 'age': expected 15 counts"):
        WindowCloser(_registry(), SPEC, "predictions").close(window, EMITTED_MS)


def _merge_only(runs: list[list[Output]]) -> tuple[list[CompleteWindow], None]:
    merger = WindowMerger(SOURCES, SPEC)
    for source in range(SOURCES):  # both carry the model (live: known from interleaving)
        merger.expect(source, "fraud-scorer")
    done: list[CompleteWindow] = []
    for outputs in runs:
        for out in outputs:
            if isinstance(out, Partial):
                merger.on_partial(out)
            elif isinstance(out, WatermarkAdvanced):
                done += merger.on_watermark(out.source_partition, out.model_id, out.closed_upto_ms)
    return done, None


def test_a_stage1_snapshot_of_the_previous_format_restores_and_continues() -> None:
    """stage1_snapshot.json was written before per-model clocks (one watermark for the
    partition): it restores with that watermark as every model's floor, and continuing
    from it gives the outputs of an uninterrupted run (progress now per model), but for
    the unseen category texts the snapshot's histogram format 1 did not keep: the open
    window's count of "NL" holds only the values binned after the restore, while its
    unseen count is exact (a result then says its unseen values are not complete)."""
    events = _events()[0]
    restored = _binner(0)
    restore(restored, (GOLDEN / "stage1_snapshot.json").read_bytes())
    assert (restored.applied_offset, restored.floor_ms, restored.open_windows) == (
        699,
        T0 + 60_000,
        1,
    )
    assert restored.clocks() == {"fraud-scorer": 1795762911726}
    rest: list[Output] = []
    for offset, (ts, features, prediction) in enumerate(events):
        if not restored.already_applied(offset):
            rest += outputs_of(
                restored.on_event(offset, "fraud-scorer", ts, dict(features), prediction, NOW_MS)
            )
    rest += restored.on_end()
    uninterrupted = _bin(0, events)
    tail = uninterrupted[len(uninterrupted) - len(rest) :]
    before = sum(1 for _, f, _ in events[:700] if f["country"] == "NL")
    assert before == 20
    texts = [_without_texts(o) for o in tail]
    assert [_without_texts(o)[1] for o in rest] == [t[1] for t in texts]
    assert [_without_texts(o)[0] for o in rest] == [
        {"country": {"NL": t["country"]["NL"] - before}} if t else t for t, _ in texts
    ]


def _without_texts(out: Output) -> tuple[dict[str, dict[str, int]], bytes]:
    """An output's unseen texts, and its bytes without them."""
    doc = orjson.loads(encode_output(out))
    texts = doc.get("hist", {}).pop("unseen_values", {})
    return texts, orjson.dumps(doc)


def test_a_clock_beyond_the_future_bound_is_repaired_on_restore(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A snapshot of the previous format whose watermark a 2099 event dragged ahead: on
    restore the clock comes back to the wall clock, with a warning that says so, and the
    partition counts its events again."""
    doc = orjson.loads((GOLDEN / "stage1_snapshot.json").read_bytes())
    doc["max_ts_ms"] = 4_102_358_400_000  # 2099-12-31
    doc["closed_upto_ms"] = 4_102_358_340_000
    restored = _binner(0)
    with caplog.at_level("WARNING"):
        restore(restored, orjson.dumps(doc))
    assert restored.clocks() == {"fraud-scorer": NOW_MS}
    assert restored.floor_ms == NOW_MS - 60_000
    assert restored.closed_upto("fraud-scorer") == NOW_MS - 60_000
    assert [r.getMessage() for r in caplog.records] == [
        "stage 1 partition 0: model 'fraud-scorer''s event time 2099-12-31T00:00:00Z was more "
        "than 300 s ahead of the wall clock (2026-11-27T07:10:00Z), from an event the future "
        "bound now rejects; repaired to the wall clock",
        "stage 1 partition 0: its watermark 2099-12-30T23:59:00Z was ahead of the wall clock "
        "(2026-11-27T07:10:00Z) by more than 300 s; repaired to the wall clock minus the "
        "allowed lateness",
    ]
    out = restored.on_event(700, "fraud-scorer", NOW_MS + 1_000, {"age": 1.0}, 0.5, NOW_MS)
    assert not isinstance(out, LateEvent)


def test_partials_of_histogram_format_1_merge_into_the_results_without_unseen_texts() -> None:
    """partials_v2.jsonl (histogram format 1: no unseen texts) from a worker of the previous
    version: the same windows close with the same counts and decisions; only the names of
    the unseen values are unknown, and the result and the alert say so."""
    raw = (GOLDEN / "partials_v2.jsonl").read_bytes().splitlines()
    by_source: list[list[Output]] = [[] for _ in range(SOURCES)]
    for line in raw:
        out = decode_output(line)
        by_source[out.source_partition].append(out)
    windows, _ = _merge(by_source)
    results, alerts = _documents(windows)
    expected = [
        orjson.loads(x) for x in (GOLDEN / "window_results.jsonl").read_bytes().splitlines()
    ]
    got = [orjson.loads(x) for x in results.splitlines()]
    country = expected[1]["features"][2]["histogram"]
    assert (country["unseen"], country["unseen_values"]) == (245, [{"value": "NL", "count": 245}])
    country.update(unseen_values=[], unseen_values_complete=False)
    assert got == expected
    [_, second] = [orjson.loads(x) for x in alerts.splitlines()]
    [unseen] = [f for f in second["drifted_features"] if f["name"] == "country"]
    assert unseen["summary"] == "country: 19% of values are categories never seen in training"
    assert (unseen["findings"][0]["values"], unseen["findings"][0]["values_complete"]) == (
        [],
        False,
    )


def test_stage2_state_of_histogram_format_1_restores() -> None:
    merger = WindowMerger(SOURCES, SPEC)
    for source in range(SOURCES):
        merger.expect(source, "fraud-scorer")
    restore_pending(merger, (GOLDEN / "stage2_pending_v2.json").read_bytes())
    merger.on_watermark(1, "fraud-scorer", T0 + 60_000)
    [window] = merger.on_watermark(0, "fraud-scorer", T0 + 60_000)
    assert (window.window_start_ms, window.n_events) == (T0, 600)


@pytest.mark.parametrize("suffix", ["", "_v1"])
def test_golden_results_and_alerts_validate_against_the_schemas(suffix: str) -> None:
    """Version-2 documents, and the version-1 ones an older worker left on a topic."""
    for name, schema in (("window_results", "window-result"), ("drift_events", "drift-event")):
        for line in (GOLDEN / f"{name}{suffix}.jsonl").read_bytes().splitlines():
            doc = orjson.loads(line)
            assert doc["schema_version"] == (1 if suffix else 2)
            validate(schema, doc)
