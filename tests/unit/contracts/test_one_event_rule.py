"""One event, every input path, one verdict.

The same prediction event given as a Kafka message (``decode_event``), as a JSONL line to
``driftline analyze``, ``driftline evaluate`` and ``driftline baseline build``, and as a flat
CSV or Parquet record to ``driftline analyze``: every path accepts or rejects it alike, reads
the same epoch milliseconds, and gives the same dead-letter reason. The stream's decoder is
the contract (``schemas/prediction-event.schema.json``); a flat file adds one form, epoch
milliseconds written as digits, because a CSV cell cannot be anything but text.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Final

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from app.baseline.build import BuildOptions, build_baseline
from app.cli import cli
from app.contracts import DeadLetterReason, DecodeError, decode_event
from app.files.readers import TIMESTAMP_COLUMN, iter_records
from app.pipeline.analyze import AnalyzeOptions, analyze
from app.pipeline.evaluate import evaluate_file
from app.windows.spec import WindowSpec
from tests.factories import make_baseline, write_csv, write_jsonl

MS: Final = 1_795_762_801_250  # 2026-11-27T07:00:01.250Z
SECOND: Final = 1_795_762_801_000  # 2026-11-27T07:00:01Z
MIN_MS: Final = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_MS: Final = 4_102_444_800_000  # 2100-01-01T00:00:00Z
EMITTED: Final = "2026-11-27T08:00:00Z"
BASELINE: Final = make_baseline()  # model "m", numeric feature x
# The event rule is about the bytes; the future bound (relative to the wall clock, applied
# after it) would turn the 2100 bound into timestamp_in_future, so it is lifted here.
# tests/unit/pipeline/test_event_time.py tests that bound.
OPTIONS: Final = AnalyzeOptions(
    WindowSpec.from_seconds(60, 5, max_future_s=200 * 365 * 86_400), emitted_at_ms=0
)
ANCHOR: Final = {"model_id": "m", "timestamp": MS, "features": {"x": 0.5}, "prediction": 1.0}
MISSING: Final = object()

Verdict = int | DeadLetterReason  # epoch ms when accepted, else the dead-letter reason

# (id, the JSON "timestamp" value, the stream's verdict)
JSON_CASES: Final[list[tuple[str, object, Verdict]]] = [
    ("text-fraction", "2026-11-27T07:00:01.250Z", MS),
    ("text-no-fraction", "2026-11-27T07:00:01Z", SECOND),
    ("text-microseconds-truncated", "2026-11-27T07:00:01.250999Z", MS),
    ("text-plus-offset", "2026-11-27T08:00:01.250+01:00", MS),
    ("text-minus-offset", "2026-11-27T02:00:01-05:00", SECOND),
    ("text-space-separator", "2026-11-27 07:00:01Z", "schema_violation"),
    ("text-no-offset", "2026-11-27T07:00:01", "schema_violation"),
    ("text-garbage", "yesterday", "schema_violation"),
    ("text-digits", str(MS), "schema_violation"),
    ("epoch-ms-int", MS, MS),
    ("epoch-ms-integral-float", float(MS), MS),
    ("epoch-ms-exponent-float", 1.7e12, 1_700_000_000_000),
    ("epoch-ms-non-integral-float", MS + 0.5, "schema_violation"),
    ("epoch-ms-negative", -1, "schema_violation"),
    ("lower-bound-inclusive", MIN_MS, MIN_MS),
    ("upper-bound-inclusive", MAX_MS, MAX_MS),
    ("before-2000-int", MIN_MS - 1, "timestamp_out_of_bounds"),
    ("after-2100-int", MAX_MS + 1, "timestamp_out_of_bounds"),
    ("before-2000-text", "1999-12-31T23:59:59.999Z", "timestamp_out_of_bounds"),
    ("after-2100-text", "2100-01-01T00:00:00.001Z", "timestamp_out_of_bounds"),
    ("zero", 0, "timestamp_out_of_bounds"),
    ("bool", True, "schema_violation"),
    ("null", None, "schema_violation"),
    ("missing", MISSING, "schema_violation"),
]


def _event(ts: object) -> dict[str, object]:
    event: dict[str, object] = {"model_id": "m", "features": {"x": 0.5}, "prediction": 1.0}
    if ts is not MISSING:
        event["timestamp"] = ts
    return event


def _stream(ts: object) -> Verdict:
    try:
        return decode_event(orjson.dumps(_event(ts))).timestamp_ms
    except DecodeError as err:
        return err.reason


def _analyze(path: Path) -> Verdict:
    summary = analyze(path, BASELINE, OPTIONS).summary
    if summary.events:
        assert (summary.events, summary.n_invalid) == (1, 0)
        assert summary.first_event_ms is not None
        return summary.first_event_ms
    ((reason, n),) = summary.invalid.items()
    assert n == 1
    return reason  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("ts", "verdict"), [c[1:] for c in JSON_CASES], ids=[c[0] for c in JSON_CASES]
)
def test_a_json_event_gets_one_verdict_on_every_path(
    tmp_path: Path, ts: object, verdict: Verdict
) -> None:
    assert _stream(ts) == verdict  # the contract
    one = write_jsonl(tmp_path / "one.jsonl", [_event(ts)])
    assert _analyze(one) == verdict

    # evaluate: the file is one window from the event's second; a rejected event is left out
    # and reported with its line and reason.
    result = evaluate_file(BASELINE, one, emitted_at=EMITTED)
    if isinstance(verdict, int):
        assert result.rejected == ()
        assert result.document["n_events"] == 1
        assert result.document["window"]["start_ms"] == verdict - verdict % 1000
        assert [r[TIMESTAMP_COLUMN] for _, r in iter_records(one)] == [verdict]
    else:
        assert result.document["n_events"] == 0
        assert [(r.line, r.reason) for r in result.rejected] == [(1, verdict)]

    # baseline build: after a valid first line, the event is a row or a rejected line 2.
    two = write_jsonl(tmp_path / "two.jsonl", [ANCHOR, _event(ts)])
    built = build_baseline(two, BuildOptions(model_id="m"))
    if isinstance(verdict, int):
        assert (built.rows, built.rejected) == (2, ())
    else:
        assert built.rows == 1
        assert [(r.line, r.reason) for r in built.rejected] == [(2, verdict)]


def test_the_paths_give_the_same_message_too(tmp_path: Path) -> None:
    events = write_jsonl(tmp_path / "e.jsonl", [ANCHOR, _event("yesterday")])
    with pytest.raises(DecodeError) as err:
        decode_event(orjson.dumps(_event("yesterday")))
    stream = (err.value.reason, err.value.message)
    seen: list[tuple[int, str, str]] = []
    analyze(events, BASELINE, OPTIONS, on_invalid=lambda *r: seen.append(r))
    evaluated = evaluate_file(BASELINE, events, emitted_at=EMITTED).rejected
    built = build_baseline(events, BuildOptions(model_id="m")).rejected
    assert seen == [(2, *stream)]
    assert [(r.line, r.reason, r.message) for r in evaluated] == [(2, *stream)]
    assert [(r.line, r.reason, r.message) for r in built] == [(2, *stream)]
    assert stream == (
        "schema_violation",
        "$.timestamp: expected RFC 3339 text (e.g. 2026-11-27T07:00:01.250Z or "
        '2026-11-27T08:00:01+01:00) or epoch milliseconds (integer >= 0), got string "yesterday"',
    )


def test_the_rest_of_the_event_rule_holds_on_every_path_too(tmp_path: Path) -> None:
    # Not only the timestamp: a list feature, a missing model_id and the reserved name are
    # dead letters in the stream, so evaluate and build leave them out as well.
    bad = [
        {**ANCHOR, "features": {"x": [1]}},
        {k: v for k, v in ANCHOR.items() if k != "model_id"},
        {**ANCHOR, "features": {"__prediction__": 1}},
        {**ANCHOR, "features": "x=1"},
    ]
    path = write_jsonl(tmp_path / "e.jsonl", [ANCHOR, *bad])
    reasons = []
    for event in bad:
        with pytest.raises(DecodeError) as err:
            decode_event(orjson.dumps(event))
        reasons.append((err.value.reason, err.value.message))
    expected = [(line, *r) for line, r in enumerate(reasons, 2)]
    seen: list[tuple[int, str, str]] = []
    analyze(path, BASELINE, OPTIONS, on_invalid=lambda *r: seen.append(r))
    assert seen == expected
    result = evaluate_file(BASELINE, path, emitted_at=EMITTED)
    assert [(r.line, r.reason, r.message) for r in result.rejected] == expected
    assert result.document["n_events"] == 1
    built = build_baseline(path, BuildOptions(model_id="m"))
    assert [(r.line, r.reason, r.message) for r in built.rejected] == expected
    assert built.rows == 1
    assert built.baseline.source["rows"] == 1


def test_a_flat_jsonl_record_is_not_an_event_and_is_not_judged_as_one(tmp_path: Path) -> None:
    # Training rows written as JSON objects (no "features") are records, as in a CSV file.
    path = write_jsonl(tmp_path / "rows.jsonl", [{"x": 1.0, "timestamp": "yesterday"}] * 3)
    built = build_baseline(path, BuildOptions(model_id="m"))
    assert (built.rows, built.rejected) == (3, ())


# -- flat records: CSV text and Parquet types --------------------------------------------------

# (id, the CSV cell, the verdict): the JSON text rule, plus digits for epoch milliseconds.
CSV_CASES: Final[list[tuple[str, str, Verdict]]] = [
    ("text-fraction", "2026-11-27T07:00:01.250Z", MS),
    ("text-no-fraction", "2026-11-27T07:00:01Z", SECOND),
    ("text-plus-offset", "2026-11-27T08:00:01.250+01:00", MS),
    ("text-minus-offset", "2026-11-27T02:00:01-05:00", SECOND),
    ("text-space-separator", "2026-11-27 07:00:01Z", "schema_violation"),
    ("text-garbage", "yesterday", "schema_violation"),
    ("digits", str(MS), MS),
    ("digits-lower-bound", str(MIN_MS), MIN_MS),
    ("digits-before-2000", str(MIN_MS - 1), "timestamp_out_of_bounds"),
    ("digits-after-2100", str(MAX_MS + 1), "timestamp_out_of_bounds"),
    ("digits-negative", "-1", "schema_violation"),
    ("digits-decimal", f"{MS}.5", "schema_violation"),
    ("digits-unicode", "١٧٩٥٧٦٢٨٠١٢٥٠", "schema_violation"),
    ("text-before-2000", "1999-12-31T23:59:59.999Z", "timestamp_out_of_bounds"),
    ("text-after-2100", "2100-01-01T00:00:00.001Z", "timestamp_out_of_bounds"),
    ("empty", "", "schema_violation"),
]


def _analyze_flat(path: Path) -> Verdict:
    return _analyze(path)


@pytest.mark.parametrize(
    ("cell", "verdict"), [c[1:] for c in CSV_CASES], ids=[c[0] for c in CSV_CASES]
)
def test_a_csv_record_gets_the_json_verdict_for_its_text(
    tmp_path: Path, cell: str, verdict: Verdict
) -> None:
    path = write_csv(tmp_path / "a.csv", ["timestamp", "x"], [[cell, 0.5]])
    assert _analyze_flat(path) == verdict
    if not cell.isdigit():  # digits are a flat-file form only; the rest is the JSON rule
        assert _stream(cell if cell else None) == verdict


# (id, Arrow type, the value, the verdict): each Parquet type read like the JSON value.
PARQUET_CASES: Final[list[tuple[str, pa.DataType, object, Verdict]]] = [
    ("int64", pa.int64(), MS, MS),
    ("int64-negative", pa.int64(), -1, "schema_violation"),
    ("int64-before-2000", pa.int64(), MIN_MS - 1, "timestamp_out_of_bounds"),
    ("float64-integral", pa.float64(), float(MS), MS),
    ("float64-non-integral", pa.float64(), MS + 0.5, "schema_violation"),
    ("string-text", pa.string(), "2026-11-27T08:00:01.250+01:00", MS),
    ("string-digits", pa.string(), str(MS), MS),
    ("string-garbage", pa.string(), "yesterday", "schema_violation"),
    ("bool", pa.bool_(), True, "schema_violation"),
    ("null", pa.int64(), None, "schema_violation"),
    ("timestamp-ms-utc", pa.timestamp("ms", "UTC"), MS, MS),
    ("timestamp-us-naive", pa.timestamp("us"), MS * 1000 + 999, MS),
    ("timestamp-ns-offset-zone", pa.timestamp("ns", "+01:00"), MS * 1_000_000, MS),
    ("timestamp-s", pa.timestamp("s"), MS // 1000, SECOND),
    ("timestamp-before-2000", pa.timestamp("ms"), MIN_MS - 1, "timestamp_out_of_bounds"),
    ("timestamp-before-1970", pa.timestamp("ms"), -5, "timestamp_out_of_bounds"),
]


@pytest.mark.parametrize(
    ("arrow_type", "value", "verdict"),
    [c[1:] for c in PARQUET_CASES],
    ids=[c[0] for c in PARQUET_CASES],
)
def test_a_parquet_record_gets_the_json_verdict_for_its_type(
    tmp_path: Path, arrow_type: pa.DataType, value: object, verdict: Verdict
) -> None:
    table = pa.table({"timestamp": pa.array([value], arrow_type), "x": pa.array([0.5])})
    pq.write_table(table, tmp_path / "a.parquet")
    assert _analyze_flat(tmp_path / "a.parquet") == verdict
    if not pa.types.is_timestamp(arrow_type) and not (isinstance(value, str) and value.isdigit()):
        assert _stream(value) == verdict


def test_flat_records_name_the_column_in_the_reason(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv", ["when", "x"], [["yesterday", 1], ["", 1], [str(MIN_MS - 1), 1]]
    )
    seen: list[tuple[int, str, str]] = []
    opts = AnalyzeOptions(WindowSpec.from_seconds(60, 5), emitted_at_ms=0, timestamp_column="when")
    summary = analyze(path, BASELINE, opts, on_invalid=lambda *r: seen.append(r)).summary
    assert summary.invalid == Counter({"schema_violation": 2, "timestamp_out_of_bounds": 1})
    assert seen == [
        (
            2,
            "schema_violation",
            "column 'when': expected RFC 3339 text or epoch milliseconds, got 'yesterday'",
        ),
        (3, "schema_violation", "column 'when': no timestamp (empty)"),
        (
            4,
            "timestamp_out_of_bounds",
            "timestamp 946684799999 (1999-12-31T23:59:59.999Z) is outside "
            "[2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z]",
        ),
    ]


# -- the CLI: one line per rejected event ------------------------------------------------------


def test_build_and_evaluate_print_each_rejected_event_on_one_line(tmp_path: Path) -> None:
    events = write_jsonl(tmp_path / "e.jsonl", [ANCHOR, _event(1.5), _event(MAX_MS + 1)])
    timestamp_error = (
        "schema_violation: $.timestamp: expected RFC 3339 text (e.g. 2026-11-27T07:00:01.250Z "
        "or 2026-11-27T08:00:01+01:00) or epoch milliseconds (integer >= 0), got number 1.5"
    )
    bounds_error = (
        "timestamp_out_of_bounds: $.timestamp: number 4102444800001 is outside "
        "[2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z]"
    )
    summary = "2 invalid events left out (schema_violation 1, timestamp_out_of_bounds 1)"
    baseline = tmp_path / "b.json"
    run = CliRunner().invoke(
        cli,
        ["baseline", "build", "--input", str(events), "--model-id", "m", "--out", str(baseline),
         "--no-progress"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert run.stderr.splitlines()[:3] == [
        f"warning: {events}, line 2: {timestamp_error}",
        f"warning: {events}, line 3: {bounds_error}",
        f"warning: {summary}",
    ]
    assert " from 1 rows in " in run.stderr.splitlines()[3]

    run = CliRunner().invoke(cli, ["evaluate", "--baseline", str(baseline), "--input", str(events)])
    assert run.exit_code == 0, run.output
    assert run.stderr.splitlines() == [
        f"{events}, line 2: {timestamp_error}",
        f"{events}, line 3: {bounds_error}",
        f"evaluate: {summary}",
    ]
    assert orjson.loads(run.stdout)["n_events"] == 1
