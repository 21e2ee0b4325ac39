"""``driftline analyze``: a file through the stream's windows (binner, merger, closer) with no
broker, against a baseline built by the real builder from the simulator's training data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from app.baseline.model import Baseline
from app.cli import cli
from app.contracts import PREDICTION_FEATURE
from app.contracts.decode import parse_rfc3339_ms
from app.contracts.schemas import validate
from app.demo.traffic import Drift, events, write_training_csv
from app.errors import InputError
from app.pipeline.analyze import AnalysisSummary, AnalyzeOptions, analyze, iter_analysis
from app.windows.spec import WindowSpec
from tests.factories import TrainBaseline, write_csv_records, write_jsonl

MODEL = "fraud-scorer"
PREDICTION = "fraud_probability"
BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
WINDOW_S = 60
LATENESS_S = 5
SPEC = WindowSpec.from_seconds(WINDOW_S, LATENESS_S)
WINDOWS = 4
PER_WINDOW = 2000
DRIFT_WINDOW = 2
PLANTED = {"amount", "country", "is_new_device"}
EMITTED = "2026-11-27T08:00:00Z"
EMITTED_MS = parse_rfc3339_ms(EMITTED)
OPTIONS = AnalyzeOptions(SPEC, emitted_at_ms=EMITTED_MS)


def window_start(i: int) -> int:
    return BASE_MS + i * WINDOW_S * 1000


def scenario() -> list[dict[str, Any]]:
    """WINDOWS full windows of PER_WINDOW events in time order, drift in DRIFT_WINDOW."""
    drift = Drift(start_ms=window_start(DRIFT_WINDOW), end_ms=window_start(DRIFT_WINDOW + 1))
    spacing = WINDOW_S * 1000 / PER_WINDOW
    return list(events(MODEL, BASE_MS, WINDOWS * PER_WINDOW, spacing, seed=3, drift=drift))


def ts_ms(event: dict[str, Any]) -> int:
    ts = event["timestamp"]
    if isinstance(ts, int):
        return ts
    ms = parse_rfc3339_ms(ts)
    assert ms is not None, ts
    return ms


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, train_baseline: TrainBaseline
) -> tuple[Baseline, Path]:
    train = write_training_csv(tmp_path_factory.mktemp("analyze") / "train.csv", 20_000)
    return train_baseline(train, MODEL, PREDICTION)


@pytest.fixture(scope="module")
def scenario_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("events") / "events.jsonl", list(scenario()))


def results_of(docs: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == "window_result"]


def test_exact_window_counts_and_one_alert_exactly_for_the_drifted_window(
    trained: tuple[Baseline, Path], scenario_jsonl: Path
) -> None:
    baseline, _ = trained
    analysis = analyze(scenario_jsonl, baseline, OPTIONS)
    docs = [d.document for d in analysis.documents]
    # Close order: each window result, followed at once by its drift event when it drifted
    # and by the incident event its close gave (the drift opens one; two ok windows after
    # it do not resolve it).
    assert [d["kind"] for d in docs] == [
        "window_result",
        "window_result",
        "window_result",
        "drift_event",
        "incident",
        "window_result",
    ]
    results = results_of(docs)
    assert [r["window"]["start_ms"] for r in results] == [window_start(i) for i in range(4)]
    for i, r in enumerate(results):
        validate("window-result", r)
        assert (r["model_id"], r["baseline_id"]) == (MODEL, baseline.baseline_id)
        assert r["window"]["size_seconds"] == WINDOW_S
        assert (r["n_events"], r["late_events"], r["partial"]) == (PER_WINDOW, 0, False)
        assert r["source_offsets"] == []
        assert r["emitted_at"] == EMITTED
        assert r["status"] == ("drift" if i == DRIFT_WINDOW else "ok"), r["dataset"]
    assert len({r["window_id"] for r in results}) == WINDOWS
    alert = docs[3]
    validate("drift-event", alert)
    assert alert["window_id"] == results[DRIFT_WINDOW]["window_id"]
    drifted = {f["name"] for f in alert["drifted_features"]}
    assert drifted - {PREDICTION_FEATURE} == PLANTED
    assert [d.data for d in analysis.documents] == [orjson.dumps(d) for d in docs]
    opened = docs[4]
    validate("incident-event", opened)
    assert (opened["event"], opened["window_id"], opened["opened_window_id"]) == (
        "opened",
        alert["window_id"],
        alert["window_id"],
    )

    s = analysis.summary
    assert (s.records, s.events, s.late_events, s.windows, s.alerts) == (8000, 8000, 0, 4, 1)
    assert (s.n_invalid, s.n_skipped) == (0, 0)
    assert s.statuses == {"ok": 3, "drift": 1}
    assert (s.first_event_ms, s.last_event_ms) == (BASE_MS, window_start(4) - 30)


def test_the_last_window_is_closed_by_the_end_of_input_and_gaps_give_no_window(
    trained: tuple[Baseline, Path], tmp_path: Path
) -> None:
    baseline, _ = trained
    evs = scenario()
    # Windows 0 and 3 only; the watermark never passes window 3's end before the input ends.
    kept = [e for e in evs if not window_start(1) <= ts_ms(e) < window_start(3)]
    analysis = analyze(write_jsonl(tmp_path / "gap.jsonl", kept), baseline, OPTIONS)
    results = results_of(d.document for d in analysis.documents)
    assert [(r["window"]["start_ms"], r["n_events"]) for r in results] == [
        (window_start(0), PER_WINDOW),
        (window_start(3), PER_WINDOW),
    ]


def test_late_events_are_counted_apart_and_added_to_no_window(
    trained: tuple[Baseline, Path], tmp_path: Path
) -> None:
    baseline, _ = trained
    evs = scenario()
    template = dict(evs[0])

    def at(ms: int, i: int) -> dict[str, Any]:
        return {**template, "event_id": f"extra-{i}", "timestamp": ms}

    # Insert after the first event at or past window 1 start + 3 s: within the 5 s lateness
    # for window 0, so an event of window 0 is still added to it.
    cut1 = next(i for i, e in enumerate(evs) if ts_ms(e) >= window_start(1) + 3000)
    # After window 2 start + 10 s, window 0 and 1 are closed: events for them are late.
    cut2 = next(i for i, e in enumerate(evs) if ts_ms(e) >= window_start(2) + 10_000)
    lines: list[dict[str, Any]] = [
        *evs[:cut1],
        at(window_start(1) - 1, 0),  # in time (watermark = w1 + 3 s - 5 s < w1)
        *evs[cut1:cut2],
        at(window_start(0) + 5, 1),  # late: window 0 closed
        at(window_start(1) + 7, 2),  # late: window 1 closed
        at(window_start(2) - 1, 3),  # late by exactly the lateness + 9 s
        *evs[cut2:],
    ]
    analysis = analyze(write_jsonl(tmp_path / "late.jsonl", lines), baseline, OPTIONS)
    results = results_of(d.document for d in analysis.documents)
    counts = [(r["n_events"], r["late_events"]) for r in results]
    # One source: a window closes when its events turn late, so no result counts them
    # (late_events counts late events of its own window only); the summary does.
    assert counts == [(PER_WINDOW + 1, 0), (PER_WINDOW, 0), (PER_WINDOW, 0), (PER_WINDOW, 0)]
    s = analysis.summary
    assert (s.events, s.late_events, s.windows) == (8004, 3, 4)


def test_invalid_lines_are_reported_with_line_numbers_and_counted_by_reason(
    trained: tuple[Baseline, Path], tmp_path: Path
) -> None:
    baseline, path = trained
    evs = scenario()[:500]
    good = evs[0]
    no_ts = {k: v for k, v in good.items() if k != "timestamp"}
    lines: list[dict[str, Any] | bytes] = [
        *evs[:100],
        b"{not json",  # line 101
        no_ts,  # line 102
        b"",  # line 103: blank, skipped and not counted
        {**good, "timestamp": "1999-12-31T23:59:59Z"},  # line 104
        {**good, "model_id": "other-model"},  # line 105: valid, another model
        {**good, "features": {**good["features"], "amount": [1]}},  # line 106
        b"[1, 2]",  # line 107
        *evs[100:],
    ]
    file = write_jsonl(tmp_path / "mixed.jsonl", lines)
    seen: list[tuple[int, str, str]] = []
    analysis = analyze(
        file, baseline, OPTIONS, on_invalid=lambda ln, reason, msg: seen.append((ln, reason, msg))
    )
    assert [(ln, reason) for ln, reason, _ in seen] == [
        (101, "invalid_json"),
        (102, "schema_violation"),
        (104, "timestamp_out_of_bounds"),
        (106, "schema_violation"),
        (107, "invalid_json"),
    ]
    assert "$.timestamp: required field is missing" in seen[1][2]
    assert "$.features.amount" in seen[3][2]
    s = analysis.summary
    assert s.records == 506 and s.events == 500
    assert s.invalid == {"invalid_json": 2, "schema_violation": 2, "timestamp_out_of_bounds": 1}
    assert s.skipped == {"other-model": 1}
    assert sum(r["n_events"] for r in results_of(d.document for d in analysis.documents)) == 500

    run = CliRunner().invoke(
        cli,
        ["analyze", "--input", str(file), "--baseline", str(path), "--no-progress",
         "--window-seconds", str(WINDOW_S), "--emitted-at", EMITTED],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    err = run.stderr.splitlines()
    assert err[0].startswith(f"{file}, line 101: invalid_json: ")
    assert err[2].startswith(f"{file}, line 104: timestamp_out_of_bounds: $.timestamp")
    assert len(err) == 6
    assert err[5].startswith("analyze: 506 records, 500 events in 1 window (1 ")
    assert "5 invalid (invalid_json 2, schema_violation 2, timestamp_out_of_bounds 1)" in err[5]
    assert "1 skipped (other models: other-model 1)" in err[5]


def _flat_rows(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"timestamp": e["timestamp"], **e["features"], PREDICTION: e["prediction"], "id": str(i)}
        for i, e in enumerate(evs)
    ]


def test_csv_and_parquet_records_give_the_jsonl_events_window_results(
    trained: tuple[Baseline, Path], scenario_jsonl: Path, tmp_path: Path
) -> None:
    baseline, _ = trained
    evs = scenario()
    rows = _flat_rows(evs)  # timestamps as in the events: epoch ms and RFC 3339 text
    csv_file = write_csv_records(tmp_path / "events.csv", rows)
    table = pa.Table.from_pylist(
        [{**r, "timestamp": ts_ms(e)} for r, e in zip(rows, evs, strict=True)]
    )
    ts_type = pa.timestamp("ms", tz="UTC")
    table = table.set_column(0, "timestamp", table.column("timestamp").cast(ts_type))
    pq_file = tmp_path / "events.parquet"
    pq.write_table(table, pq_file)

    expected = [d.data for d in analyze(scenario_jsonl, baseline, OPTIONS).documents]
    flat = AnalyzeOptions(
        SPEC,
        emitted_at_ms=EMITTED_MS,
        prediction_column=PREDICTION,
        exclude=frozenset({"id"}),
    )
    for file in (csv_file, pq_file):
        analysis = analyze(file, baseline, flat)
        assert [d.data for d in analysis.documents] == expected, file.name
        assert analysis.summary.events == WINDOWS * PER_WINDOW

    # Without --exclude the id column is a feature the baseline never saw: reported.
    extra = analyze(csv_file, baseline, AnalyzeOptions(**{**flat.__dict__, "exclude": frozenset()}))
    first = extra.documents[0].document
    assert first["contract"]["unknown"] == ["id"] and first["n_events"] == PER_WINDOW


def test_flat_records_with_bad_timestamps_are_reported_at_their_exact_lines(
    trained: tuple[Baseline, Path], tmp_path: Path
) -> None:
    baseline, _ = trained
    rows = _flat_rows(scenario()[:50])
    rows[3]["merchant_category"] = "two\nlines"  # a quoted line break: line 5 spans 5-6
    rows[10]["timestamp"] = None  # line 13
    rows[20]["timestamp"] = "yesterday"  # line 23
    rows[30]["timestamp"] = "4102444800001"  # line 33: one ms past 2100-01-01
    rows[40]["timestamp"] = "2099-12-31T00:00:00Z"  # line 43: valid, but decades ahead
    file = write_csv_records(tmp_path / "bad.csv", rows)
    seen: list[tuple[int, str]] = []
    options = AnalyzeOptions(SPEC, prediction_column=PREDICTION, exclude=frozenset({"id"}))
    analysis = analyze(file, baseline, options, on_invalid=lambda ln, r, _: seen.append((ln, r)))
    assert seen == [
        (13, "schema_violation"),
        (23, "schema_violation"),
        (33, "timestamp_out_of_bounds"),
        (43, "timestamp_in_future"),
    ]
    assert analysis.summary.invalid == {
        "schema_violation": 2,
        "timestamp_out_of_bounds": 1,
        "timestamp_in_future": 1,
    }
    assert analysis.summary.events == 46


def test_jsonl_events_ahead_of_the_future_bound_are_reported_only_for_the_analysed_model(
    trained: tuple[Baseline, Path], tmp_path: Path
) -> None:
    baseline, _ = trained
    evs = scenario()[:20]
    ahead = "2099-12-31T00:00:00Z"
    evs[5] = {**evs[5], "timestamp": ahead}  # line 6: this model, rejected as live does
    evs[6] = {**evs[6], "model_id": "other", "timestamp": ahead}  # another model: skipped
    file = write_jsonl(tmp_path / "ahead.jsonl", evs)
    seen: list[tuple[int, str, str]] = []
    analysis = analyze(file, baseline, OPTIONS, on_invalid=lambda ln, r, m: seen.append((ln, r, m)))
    assert [(ln, r) for ln, r, _ in seen] == [(6, "timestamp_in_future")]
    assert "2099-12-31T00:00:00Z is " in seen[0][2] and "DRIFTLINE_MAX_FUTURE_SECONDS" in seen[0][2]
    s = analysis.summary
    assert (s.events, s.skipped, s.invalid) == (18, {"other": 1}, {"timestamp_in_future": 1})
    [result] = results_of(d.document for d in analysis.documents)
    assert result["n_events"] == 18


def test_records_of_another_model_are_skipped_and_counted(
    trained: tuple[Baseline, Path], tmp_path: Path
) -> None:
    baseline, _ = trained
    file = write_csv_records(tmp_path / "r.csv", _flat_rows(scenario()[:10]))
    options = AnalyzeOptions(SPEC, model_id="someone-else")
    analysis = analyze(file, baseline, options)
    assert analysis.documents == []
    assert (analysis.summary.events, analysis.summary.skipped) == (0, {"someone-else": 10})


def test_user_mistakes_raise_input_errors(trained: tuple[Baseline, Path], tmp_path: Path) -> None:
    baseline, _ = trained
    csv_file = write_csv_records(tmp_path / "r.csv", _flat_rows(scenario()[:10]))
    jsonl = write_jsonl(tmp_path / "e.jsonl", scenario()[:10])
    plain = AnalyzeOptions(SPEC)
    mistakes = [
        (csv_file, replace(plain, timestamp_column="ts"), "no timestamp column 'ts'"),
        (csv_file, replace(plain, prediction_column="score"), "prediction column not found"),
        (
            jsonl,
            replace(plain, timestamp_column="ts"),
            "--timestamp-column: only for CSV and Parquet",
        ),
        (tmp_path / "missing.jsonl", plain, "no such file"),
        (tmp_path / "data.txt", plain, "cannot tell the format"),
    ]
    for file, options, message in mistakes:
        with pytest.raises(InputError, match=message):
            analyze(file, baseline, options)


def test_cli_output_is_byte_identical_with_emitted_at_and_windows_default_to_settings(
    trained: tuple[Baseline, Path], scenario_jsonl: Path, tmp_path: Path
) -> None:
    baseline, path = trained
    args = ["analyze", "--input", str(scenario_jsonl), "--baseline", str(path), "--no-progress"]
    env = {
        "DRIFTLINE_WINDOW_SECONDS": str(WINDOW_S),
        "DRIFTLINE_ALLOWED_LATENESS_SECONDS": str(LATENESS_S),
    }
    runner = CliRunner(env=env)
    one = runner.invoke(cli, [*args, "--emitted-at", EMITTED])
    two = runner.invoke(cli, [*args, "--emitted-at", EMITTED])
    assert one.exit_code == 0 and two.exit_code == 0, one.output
    assert one.stdout_bytes == two.stdout_bytes
    expected = b"".join(
        d.data + b"\n" for d in analyze(scenario_jsonl, baseline, OPTIONS).documents
    )
    assert one.stdout_bytes == expected
    assert one.stderr.startswith(
        "analyze: 8,000 records, 8,000 events in 4 windows (1 drift, 3 ok)"
    )

    out = tmp_path / "out.jsonl"
    three = runner.invoke(cli, [*args, "--emitted-at", EMITTED, "--out", str(out)])
    assert three.exit_code == 0 and three.stdout_bytes == b""
    assert out.read_bytes() == expected
    assert three.stderr.rstrip().endswith(f"-> {out}")

    # Flags beat the environment; without --emitted-at only emitted_at differs.
    wall = runner.invoke(cli, [*args, "--window-seconds", "120"])
    docs = [orjson.loads(line) for line in wall.stdout_bytes.splitlines()]
    assert [d["window"]["size_seconds"] for d in docs if d["kind"] == "window_result"] == [120] * 2
    assert all(d["emitted_at"] != EMITTED for d in docs)

    bad = runner.invoke(cli, [*args, "--emitted-at", "yesterday"])
    assert bad.exit_code == 2 and "--emitted-at" in bad.stderr


def test_iter_analysis_streams_documents_as_windows_close(
    trained: tuple[Baseline, Path], scenario_jsonl: Path
) -> None:
    baseline, _ = trained
    summary = AnalysisSummary()
    stream = iter_analysis(scenario_jsonl, baseline, OPTIONS, summary)
    first = next(stream)
    # Window 0 is out before the file is read through: only what the watermark allowed.
    assert first.document["window"]["start_ms"] == window_start(0)
    assert summary.events < WINDOWS * PER_WINDOW and summary.windows == 1
    rest = list(stream)
    # Windows 1..3 and the drift event and incident opened by window 2.
    assert len(rest) == 5 and summary.windows == 4 and summary.seconds > 0


def test_a_drift_lasting_several_windows_is_one_incident_opened_then_resolved(
    trained: tuple[Baseline, Path], tmp_path: Path
) -> None:
    """Drift planted in windows 1 to 3 of 8: one incident, opened by window 1, resolved by
    the third ok window after it (window 6) with DRIFTLINE_RESOLVE_AFTER_WINDOWS at 3."""
    baseline, _ = trained
    drift = Drift(start_ms=window_start(1), end_ms=window_start(4))
    spacing = WINDOW_S * 1000 / PER_WINDOW
    evs = list(events(MODEL, BASE_MS, 8 * PER_WINDOW, spacing, seed=3, drift=drift))
    path = write_jsonl(tmp_path / "events.jsonl", evs)
    docs = [d.document for d in analyze(path, baseline, OPTIONS).documents]
    results = results_of(docs)
    assert [r["status"] for r in results] == ["ok", *["drift"] * 3, *["ok"] * 4]
    incidents = [d for d in docs if d["kind"] == "incident"]
    for d in incidents:
        validate("incident-event", d)
    events_ = [d["event"] for d in incidents]
    assert events_[0] == "opened" and events_[-1] == "resolved"
    assert set(events_[1:-1]) <= {"updated"} and len(events_) <= 4
    assert [d["sequence"] for d in incidents] == list(range(len(incidents)))
    assert {d["incident_id"] for d in incidents} == {incidents[0]["incident_id"]}
    assert incidents[0]["window_id"] == results[1]["window_id"]
    assert incidents[-1]["window_id"] == results[6]["window_id"]
    assert incidents[-1]["last_drift_window_id"] == results[3]["window_id"]
    assert incidents[-1]["drifted_windows"] == 3
    # Each lifecycle event follows the window result (and drift event) whose close gave it.
    for d in incidents:
        before = docs[: docs.index(d)]
        assert results_of(before)[-1]["window_id"] == d["window_id"]
    # A larger setting leaves it open at the end of the file.
    longer = replace(OPTIONS, resolve_after=5)
    again = [d.document for d in analyze(path, baseline, longer).documents]
    assert [d["event"] for d in again if d["kind"] == "incident"] == events_[:-1]
