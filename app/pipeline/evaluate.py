"""Offline evaluation: a whole file as one window against a baseline (``driftline evaluate``).

The records come from ``app.files.readers`` (CSV, JSONL prediction events or flat JSONL
records, Parquet) and go through the same ``WindowHistogram`` and decision rule as the
stream, so a file gives the statistics the live path would give for the same events.
The file is taken to hold one model's events (the baseline's). A JSONL prediction event
the stream would dead-letter (the one rule, ``app.contracts.events``) is left out and
listed in ``rejected`` with its line and reason.

Values. JSONL and Parquet values keep their types. CSV cells are text: a numeric feature's
cell is read with ``readers.text_to_float`` (the baseline builder's rule); a cell that is
not a number stays text and counts as a type mismatch, like a string in a live event.
Categorical cells are used verbatim, boolean ones read true/false in any case and 0/1.

Prediction. The column named by ``prediction_column`` when given; otherwise the record's
``__prediction__`` (JSONL prediction events carry it, already reduced to the argmax class
for probability objects) or, in a record without one, the baseline's own
``prediction_column``: the training file's column, so a file shaped like the training file
needs no flag.

Window. With event timestamps (JSONL events' ``timestamp``, ``__timestamp_ms__`` after
reading) the window starts at the earliest one floored to the second and lasts whole
seconds up to and including the latest. Without any, it is a placeholder [epoch 0, 1 s).
Either way ``window_id`` is deterministic for the same file and baseline.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from app.baseline.model import Baseline
from app.binning.histogram import WindowHistogram
from app.codecs.window_result import window_result_document
from app.contracts.decode import PREDICTION_FEATURE
from app.contracts.events import Rejected
from app.files.readers import TIMESTAMP_COLUMN, detect_format, iter_records, text_to_float
from app.pipeline.results import WindowResult
from app.stats.decision import WindowEvaluation, evaluate_window
from app.stats.rules import DriftConfig
from app.windows.spec import WindowSpan


@dataclass(frozen=True)
class FileWindow:
    """What a file contributed: its histogram and the event-time span it covers."""

    hist: WindowHistogram
    span: WindowSpan
    records: int
    rejected: tuple[Rejected, ...] = ()  # JSONL lines that are not valid events


def span_of(first_ms: int | None, last_ms: int | None) -> WindowSpan:
    """The whole-second window covering [first_ms, last_ms]; [0, 1 s) without timestamps."""
    if first_ms is None or last_ms is None:
        return WindowSpan(0, 1)
    start = first_ms - first_ms % 1000
    return WindowSpan(start, (last_ms - start) // 1000 + 1)


def histogram_of_file(
    baseline: Baseline,
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    prediction_column: str | None = None,
    exclude: Iterable[str] = (),
) -> FileWindow:
    """Bin every record of ``path`` into one window histogram. Raises ``InputError`` for
    an unreadable or malformed file (with its line); invalid events are not errors."""
    kind = detect_format(path, fmt)
    numeric = {f.name for f in baseline.features if f.numeric is not None and f.role == "feature"}
    pred = baseline.feature(PREDICTION_FEATURE)
    coerce_prediction = kind == "csv" and pred is not None and pred.numeric is not None
    # The baseline's column applies to records without __prediction__ only: an event's
    # own prediction wins over a feature that happens to share the training column's name.
    remembered = baseline.prediction_column
    dropped = set(exclude) | {TIMESTAMP_COLUMN, PREDICTION_FEATURE}
    if prediction_column is not None:
        dropped.add(prediction_column)
    hist = WindowHistogram.empty(baseline)
    first: int | None = None
    last: int | None = None
    records = 0
    rejected: list[Rejected] = []
    for _, record in iter_records(path, fmt=kind, on_rejected=rejected.append):
        records += 1
        ts = record.get(TIMESTAMP_COLUMN)
        if type(ts) is int:
            first = ts if first is None or ts < first else first
            last = ts if last is None or ts > last else last
        pred_key = prediction_column or PREDICTION_FEATURE
        if prediction_column is None and remembered is not None and pred_key not in record:
            pred_key = remembered
        prediction = record.get(pred_key)
        features = {k: v for k, v in record.items() if k not in dropped and k != pred_key}
        if kind == "csv":
            for name in numeric.intersection(features):
                features[name] = _csv_number(features[name])
            if coerce_prediction:
                prediction = _csv_number(prediction)
        hist.add_event(features, prediction)
    return FileWindow(hist, span_of(first, last), records, tuple(rejected))


def _csv_number(value: object) -> object:
    if type(value) is str:
        number = text_to_float(value)
        return value if number is None else number
    return value


@dataclass(frozen=True)
class FileResult:
    result: WindowResult  # ``source_offsets`` empty
    records: int
    rejected: tuple[Rejected, ...] = ()  # JSONL lines that are not valid events, left out

    @property
    def evaluation(self) -> WindowEvaluation:
        """With which tests fired per feature (``FeatureResult.reasons``)."""
        return self.result.evaluation

    @cached_property
    def document(self) -> dict[str, Any]:
        """The window-result document, as ``driftline evaluate --format json`` prints it."""
        return window_result_document(self.result)


def evaluate_file(
    baseline: Baseline,
    path: str | os.PathLike[str],
    *,
    emitted_at: str,
    config: DriftConfig | None = None,
    fmt: str | None = None,
    prediction_column: str | None = None,
    exclude: Iterable[str] = (),
) -> FileResult:
    """Evaluate a whole file as one window."""
    window = histogram_of_file(
        baseline, path, fmt=fmt, prediction_column=prediction_column, exclude=exclude
    )
    rules = (config or DriftConfig()).for_model(baseline.model_id)
    evaluation = evaluate_window(baseline, window.hist, rules)
    result = WindowResult.of(
        baseline, evaluation, window.span, hist=window.hist, emitted_at=emitted_at
    )
    return FileResult(result, window.records, window.rejected)
