"""Window results and drift events, typed: what closing a window produces and what the
stream, replay and analysis pass on. Their documents (schemas/window-result.schema.json,
schemas/drift-event.schema.json) are written only at the edges, by
``app.codecs.window_result`` and ``app.codecs.drift_event``.

Each result carries every baseline feature's window histogram next to its baseline's
(``app.pipeline.feature_histograms``), and a drift event the findings of each drifted
feature (``app.pipeline.findings``), so a consumer can plot a window and read why it
alerted without the baseline file.

Determinism: every field but ``emitted_at`` (passed in) is a function of the baseline,
the window's counts and the rules. Features are sorted by name and source offsets by
(topic, partition), so equal inputs give byte-identical documents.

Ids: ``win-`` / ``alert-`` and the first 16 hex digits of
sha256("model_id|baseline_id|window_start_ms|size_seconds") and of
sha256("alert|model_id|baseline_id|window_start_ms|size_seconds").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from app.baseline.model import Baseline
from app.binning.histogram import WindowHistogram
from app.pipeline.feature_histograms import FeatureHistogram, window_histograms
from app.pipeline.findings import FeatureFindings, feature_findings
from app.stats.decision import FeatureResult, Severity, WindowEvaluation, WindowStatus
from app.windows.spec import WindowSpan


@dataclass(frozen=True)
class SourceOffsets:
    """Offsets of the events counted from one source partition."""

    topic: str
    partition: int
    first: int
    last: int


def _hex16(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def window_id(model_id: str, baseline_id: str, span: WindowSpan) -> str:
    return "win-" + _hex16(f"{model_id}|{baseline_id}|{span.start_ms}|{span.size_seconds}")


def alert_id(model_id: str, baseline_id: str, span: WindowSpan) -> str:
    return "alert-" + _hex16(f"alert|{model_id}|{baseline_id}|{span.start_ms}|{span.size_seconds}")


@dataclass(frozen=True)
class WindowResult:
    """One evaluated window of one model."""

    model_id: str
    model_version: str | None
    baseline_id: str
    span: WindowSpan
    evaluation: WindowEvaluation
    emitted_at: str  # RFC 3339
    late_events: int = 0
    partial: bool = False  # may miss events (a replay's edge): never alerts downstream
    source_offsets: tuple[SourceOffsets, ...] = ()  # kept sorted by (topic, partition)
    # One per baseline feature of ``features``, in the same order (unknown ones have none).
    histograms: tuple[FeatureHistogram, ...] = ()

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.source_offsets, key=lambda o: (o.topic, o.partition)))
        object.__setattr__(self, "source_offsets", ordered)

    @classmethod
    def of(
        cls,
        baseline: Baseline,
        evaluation: WindowEvaluation,
        span: WindowSpan,
        *,
        hist: WindowHistogram,
        emitted_at: str,
        late_events: int = 0,
        partial: bool = False,
        source_offsets: Sequence[SourceOffsets] = (),
    ) -> WindowResult:
        """The result of evaluating a window's counts (``hist``) against ``baseline``."""
        names = [f.name for f in evaluation.features]
        return cls(
            baseline.model_id,
            baseline.model_version,
            baseline.baseline_id,
            span,
            evaluation,
            emitted_at,
            late_events,
            partial,
            tuple(source_offsets),
            window_histograms(baseline, hist, names),
        )

    @property
    def window_id(self) -> str:
        return window_id(self.model_id, self.baseline_id, self.span)

    @property
    def status(self) -> WindowStatus:
        return self.evaluation.status

    @property
    def severity(self) -> Severity:
        return self.evaluation.severity

    @property
    def n_events(self) -> int:
        return self.evaluation.n_events

    @property
    def features(self) -> tuple[FeatureResult, ...]:
        return self.evaluation.features

    def histogram(self, name: str) -> FeatureHistogram | None:
        """The window histogram of baseline feature ``name`` (None for an unknown one)."""
        for h in self.histograms:
            if h.name == name:
                return h
        return None

    def findings(self) -> tuple[FeatureFindings, ...]:
        """Why each drifted feature drifted (by name; empty unless the window drifted)."""
        return tuple(
            feature_findings(f, self.histogram(f.name)) for f in self.features if f.drifted
        )

    def drift_event(self) -> DriftEvent | None:
        """The drift event of this window, or None unless its status is drift."""
        return DriftEvent(self) if self.status == "drift" else None


@dataclass(frozen=True)
class DriftEvent:
    """The alert of a drifted window, derived from its result so the two never disagree."""

    result: WindowResult

    def __post_init__(self) -> None:
        if self.result.status != "drift":
            raise ValueError(f"no drift event for a window with status {self.result.status!r}")

    @property
    def alert_id(self) -> str:
        r = self.result
        return alert_id(r.model_id, r.baseline_id, r.span)

    @property
    def drifted_features(self) -> tuple[FeatureResult, ...]:
        return tuple(f for f in self.result.features if f.drifted)

    @property
    def findings(self) -> tuple[FeatureFindings, ...]:
        """One per drifted feature, in the order of ``drifted_features``."""
        return self.result.findings()
