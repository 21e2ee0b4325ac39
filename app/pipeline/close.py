"""Closing a complete window: merge its partials, evaluate, assemble the documents.

Pure, and shared by the live stream, replay and file analysis, so the three give the same
bytes for the same events (apart from ``emitted_at``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from app.baseline.registry import BaselineRegistry
from app.binning.histogram import HistogramOps
from app.contracts.timestamps import format_rfc3339_ms
from app.pipeline.results import (
    SourceOffsets,
    WindowSpan,
    drift_event,
    to_json,
    window_result,
)
from app.stats.decision import evaluate_window
from app.stats.rules import DriftConfig, load_config
from app.windows.merger import CompleteWindow

log = logging.getLogger(__name__)


def histogram_ops() -> HistogramOps:
    return HistogramOps()


class WindowCloser:
    """Callable: (complete window, emitted-at ms) -> (result bytes, drift event bytes | None,
    summary for metrics)."""

    def __init__(
        self,
        registry: BaselineRegistry,
        window_seconds: int,
        source_topic: str,
        config: DriftConfig | None = None,
        *,
        partial_windows: frozenset[tuple[str, int]] = frozenset(),
    ) -> None:
        self.registry = registry
        self.window_seconds = window_seconds
        self.source_topic = source_topic
        self.config = config or DriftConfig()
        self.ops = HistogramOps()
        self.partial_windows = partial_windows

    @classmethod
    def from_path(
        cls, registry: BaselineRegistry, window_seconds: int, source_topic: str, path: Path | None
    ) -> WindowCloser:
        return cls(registry, window_seconds, source_topic, load_config(path) if path else None)

    def document(self, window: CompleteWindow, emitted_ms: int) -> dict[str, Any]:
        """The window-result document (a dict) of a complete window."""
        ids = sorted({p.baseline_id for p in window.partials})
        # Partials of one window normally share a baseline (it is chosen by window start).
        # If a new baseline reached one worker late, keep the majority's and say so.
        baseline_id = max(
            ids, key=lambda b: sum(p.n_events for p in window.partials if p.baseline_id == b)
        )
        parts = [p for p in window.partials if p.baseline_id == baseline_id]
        if len(parts) != len(window.partials):
            log.warning(
                "window %s/%d: partials under %d baselines; evaluated with %s",
                window.model_id,
                window.window_start_ms,
                len(ids),
                baseline_id,
            )
        baseline = self.registry.by_id(baseline_id)
        if baseline is None:
            raise KeyError(f"baseline {baseline_id} is not loaded")
        hist = self.ops.merge(baseline, [p.hist for p in parts])
        evaluation = evaluate_window(baseline, hist, self.config.for_model(window.model_id))
        offsets = [
            SourceOffsets(self.source_topic, p.source_partition, p.first_offset, p.last_offset)
            for p in parts
            if p.first_offset is not None and p.last_offset is not None
        ]
        return window_result(
            baseline,
            evaluation,
            WindowSpan(window.window_start_ms, self.window_seconds),
            emitted_at=format_rfc3339_ms(emitted_ms),
            late_events=window.late_events,
            partial=(window.model_id, window.window_start_ms) in self.partial_windows,
            source_offsets=offsets,
        )

    def __call__(
        self, window: CompleteWindow, emitted_ms: int
    ) -> tuple[bytes, bytes | None, dict[str, Any]]:
        doc = self.document(window, emitted_ms)
        alert = drift_event(doc)
        summary = {
            "status": doc["status"],
            "features": {
                f["name"]: {**f.get("stats", {}), "drifted": f["drifted"]} for f in doc["features"]
            },
        }
        return to_json(doc), (to_json(alert) if alert is not None else None), summary
