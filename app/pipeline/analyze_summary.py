"""``driftline analyze``'s options, what its input sources yield, its output documents and
the run's summary line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from app.codecs import to_json
from app.codecs.drift_event import drift_event_document
from app.codecs.incident import incident_document
from app.codecs.window_result import window_result_document
from app.contracts.events import DeadLetterReason, DecodeError, PredictionEvent
from app.contracts.timestamps import format_rfc3339_ms
from app.pipeline.incidents import IncidentEvent
from app.pipeline.results import DriftEvent, WindowResult
from app.stats.rules import DriftConfig
from app.windows.spec import WindowSpec

# (line or Parquet row, dead-letter reason, message)
InvalidHandler = Callable[[int, DeadLetterReason, str], None]
ProgressHandler = Callable[[int], None]  # bytes (CSV, JSONL) or rows (Parquet) consumed
# What an input source yields per record: the event, or why the record is not one; and its
# line (Parquet: row), None when the source reports the line itself (CSV, at the end).
SourceItem = tuple[PredictionEvent | DecodeError, int | None]
# A further rule the run applies to a decoded event (the future bound): the error, or None.
EventCheck = Callable[[PredictionEvent], DecodeError | None]


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
    resolve_after: int = 3  # DRIFTLINE_RESOLVE_AFTER_WINDOWS: ok windows that resolve an incident


@dataclass(frozen=True)
class Document:
    """One output document: a window result, a drift event or an incident lifecycle event,
    written (``document``, ``data``) as the stream writes it."""

    message: WindowResult | DriftEvent | IncidentEvent

    @property
    def kind(self) -> Literal["window_result", "drift_event", "incident"]:
        if isinstance(self.message, WindowResult):
            return "window_result"
        return "drift_event" if isinstance(self.message, DriftEvent) else "incident"

    @cached_property
    def document(self) -> dict[str, Any]:
        if isinstance(self.message, WindowResult):
            return window_result_document(self.message)
        if isinstance(self.message, DriftEvent):
            return drift_event_document(self.message)
        return incident_document(self.message)

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
    incident_events: int = 0  # lifecycle events (opened, updated, resolved)
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
