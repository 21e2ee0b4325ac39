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

Input: each format is a source of events in file order (``analyze_jsonl``: prediction
events, decoded by the stream's decoder; ``flat_records``: CSV and Parquet records through
the same event adapter). A record that is not a valid event is reported (``on_invalid``:
line, dead-letter reason, message) and counted by reason; it never stops the run.

Events of a model other than the baseline's are counted per model (``skipped``), like
the stream's ``unknown_model`` dead letters, and not windowed.

Output: ``Document`` s in close order (windows oldest first, then by model), each window
result followed at once by its drift event when the window drifted, then by the incident
lifecycle event (``app.pipeline.incidents``) its close gave, if any. The bytes are the
stream's (``to_json``), and a pinned ``emitted_at`` makes them identical run to run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from app.baseline.model import Baseline
from app.baseline.registry import BaselineRegistry
from app.contracts.events import DEFAULT_LIMITS, DeadLetterReason, DecodeError, PredictionEvent
from app.errors import InputError
from app.files.readers import Format, detect_format
from app.native.folder import NativeFolder, NativeRun
from app.native.jsonl import native_jsonl_events
from app.native.loader import load
from app.pipeline.analyze_jsonl import jsonl_events
from app.pipeline.analyze_summary import (
    Analysis,
    AnalysisSummary,
    AnalyzeOptions,
    Document,
    InvalidHandler,
    ProgressHandler,
    SourceItem,
)
from app.pipeline.close import WindowCloser, histogram_ops
from app.pipeline.flat_records import flat_columns, flat_events
from app.pipeline.fold import future_error
from app.pipeline.incidents import IncidentTracker
from app.windows.binner import LateEvent, Output, PartitionBinner, WatermarkAdvanced
from app.windows.merger import CompleteWindow, WindowMerger
from app.windows.partial import Partial

__all__ = [
    "Analysis",
    "AnalysisSummary",
    "AnalyzeOptions",
    "Document",
    "InvalidHandler",
    "ProgressHandler",
    "analyze",
    "iter_analysis",
]


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
        ts_col, pred_col = flat_columns(p, kind, baseline, options)
        return run.drive(
            flat_events(
                p,
                kind,
                baseline,
                options,
                ts_col,
                pred_col,
                on_invalid,
                on_progress,
                check=run.too_far_ahead,
            )
        )
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
    module = load()
    if module is not None:  # the compiled path (app.native), same outcomes
        folder = NativeFolder(
            module, run.binner, run.registry, DEFAULT_LIMITS, frozenset({baseline.model_id})
        )
        return run.drive(
            native_jsonl_events(p, folder, run.now_ms, on_progress, check=run.too_far_ahead)
        )
    return run.drive(jsonl_events(p, on_progress, check=run.too_far_ahead))


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
        self.incidents = IncidentTracker(options.resolve_after)
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
        incident = self.incidents.on_result(result)
        if incident is not None:
            self.summary.incident_events += 1
            yield Document(incident)

    def _event(
        self, index: int, model_id: str, ts_ms: int, features: dict[str, Any], prediction: Any
    ) -> Sequence[Output]:
        s = self.summary
        if model_id != self.baseline.model_id:
            s.skipped[model_id] += 1
            self.binner.skip(index)
            return []
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

    def _native_run(self, run: NativeRun) -> None:
        s = self.summary
        for model_id, n in run.skipped.items():
            s.skipped[model_id] += n
        s.events += sum(run.events.values())
        if run.min_ts_ms is not None and run.max_ts_ms is not None:
            if s.first_event_ms is None or run.min_ts_ms < s.first_event_ms:
                s.first_event_ms = run.min_ts_ms
            if s.last_event_ms is None or run.max_ts_ms > s.last_event_ms:
                s.last_event_ms = run.max_ts_ms

    def too_far_ahead(self, event: PredictionEvent) -> DecodeError | None:
        """The future bound, applied as live workers apply it: after the model filter, with
        the reason they dead-letter the event by. The sources call it, so that a CSV record
        is reported with its exact line like any other invalid record."""
        ts_ms = event.timestamp_ms
        if (
            event.model_id != self.baseline.model_id
            or ts_ms - self.now_ms <= self.spec.max_future_ms
        ):
            return None
        message = future_error(ts_ms, self.now_ms, self.spec.max_future_ms)
        return DecodeError("timestamp_in_future", message, model_id=event.model_id)

    def _invalid(self, line: int, reason: DeadLetterReason, message: str) -> None:
        self.summary.invalid[reason] += 1
        if self.on_invalid is not None:
            self.on_invalid(line, reason, message)

    def _finish(self) -> Iterator[Document]:
        yield from self._outputs(self.binner.on_end())
        self.summary.seconds = time.perf_counter() - self.started

    # -- the input: a source of events ---------------------------------------------------
    def drive(
        self, source: Iterator[SourceItem] | Iterator[SourceItem | tuple[NativeRun, None]]
    ) -> Iterator[Document]:
        """Every record of ``source`` through the window run, then the end of the file."""
        self.started = time.perf_counter()
        summary = self.summary
        index = -1
        for item, line in source:
            if isinstance(item, NativeRun):  # folded by the extension: no outputs
                index += item.stop - item.begin
                self._native_run(item)
                continue
            index += 1
            if isinstance(item, DecodeError):
                self.binner.skip(index)
                if line is None:  # the source reports it with its line later (CSV)
                    summary.invalid[item.reason] += 1
                else:
                    self._invalid(line, item.reason, item.message)
                continue
            outputs = self._event(
                index, item.model_id, item.timestamp_ms, item.features, item.prediction
            )
            if outputs:
                yield from self._outputs(outputs)
        summary.records = index + 1
        yield from self._finish()
