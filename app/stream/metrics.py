"""The series a worker exports on /metrics, on ``prometheus_client``.

Cardinality is bounded by the baselines, never by the input: a ``model`` label carries a
model id only while the model has a baseline on this worker (``baseline_added``), and
everything else is counted under ``model="unknown"``, so random model ids in the input
cannot grow /metrics. Feature series exist only for features of the model's baselines.
When a model's baseline is withdrawn (``baseline_withdrawn``) every series naming it is
removed and its later events count under ``unknown``.

Names follow Prometheus conventions (base units, ``_total`` counters,
``_timestamp_seconds`` timestamps); the README's metrics reference lists them all.
Rendering (``render``) is thread-safe and is run off the event loop by the web page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase

from app import __version__
from app.baseline.model import Baseline
from app.pipeline.results import WindowResult
from app.stream.feature_metrics import DEFAULT_STATISTICS, FeatureRow, FeatureStatistics

# The ``*_created`` series prometheus_client adds to every counter and histogram child
# would double the series count and tell an operator nothing the process start time does not.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client

UNKNOWN = "unknown"
# What ``generate_latest`` writes: the text format 0.0.4, which every Prometheus 2.x reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
M = TypeVar("M", bound=MetricWrapperBase)

# Close latency: a window result goes out once every source partition passed the window's
# end plus the allowed lateness, so seconds to a few minutes are normal and an hour is not.
CLOSE_LATENCY_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class DriftlineMetrics:
    """The worker's registry and the named series stages update."""

    def __init__(
        self, version: str = __version__, statistics: Iterable[str] = DEFAULT_STATISTICS
    ) -> None:
        """``statistics``: the window-result statistics exported per feature (a subset of
        ``FAMILY_OF``; setting DRIFTLINE_METRICS_FEATURE_STATISTICS)."""
        self.statistics = frozenset(statistics)
        r = self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=r)
        Info("driftline_build", "Driftline version of this worker.", registry=r).info(
            {"version": version}
        )
        self.events_in = Counter(
            "driftline_events_in",
            "Input messages read, by model (unknown: no baseline, or not a prediction event).",
            ["model"],
            registry=r,
        )
        self.events_valid = Counter(
            "driftline_events_valid",
            "Valid events folded into windows, by model.",
            ["model"],
            registry=r,
        )
        self.invalid = Counter(
            "driftline_events_invalid",
            "Messages sent to the dead-letter topic or side output, by reason.",
            ["reason"],
            registry=r,
        )
        self.late = Counter(
            "driftline_events_late",
            "Events later than the allowed lateness (sent to the side output), by model.",
            ["model"],
            registry=r,
        )
        self.windows_closed = Counter(
            "driftline_windows_closed",
            "Window results emitted, by model and status.",
            ["model", "status"],
            registry=r,
        )
        self.alerts = Counter(
            "driftline_alerts", "Drift events emitted, by model.", ["model"], registry=r
        )
        self.incident_events = Counter(
            "driftline_incident_events",
            "Drift incident lifecycle events emitted (opened, updated, resolved), by model.",
            ["model", "event"],
            registry=r,
        )
        self.close_latency = Histogram(
            "driftline_window_close_latency_seconds",
            "Wall-clock time from a window's end to its result going out, by model.",
            ["model"],
            buckets=CLOSE_LATENCY_BUCKETS,
            registry=r,
        )
        self.duplicates = Counter(
            "driftline_duplicate_partials",
            "Redelivered partials ignored by stage 2.",
            registry=r,
        )
        self.input_lag = Gauge(
            "driftline_input_lag_records",
            "Input records not yet folded in, per source partition this worker owns.",
            ["partition"],
            registry=r,
        )
        self.watermark = Gauge(
            "driftline_watermark_timestamp_seconds",
            "Event time up to which a model's windows are complete on a source partition "
            "(Unix time).",
            ["model", "partition"],
            registry=r,
        )
        # What /ready answers, as a series: alert rules and the dashboard need readiness over
        # time, and a probe's 503 is not in Prometheus. 0 until the app wires its check in.
        self.ready = Gauge(
            "driftline_ready",
            "1 while the worker is ready (GET /ready answers 200), else 0.",
            registry=r,
        )
        # Not in the registry: rendered from per-model cached text (app.stream.feature_metrics).
        self.features = FeatureStatistics()
        # model -> names of the features of its baselines (every version seen).
        self._baseline_features: dict[str, frozenset[str]] = {}
        # model -> (metric, label values) of every child naming it, for removal on withdrawal.
        self._children: dict[str, set[tuple[MetricWrapperBase, tuple[str, ...]]]] = {}
        self._lock = threading.Lock()

    # -- labels --------------------------------------------------------------------------
    def model_label(self, model: str | None) -> str:
        """The model's own id if it has a baseline here, else ``unknown``."""
        return model if model is not None and model in self._baseline_features else UNKNOWN

    def _child(self, metric: M, model: str, *rest: str) -> M:
        """The metric's child for ``model`` (first label) and the other label values."""
        label = self.model_label(model)
        values = (label, *rest)
        if label != UNKNOWN:
            with self._lock:
                self._children.setdefault(label, set()).add((metric, values))
        return metric.labels(*values)

    # -- baselines -----------------------------------------------------------------------
    def baseline_added(self, baseline: Baseline) -> None:
        """A baseline version of the model is known: its id and features may be labels."""
        names = frozenset(f.name for f in baseline.features)
        with self._lock:
            known = self._baseline_features.get(baseline.model_id, frozenset())
            self._baseline_features[baseline.model_id] = known | names

    def baseline_withdrawn(self, model: str) -> None:
        """The model's baseline was withdrawn: remove every series naming it."""
        with self._lock:
            self._baseline_features.pop(model, None)
            children = self._children.pop(model, set())
        for metric, values in children:
            metric.remove(*values)
        self.features.drop_model(model)

    # -- updates from the stages ----------------------------------------------------------
    def count(self, metric: Counter, counts: Mapping[str, int]) -> None:
        """Add a batch's per-model counts to a by-model counter."""
        by_label: dict[str, int] = {}
        for model, n in counts.items():
            label = self.model_label(model)
            by_label[label] = by_label.get(label, 0) + n
        for label, n in by_label.items():
            self._child(metric, label).inc(n)

    def model_event(self, metric: Counter, model: str | None, n: float = 1.0) -> None:
        self._child(metric, model or UNKNOWN).inc(n)

    def incident_event(self, model: str, event: str) -> None:
        self._child(self.incident_events, model, event).inc()

    def set_watermark(self, partition: int, model: str | None, seconds: float) -> None:
        self._child(self.watermark, model or UNKNOWN, str(partition)).set(seconds)

    def window_closed(self, result: WindowResult, close_latency_s: float) -> None:
        """A window result went out ``close_latency_s`` after the window's end."""
        model = result.model_id
        self._child(self.windows_closed, model, result.status).inc()
        self._child(self.close_latency, model).observe(close_latency_s)
        wanted = self._baseline_features.get(model)
        if wanted is None:
            return  # no baseline (withdrawn meanwhile): no feature series
        self.features.set_model(model, _rows(result, wanted, self.statistics))

    def forget_partition(self, partition: int) -> None:
        """This worker no longer owns the source partition."""
        self.input_lag.remove(str(partition))

    def readiness(self, check: Callable[[], bool]) -> None:
        """``driftline_ready`` reads ``check`` at every scrape (from the render thread: the
        check only reads flags)."""
        self.ready.set_function(lambda: 1.0 if check() else 0.0)

    # -- exposition ----------------------------------------------------------------------
    def render_chunks(self) -> list[bytes]:
        """The Prometheus text format (0.0.4) of every series, as chunks to send in order;
        safe from any thread (the web page calls it in one)."""
        return [generate_latest(self.registry), *self.features.render()]

    def render(self) -> bytes:
        return b"".join(self.render_chunks())


def _rows(
    result: WindowResult, wanted: frozenset[str], statistics: frozenset[str]
) -> Iterable[FeatureRow]:
    for f in result.features:
        if f.name not in wanted:
            continue
        stats = tuple(
            (key, float(value)) for key, value in f.stats.as_dict().items() if key in statistics
        )
        yield FeatureRow(f.name, stats, f.drifted)
