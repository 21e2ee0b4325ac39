"""File analysis (``driftline analyze``): the stream's event-time windowing and evaluation
over a file, without Kafka.

The file is one source partition (partition 0) read in file order: every record goes
through the same ``PartitionBinner`` (watermark = max event time - allowed lateness; later
events are counted as late, never added), ``WindowMerger`` (one source) and
``WindowCloser`` as a live worker's, and the end of the file closes every open window
(``on_end``). So the window results are the ones the stream gives for the same events in
the same order -- equal in every field except ``emitted_at`` (pin it with
``emitted_at_ms``) and ``source_offsets``, which is ``[]`` here: a file has no Kafka
offsets (the schema's "empty for offline analysis").

Input.

* JSONL: every non-blank line is a prediction event, decoded by the stream's decoder
  (``decode_event``, default limits). A line that fails is reported (``on_invalid``: line,
  dead-letter reason, message) and counted by reason; it never stops the run. Blank lines
  are formatting, not events: skipped and not counted.
* CSV and Parquet: flat records, one event each. ``timestamp_column`` (default
  "timestamp") holds RFC 3339 text or epoch milliseconds (an integer, or digits in CSV;
  Parquet timestamp columns too); the prediction is ``prediction_column`` (default: the
  ``__prediction__`` column when the file has one, else the baseline's
  ``prediction_column`` when the file has that, else none: counted as a null
  prediction); every other column not excluded is a feature (an empty CSV cell is a
  null: a flat file cannot say "absent"). CSV cells of the baseline's numeric features
  (and a numeric prediction) are read with ``readers.text_to_float``, like
  ``driftline evaluate``. All records belong to ``model_id`` (default: the baseline's).
  A record with an empty or unreadable timestamp is invalid (``schema_violation``), one
  outside the decoder's bounds ``timestamp_out_of_bounds``, as in the stream.

Events of a model other than the baseline's are counted per model (``skipped``), like
the stream's ``unknown_model`` dead letters, and not windowed.

Output: ``Document`` s in close order (windows oldest first, then by model), each window
result followed at once by its drift event when the window drifted. Each carries its typed
result or event; its document and bytes are the stream's (the same codecs, app.codecs),
and a pinned ``emitted_at`` makes them identical run to run.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from app.baseline.model import Baseline
from app.baseline.registry import BaselineRegistry
from app.codecs import to_json
from app.codecs.drift_event import drift_event_document
from app.codecs.window_result import window_result_document
from app.contracts import DeadLetterReason
from app.contracts.decode import (
    DEFAULT_LIMITS,
    PREDICTION_FEATURE,
    DecodeError,
    format_rfc3339_ms,
    parse_rfc3339_ms,
)
from app.contracts.decode import decode_event as _decode_event
from app.errors import InputError
from app.files.readers import (
    NUMBER_TEXT,
    Format,
    RecordBatch,
    csv_header,
    csv_physical_rows,
    detect_format,
    iter_batches,
    text_to_float,
)
from app.pipeline.close import WindowCloser, histogram_ops
from app.pipeline.fold import future_error
from app.pipeline.results import DriftEvent, WindowResult
from app.stats.rules import DriftConfig
from app.windows.binner import LateEvent, Output, PartitionBinner, WatermarkAdvanced
from app.windows.merger import CompleteWindow, WindowMerger
from app.windows.partial import Partial
from app.windows.spec import WindowSpec

DEFAULT_TIMESTAMP_COLUMN: Final = "timestamp"
PROGRESS_EVERY: Final = 8192  # JSONL lines between progress reports

# (line or Parquet row, dead-letter reason, message)
InvalidHandler = Callable[[int, DeadLetterReason, str], None]
ProgressHandler = Callable[[int], None]  # bytes (CSV, JSONL) or rows (Parquet) consumed


@dataclass(frozen=True)
class AnalyzeOptions:
    window: WindowSpec
    fmt: str | None = None  # csv, jsonl, parquet; None: from the extension
    config: DriftConfig | None = None
    emitted_at_ms: int | None = None  # None: the wall clock when each window closes
    # Flat records (CSV, Parquet) only:
    timestamp_column: str | None = None  # None: "timestamp"
    # None: "__prediction__" when present, else the baseline's prediction_column when
    # present, else none
    prediction_column: str | None = None
    model_id: str | None = None  # None: the baseline's
    exclude: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Document:
    """One output document: a window result or a drift event, written (``document``,
    ``data``) as the stream writes it."""

    message: WindowResult | DriftEvent

    @property
    def kind(self) -> Literal["window_result", "drift_event"]:
        return "window_result" if isinstance(self.message, WindowResult) else "drift_event"

    @cached_property
    def document(self) -> dict[str, Any]:
        if isinstance(self.message, WindowResult):
            return window_result_document(self.message)
        return drift_event_document(self.message)

    @cached_property
    def data(self) -> bytes:
        """The bytes written, one line each."""
        return to_json(self.document)


@dataclass
class AnalysisSummary:
    records: int = 0  # non-blank JSONL lines, CSV records, Parquet rows
    events: int = 0  # valid events of the baseline's model (including late ones)
    late_events: int = 0  # of those, later than the allowed lateness: counted, not added
    invalid: Counter[str] = field(default_factory=Counter)  # by dead-letter reason
    skipped: Counter[str] = field(default_factory=Counter)  # valid events of other models
    windows: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # windows by status
    alerts: int = 0
    first_event_ms: int | None = None
    last_event_ms: int | None = None
    seconds: float = 0.0

    @property
    def n_invalid(self) -> int:
        return sum(self.invalid.values())

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    def line(self) -> str:
        """The one-line summary ``driftline analyze`` prints on stderr."""
        statuses = ", ".join(f"{n:,} {s}" for s, n in sorted(self.statuses.items()))
        parts = [
            f"{self.records:,} records",
            f"{self.events:,} events in {self.windows:,} window{'' if self.windows == 1 else 's'}"
            + (f" ({statuses})" if statuses else ""),
            f"{self.alerts:,} alert{'' if self.alerts == 1 else 's'}",
            f"{self.late_events:,} late",
        ]
        invalid = f"{self.n_invalid:,} invalid"
        if self.invalid:
            invalid += " (" + ", ".join(f"{r} {n:,}" for r, n in sorted(self.invalid.items())) + ")"
        parts.append(invalid)
        skipped = f"{self.n_skipped:,} skipped"
        if self.skipped:
            shown = sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0]))
            more = f", +{len(shown) - 5} more models" if len(shown) > 5 else ""
            skipped += (
                " (other models: " + ", ".join(f"{m} {n:,}" for m, n in shown[:5]) + more + ")"
            )
        parts.append(skipped)
        span = ""
        if self.first_event_ms is not None and self.last_event_ms is not None:
            span = (
                f"; event time {format_rfc3339_ms(self.first_event_ms)} .. "
                f"{format_rfc3339_ms(self.last_event_ms)}"
            )
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        return ", ".join(parts) + span + f"; {self.seconds:.1f} s ({rate:,.0f} records/s)"


@dataclass(frozen=True)
class Analysis:
    documents: list[Document]
    summary: AnalysisSummary


def analyze(
    path: str | os.PathLike[str],
    baseline: Baseline,
    options: AnalyzeOptions,
    *,
    on_invalid: InvalidHandler | None = None,
    on_progress: ProgressHandler | None = None,
) -> Analysis:
    """Analyze a whole file: every document, in close order, and the summary."""
    summary = AnalysisSummary()
    documents = list(
        iter_analysis(
            path, baseline, options, summary, on_invalid=on_invalid, on_progress=on_progress
        )
    )
    return Analysis(documents, summary)


def iter_analysis(
    path: str | os.PathLike[str],
    baseline: Baseline,
    options: AnalyzeOptions,
    summary: AnalysisSummary,
    *,
    on_invalid: InvalidHandler | None = None,
    on_progress: ProgressHandler | None = None,
) -> Iterator[Document]:
    """The documents one by one as windows close (memory: the open windows only);
    ``summary`` is filled in as the file is read and is complete once this is exhausted.

    Raises ``InputError`` for user mistakes (unreadable file, unknown format, a missing
    timestamp or prediction column, a malformed CSV or Parquet file, a flat-record option
    with JSONL input); invalid JSONL lines and invalid flat records are not errors.
    Checks the options and the file now, before the first document is asked for.
    """
    p = os.fspath(path)
    kind = detect_format(p, options.fmt)
    if not os.path.isfile(p):
        raise InputError("no such file" if not os.path.exists(p) else "not a file", path=p)
    if not os.access(p, os.R_OK):
        raise InputError("file is not readable (permission denied)", path=p)
    run = _Run(p, kind, baseline, options, summary, on_invalid, on_progress)
    if kind != "jsonl":
        return run.flat(*run.flat_columns())
    flat = {
        "--timestamp-column": options.timestamp_column,
        "--prediction-column": options.prediction_column,
        "--model-id": options.model_id,
        "--exclude": ",".join(sorted(options.exclude)) or None,
    }
    given = [name for name, value in flat.items() if value is not None]
    if given:
        raise InputError(
            f"{', '.join(given)}: only for CSV and Parquet input; JSONL lines are "
            "prediction events with their own model_id, timestamp and prediction",
            path=p,
        )
    return run.jsonl()


class _Run:
    """One analysis: the file as source partition 0 through binner, merger and closer."""

    def __init__(
        self,
        path: str,
        kind: Format,
        baseline: Baseline,
        options: AnalyzeOptions,
        summary: AnalysisSummary,
        on_invalid: InvalidHandler | None,
        on_progress: ProgressHandler | None,
    ) -> None:
        self.path = path
        self.kind = kind
        self.baseline = baseline
        self.options = options
        self.summary = summary
        self.on_invalid = on_invalid
        self.on_progress = on_progress
        self.registry = BaselineRegistry()
        self.registry.add(baseline, 0)
        self.spec = options.window
        self.binner = PartitionBinner(0, self.spec, histogram_ops(), self.registry.choose)
        self.merger = WindowMerger(1, self.spec)
        # The topic name only labels source_offsets, which file analysis leaves empty.
        self.closer = WindowCloser(
            self.registry, self.spec, os.path.basename(path) or "file",
            options.config,
        )  # fmt: skip
        self.started = 0.0  # set when reading starts
        # "When read" for the future bound (as live workers have it): the analysis's start.
        self.now_ms = time.time_ns() // 1_000_000

    # -- shared ------------------------------------------------------------------------
    def _outputs(self, outputs: Sequence[Output]) -> Iterator[Document]:
        for out in outputs:
            if isinstance(out, Partial):
                self.merger.on_partial(out)
            elif isinstance(out, WatermarkAdvanced):
                closed = self.merger.on_watermark(0, out.model_id, out.closed_upto_ms)
                for window in closed:
                    yield from self._close(window)

    def _close(self, window: CompleteWindow) -> Iterator[Document]:
        pinned = self.options.emitted_at_ms
        emitted_ms = pinned if pinned is not None else time.time_ns() // 1_000_000
        # No Kafka offsets for a file (see the module docstring).
        result = replace(self.closer.close(window, emitted_ms), source_offsets=())
        alert = result.drift_event()
        self.summary.windows += 1
        self.summary.statuses[result.status] += 1
        yield Document(result)
        if alert is not None:
            self.summary.alerts += 1
            yield Document(alert)

    def _event(
        self, index: int, model_id: str, ts_ms: int, features: dict[str, Any], prediction: Any
    ) -> Sequence[Output] | None:
        """The event's outputs; None when it is too far in the future (then the caller
        reports it as ``timestamp_in_future``, the reason live workers dead-letter it by)."""
        s = self.summary
        if model_id != self.baseline.model_id:
            s.skipped[model_id] += 1
            self.binner.skip(index)
            return []
        if ts_ms - self.now_ms > self.spec.max_future_ms:
            self.binner.skip(index)
            return None
        s.events += 1
        if s.first_event_ms is None or ts_ms < s.first_event_ms:
            s.first_event_ms = ts_ms
        if s.last_event_ms is None or ts_ms > s.last_event_ms:
            s.last_event_ms = ts_ms
        outputs = self.binner.on_event(index, model_id, ts_ms, features, prediction, self.now_ms)
        if isinstance(outputs, LateEvent):  # added to no window (a stream's side output)
            s.late_events += 1
            return []
        return outputs

    def _invalid(self, line: int, reason: DeadLetterReason, message: str) -> None:
        self.summary.invalid[reason] += 1
        if self.on_invalid is not None:
            self.on_invalid(line, reason, message)

    def _finish(self) -> Iterator[Document]:
        yield from self._outputs(self.binner.on_end())
        self.summary.seconds = time.perf_counter() - self.started

    # -- JSONL: prediction events ------------------------------------------------------
    def jsonl(self) -> Iterator[Document]:
        p = self.path
        self.started = time.perf_counter()
        try:
            f = open(p, "rb")  # noqa: SIM115 - closed in finally; the generator may pause
        except OSError as err:
            raise InputError(f"cannot read: {err.strerror}", path=p) from None
        limits = DEFAULT_LIMITS
        max_bytes = limits.max_bytes
        decode = _decode_event
        summary = self.summary
        progress = self.on_progress
        index = -1
        consumed = 0
        try:
            for lineno, raw in enumerate(f, 1):
                consumed += len(raw)
                if progress is not None and lineno % PROGRESS_EVERY == 0:
                    progress(consumed)
                if raw.isspace():
                    continue
                index += 1
                if len(raw) > max_bytes:
                    raw = raw.rstrip(b"\r\n")  # the line break is not part of the event
                try:
                    ev = decode(raw, limits=limits)
                except DecodeError as err:
                    self.binner.skip(index)
                    self._invalid(lineno, err.reason, err.message)
                    continue
                outputs = self._event(
                    index, ev.model_id, ev.timestamp_ms, ev.features, ev.prediction
                )
                if outputs is None:
                    message = future_error(ev.timestamp_ms, self.now_ms, self.spec.max_future_ms)
                    self._invalid(lineno, "timestamp_in_future", message)
                elif outputs:
                    yield from self._outputs(outputs)
        except OSError as err:
            raise InputError(f"cannot read: {err.strerror}", path=p) from None
        finally:
            f.close()
        summary.records = index + 1
        if progress is not None:
            progress(consumed)
        yield from self._finish()

    # -- CSV and Parquet: flat records ---------------------------------------------------
    def flat_columns(self) -> tuple[str, str | None]:
        """(timestamp column, prediction column or None), checked against the file."""
        o = self.options
        p = self.path
        names = _column_names(p, self.kind)
        ts_col = o.timestamp_column or DEFAULT_TIMESTAMP_COLUMN
        if ts_col not in names:
            raise InputError(
                f"no timestamp column {ts_col!r} (name it with --timestamp-column); "
                f"the columns are: {_listed(names)}",
                path=p,
            )
        pred_col = o.prediction_column
        if pred_col is None:
            # A file shaped like the training file has the baseline's prediction column.
            for default in (PREDICTION_FEATURE, self.baseline.prediction_column):
                if default is not None and default in names:
                    return ts_col, default
            return ts_col, None
        if pred_col not in names:
            raise InputError(
                f"prediction column not found; the columns are: {_listed(names)}",
                path=p,
                field=pred_col,
            )
        return ts_col, pred_col

    def flat(self, ts_col: str, pred_col: str | None) -> Iterator[Document]:
        o = self.options
        p = self.path
        self.started = time.perf_counter()
        model_id = o.model_id if o.model_id is not None else self.baseline.model_id
        dropped = set(o.exclude) | {ts_col} | ({pred_col} if pred_col else set())
        csv = self.kind == "csv"
        numeric = {
            f.name for f in self.baseline.features if f.numeric is not None and f.role == "feature"
        }
        pred_profile = self.baseline.feature(PREDICTION_FEATURE)
        numeric_prediction = pred_profile is not None and pred_profile.numeric is not None
        deferred: list[tuple[int, DeadLetterReason, str]] = []  # CSV: record index first
        index = -1
        for batch in iter_batches(p, fmt=self.kind):
            features_cols = [n for n in batch.data if n not in dropped]
            columns: dict[str, list[Any]] = {}
            for name in features_cols:
                columns[name] = _values(batch.data[name], csv and name in numeric)
            predictions = (
                _values(batch.data[pred_col], csv and numeric_prediction)
                if pred_col is not None
                else None
            )
            stamps = _timestamps(batch, ts_col)
            rows: Iterable[tuple[Any, ...]] = zip(*(columns[n] for n in features_cols), strict=True)
            if not features_cols:
                rows = (() for _ in range(batch.num_rows))
            for i, values in enumerate(rows):
                index += 1
                ts = stamps[i]
                if type(ts) is not int:
                    reason, message = ts if isinstance(ts, tuple) else _bad_timestamp(ts, ts_col)
                    self.binner.skip(index)
                    if csv:
                        deferred.append((index, reason, message))
                        self.summary.invalid[reason] += 1
                    else:
                        self._invalid(batch.line_of(i), reason, message)
                    continue
                features = dict(zip(features_cols, values, strict=True))
                prediction = predictions[i] if predictions is not None else None
                outputs = self._event(index, model_id, ts, features, prediction)
                if outputs is None:
                    future = future_error(ts, self.now_ms, self.spec.max_future_ms)
                    if csv:
                        deferred.append((index, "timestamp_in_future", future))
                        self.summary.invalid["timestamp_in_future"] += 1
                    else:
                        self._invalid(batch.line_of(i), "timestamp_in_future", future)
                elif outputs:
                    yield from self._outputs(outputs)
            self.summary.records = index + 1
            if self.on_progress is not None:
                self.on_progress(batch.progress)
        if deferred:
            self._report_csv(deferred)
        yield from self._finish()

    def _report_csv(self, deferred: list[tuple[int, DeadLetterReason, str]]) -> None:
        """Invalid CSV records with their exact first line (a re-scan: quoted line breaks and
        blank lines make record and line numbers differ). Counted already."""
        if self.on_invalid is None:
            return
        n_columns = len(csv_header(self.path))
        want = iter(deferred)
        item = next(want, None)
        for k, (line, _) in enumerate(csv_physical_rows(self.path, n_columns)):
            while item is not None and item[0] == k:
                self.on_invalid(line, item[1], item[2])
                item = next(want, None)
            if item is None:
                return


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")


def _column_names(path: str, kind: Format) -> list[str]:
    """The columns of a CSV or Parquet file."""
    if kind == "csv":
        return csv_header(path)
    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"not a readable Parquet file: {err}", path=path) from None


def _values(col: pa.Array | list[object], csv_number: bool) -> list[Any]:
    """A column as Python values; CSV text of a numeric feature as numbers (where it reads
    as one: the rest stays text, a type mismatch, as in ``driftline evaluate``)."""
    if isinstance(col, list):
        return col
    if csv_number and pa.types.is_string(col.type):
        matches = pc.match_substring_regex(col, NUMBER_TEXT, ignore_case=True)
        if pc.all(matches).as_py() is not False:  # every non-null cell is a number
            # Arrow's string -> float64 cast accepts exactly NUMBER_TEXT (readers' tests).
            numbers: list[Any] = pc.cast(col, pa.float64()).to_pylist()
            return numbers
        out: list[Any] = []
        for value in col.to_pylist():
            if type(value) is str:
                number = text_to_float(value)
                out.append(value if number is None else number)
            else:
                out.append(value)
        return out
    values: list[Any] = col.to_pylist()
    return values


def _timestamps(batch: RecordBatch, column: str) -> list[object]:
    """Per record: epoch ms (int), or (reason, message) when invalid, or the raw value
    (not an int: turned into a reason by ``_bad_timestamp``)."""
    col = batch.data[column]
    if not isinstance(col, list) and pa.types.is_timestamp(col.type):
        ms = pc.cast(col, pa.timestamp("ms", col.type.tz), safe=False).cast(pa.int64())
        raw: list[object] = ms.to_pylist()
        return [_bounded(v) if type(v) is int else v for v in raw]
    values = col if isinstance(col, list) else col.to_pylist()
    out: list[object] = []
    for v in values:
        t = type(v)
        if t is str:
            assert isinstance(v, str)
            ms_value = int(v) if v.isascii() and v.isdigit() else parse_rfc3339_ms(v)
            out.append(v if ms_value is None else _bounded(ms_value))
        elif t is int:
            assert isinstance(v, int)
            out.append(_bounded(v) if v >= 0 else v)
        elif t is float:
            assert isinstance(v, float)
            out.append(_bounded(int(v)) if v.is_integer() and v >= 0 else v)
        else:
            out.append(v)
    return out


def _bounded(ms: int) -> int | tuple[DeadLetterReason, str]:
    limits = DEFAULT_LIMITS
    if limits.min_timestamp_ms <= ms <= limits.max_timestamp_ms:
        return ms
    return (
        "timestamp_out_of_bounds",
        f"timestamp {ms} ({format_rfc3339_ms(ms)}) is outside "
        f"[{format_rfc3339_ms(limits.min_timestamp_ms)}, "
        f"{format_rfc3339_ms(limits.max_timestamp_ms)}]",
    )


def _bad_timestamp(value: object, column: str) -> tuple[DeadLetterReason, str]:
    if value is None:
        return "schema_violation", f"column {column!r}: no timestamp (empty)"
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:60] + "..."
    return (
        "schema_violation",
        f"column {column!r}: expected RFC 3339 text or epoch milliseconds, got {shown}",
    )
