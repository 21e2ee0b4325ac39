"""``driftline analyze`` input, CSV and Parquet: flat records, one event each, through the
event adapter (``app.contracts.events.flat_event``).

``timestamp_column`` (default "timestamp") holds RFC 3339 text or epoch milliseconds (an
integer, or digits in CSV; Parquet timestamp columns too); the prediction is
``prediction_column`` (default: the ``__prediction__`` column when the file has one, else
the baseline's ``prediction_column`` when the file has that, else none: counted as a null
prediction); every other column not excluded is a feature (an empty CSV cell is a null: a
flat file cannot say "absent"). CSV cells of the baseline's numeric features (and a
numeric prediction) are read with ``readers.text_to_float``, like ``driftline evaluate``.
All records belong to ``model_id`` (default: the baseline's). A record with an empty or
unreadable timestamp is invalid (``schema_violation``), one outside the decoder's bounds
``timestamp_out_of_bounds``, as in the stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from app.baseline.model import Baseline
from app.contracts.events import PREDICTION_FEATURE, DeadLetterReason, DecodeError, flat_event
from app.errors import InputError
from app.files.readers import (
    NUMBER_TEXT,
    Format,
    RecordBatch,
    csv_header,
    csv_physical_rows,
    iter_batches,
    text_to_float,
)
from app.pipeline.analyze_summary import (
    AnalyzeOptions,
    EventCheck,
    InvalidHandler,
    ProgressHandler,
    SourceItem,
)

# pyarrow (0.1 s to import) is imported where a CSV or Parquet file is read: JSONL
# analysis never needs it.
if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_TIMESTAMP_COLUMN: Final = "timestamp"


def flat_columns(
    path: str, kind: Format, baseline: Baseline, options: AnalyzeOptions
) -> tuple[str, str | None]:
    """(timestamp column, prediction column or None), checked against the file."""
    names = _column_names(path, kind)
    ts_col = options.timestamp_column or DEFAULT_TIMESTAMP_COLUMN
    if ts_col not in names:
        raise InputError(
            f"no timestamp column {ts_col!r} (name it with --timestamp-column); "
            f"the columns are: {_listed(names)}",
            path=path,
        )
    pred_col = options.prediction_column
    if pred_col is None:
        # A file shaped like the training file has the baseline's prediction column.
        for default in (PREDICTION_FEATURE, baseline.prediction_column):
            if default is not None and default in names:
                return ts_col, default
        return ts_col, None
    if pred_col not in names:
        raise InputError(
            f"prediction column not found; the columns are: {_listed(names)}",
            path=path,
            field=pred_col,
        )
    return ts_col, pred_col


def flat_events(
    path: str,
    kind: Format,
    baseline: Baseline,
    options: AnalyzeOptions,
    ts_col: str,
    pred_col: str | None,
    on_invalid: InvalidHandler | None,
    on_progress: ProgressHandler | None,
    *,
    check: EventCheck | None = None,
) -> Iterator[SourceItem]:
    """(event or error, row) for every record, in file order. A CSV record's line is not
    known while reading (quoted line breaks, blank lines): its errors come with None and are
    reported to ``on_invalid`` with their exact lines after the last record."""
    model_id = options.model_id if options.model_id is not None else baseline.model_id
    dropped = set(options.exclude) | {ts_col} | ({pred_col} if pred_col else set())
    csv = kind == "csv"
    numeric = {f.name for f in baseline.features if f.numeric is not None and f.role == "feature"}
    pred_profile = baseline.feature(PREDICTION_FEATURE)
    numeric_prediction = pred_profile is not None and pred_profile.numeric is not None
    deferred: list[tuple[int, DeadLetterReason, str]] = []  # CSV: record index first
    index = -1
    for batch in iter_batches(path, fmt=kind):
        features_cols = [n for n in batch.data if n not in dropped]
        columns: dict[str, list[Any]] = {}
        for name in features_cols:
            columns[name] = _values(batch.data[name], csv and name in numeric)
        predictions = (
            _values(batch.data[pred_col], csv and numeric_prediction)
            if pred_col is not None
            else None
        )
        stamps, instant = _timestamps(batch, ts_col)
        rows: Iterable[tuple[Any, ...]] = zip(*(columns[n] for n in features_cols), strict=True)
        if not features_cols:
            rows = (() for _ in range(batch.num_rows))
        for i, values in enumerate(rows):
            index += 1
            features = dict(zip(features_cols, values, strict=True))
            prediction = predictions[i] if predictions is not None else None
            try:
                event = flat_event(
                    model_id, stamps[i], features, prediction, column=ts_col, instant=instant
                )
                error = check(event) if check is not None else None
                if error is not None:
                    raise error
            except DecodeError as err:
                if csv:
                    deferred.append((index, err.reason, err.message))
                    yield err, None
                else:
                    yield err, batch.line_of(i)
                continue
            yield event, batch.line_of(i)
        if on_progress is not None:
            on_progress(batch.progress)
    if deferred and on_invalid is not None:
        _report_csv(path, deferred, on_invalid)


def _report_csv(
    path: str, deferred: list[tuple[int, DeadLetterReason, str]], on_invalid: InvalidHandler
) -> None:
    """Invalid CSV records with their exact first line (a re-scan: quoted line breaks and
    blank lines make record and line numbers differ)."""
    n_columns = len(csv_header(path))
    want = iter(deferred)
    item = next(want, None)
    for k, (line, _) in enumerate(csv_physical_rows(path, n_columns)):
        while item is not None and item[0] == k:
            on_invalid(line, item[1], item[2])
            item = next(want, None)
        if item is None:
            return


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")


def _column_names(path: str, kind: Format) -> list[str]:
    """The columns of a CSV or Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if kind == "csv":
        return csv_header(path)
    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"not a readable Parquet file: {err}", path=path) from None


def _values(col: pa.Array | list[object], csv_number: bool) -> list[Any]:
    """A column as Python values; CSV text of a numeric feature as numbers (where it reads
    as one: the rest stays text, a type mismatch, as in ``driftline evaluate``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

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


def _timestamps(batch: RecordBatch, column: str) -> tuple[list[object], bool]:
    """The timestamp column's values, and whether they are instants already (a Parquet
    timestamp column, as epoch milliseconds: truncated, any time zone)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = batch.data[column]
    if not isinstance(col, list) and pa.types.is_timestamp(col.type):
        ms = pc.cast(col, pa.timestamp("ms", col.type.tz), safe=False).cast(pa.int64())
        return ms.to_pylist(), True
    return (col if isinstance(col, list) else col.to_pylist()), False
