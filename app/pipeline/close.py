"""Closing a complete window: merge its partials, evaluate, and return the typed result.

Pure, and shared by the live stream, replay and file analysis, so the three give the same
results for the same events (apart from ``emitted_at``); each writes them with the same
codecs (app.codecs), so the same bytes too.
"""

from __future__ import annotations

import logging
from pathlib import Path

from app.baseline.model import Baseline
from app.baseline.registry import BaselineRegistry
from app.binning.histogram import HistogramOps, WindowHistogram
from app.contracts.timestamps import format_rfc3339_ms
from app.pipeline.results import SourceOffsets, WindowResult
from app.stats.decision import evaluate_window
from app.stats.rules import DriftConfig, load_config
from app.windows.merger import CompleteWindow
from app.windows.partial import Counts
from app.windows.spec import WindowSpec

log = logging.getLogger(__name__)


def histogram_ops() -> HistogramOps:
    return HistogramOps()


def histogram_of(baseline: Baseline, counts: Counts) -> WindowHistogram:
    """A partial's histogram: the binner's own object in process; counts read from Kafka
    (or a queue) are checked against the window's baseline and decoded here, once."""
    if isinstance(counts, WindowHistogram):
        return counts
    return WindowHistogram.from_dict(baseline, counts.to_dict())


class WindowCloser:
    """``close``: (complete window, emitted-at ms) -> its ``WindowResult``."""

    def __init__(
        self,
        registry: BaselineRegistry,
        spec: WindowSpec,
        source_topic: str,
        config: DriftConfig | None = None,
        *,
        partial_windows: frozenset[tuple[str, int]] = frozenset(),
    ) -> None:
        self.registry = registry
        self.spec = spec
        self.source_topic = source_topic
        self.config = config or DriftConfig()
        self.ops = HistogramOps()
        self.partial_windows = partial_windows

    @classmethod
    def from_path(
        cls, registry: BaselineRegistry, spec: WindowSpec, source_topic: str, path: Path | None
    ) -> WindowCloser:
        return cls(registry, spec, source_topic, load_config(path) if path else None)

    def close(self, window: CompleteWindow, emitted_ms: int) -> WindowResult:
        """The result of a complete window."""
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
        hist = self.ops.merge(baseline, [histogram_of(baseline, p.hist) for p in parts])
        evaluation = evaluate_window(baseline, hist, self.config.for_model(window.model_id))
        offsets = [
            SourceOffsets(self.source_topic, p.source_partition, p.first_offset, p.last_offset)
            for p in parts
            if p.first_offset is not None and p.last_offset is not None
        ]
        return WindowResult.of(
            baseline,
            evaluation,
            self.spec.span(window.window_start_ms),
            hist=hist,
            emitted_at=format_rfc3339_ms(emitted_ms),
            partial=(window.model_id, window.window_start_ms) in self.partial_windows,
            source_offsets=offsets,
        )
