"""The series a worker exports on /metrics, on ``prometheus_client``.

Cardinality is bounded by the baselines, never by the input: a ``model`` label carries a
model id only while the model has a baseline on this worker (``baseline_added``), and
everything else is counted under ``model="unknown"``, so random model ids in the input
cannot grow /metrics. Feature series exist only for features of the model's baselines.
When a model's baseline is withdrawn (``baseline_withdrawn``) every series naming it is
removed and its later events count under ``unknown``.

Names follow Prometheus conventions (base units, ``_total`` counters,
``_timestamp_seconds`` timestamps); the README's metrics reference lists them all.
The web page renders with ``render_async``: on the event loop in slices of at most
``SLICE_MODELS`` models, yielding in between (README, "Metrics").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Info,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from app import __version__
from app.baseline.model import Baseline
from app.pipeline.results import WindowResult
from app.stream.feature_families import DEFAULT_STATISTICS
from app.stream.feature_metrics import FeatureRow, FeatureStatistics
from app.stream.model_series import ModelFamily

# The ``*_created`` series prometheus_client adds to every counter and histogram child
# would double the series count and tell an operator nothing the process start time does not.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client

UNKNOWN = "unknown"
# What ``generate_latest`` writes: the text format 0.0.4, which every Prometheus 2.x reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Models whose text one step of a scrape joins (or renders, after an update) before it
# yields to the event loop: ~20 lines each, about a millisecond per step.
SLICE_MODELS = 100

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
        # By model: plain numbers rendered to text (app.stream.model_series), not
        # prometheus_client children, so a scrape of 1,000 models does not stall the loop.
        self.events_in = ModelFamily(
            "driftline_events_in",
            "Input messages read, by model (unknown: no baseline, or not a prediction event).",
            "counter",
        )
        self.events_valid = ModelFamily(
            "driftline_events_valid", "Valid events folded into windows, by model.", "counter"
        )
        self.invalid = Counter(
            "driftline_events_invalid",
            "Messages sent to the dead-letter topic or side output, by reason.",
            ["reason"],
            registry=r,
        )
        self.late = ModelFamily(
            "driftline_events_late",
            "Events later than the allowed lateness (sent to the side output), by model.",
            "counter",
        )
        self.windows_closed = ModelFamily(
            "driftline_windows_closed",
            "Window results emitted, by model and status.",
            "counter",
            ["status"],
        )
        self.alerts = ModelFamily("driftline_alerts", "Drift events emitted, by model.", "counter")
        self.incident_events = ModelFamily(
            "driftline_incident_events",
            "Drift incident lifecycle events emitted (opened, updated, resolved), by model.",
            "counter",
            ["event"],
        )
        self.close_latency = ModelFamily(
            "driftline_window_close_latency_seconds",
            "Wall-clock time from a window's end to its result going out, by model.",
            "histogram",
            buckets=CLOSE_LATENCY_BUCKETS,
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
        self.watermark = ModelFamily(
            "driftline_watermark_timestamp_seconds",
            "Event time up to which a model's windows are complete on a source partition "
            "(Unix time).",
            "gauge",
            ["partition"],
        )
        # What /ready answers, as a series: alert rules and the dashboard need readiness over
        # time, and a probe's 503 is not in Prometheus. 0 until the app wires its check in.
        self.ready = Gauge(
            "driftline_ready",
            "1 while the worker is ready (GET /ready answers 200), else 0.",
            registry=r,
        )
        # In exposition order, after the registry's families.
        self.by_model = (
            self.events_in,
            self.events_valid,
            self.late,
            self.windows_closed,
            self.alerts,
            self.incident_events,
            self.close_latency,
            self.watermark,
        )
        # Not in the registry: rendered from per-model cached text (app.stream.feature_metrics).
        self.features = FeatureStatistics()
        # model -> names of the features of its baselines (every version seen).
        self._baseline_features: dict[str, frozenset[str]] = {}

    # -- labels --------------------------------------------------------------------------
    def model_label(self, model: str | None) -> str:
        """The model's own id if it has a baseline here, else ``unknown``."""
        return model if model is not None and model in self._baseline_features else UNKNOWN

    # -- baselines -----------------------------------------------------------------------
    def baseline_added(self, baseline: Baseline) -> None:
        """A baseline version of the model is known: its id and features may be labels."""
        names = frozenset(f.name for f in baseline.features)
        known = self._baseline_features.get(baseline.model_id, frozenset())
        self._baseline_features[baseline.model_id] = known | names

    def baseline_withdrawn(self, model: str) -> None:
        """The model's baseline was withdrawn: remove every series naming it."""
        self._baseline_features.pop(model, None)
        for family in self.by_model:
            family.remove_model(model)
        self.features.drop_model(model)

    # -- updates from the stages ----------------------------------------------------------
    def count(self, family: ModelFamily, counts: Mapping[str, int]) -> None:
        """Add a batch's per-model counts to a by-model counter."""
        by_label: dict[str, int] = {}
        for model, n in counts.items():
            label = self.model_label(model)
            by_label[label] = by_label.get(label, 0) + n
        for label, n in by_label.items():
            family.inc(label, (), n)

    def model_event(self, family: ModelFamily, model: str | None, n: float = 1.0) -> None:
        family.inc(self.model_label(model), (), n)

    def incident_event(self, model: str, event: str) -> None:
        self.incident_events.inc(self.model_label(model), (event,))

    def set_watermark(self, partition: int, model: str | None, seconds: float) -> None:
        self.watermark.set(self.model_label(model), (str(partition),), seconds)

    def window_closed(self, result: WindowResult, close_latency_s: float) -> None:
        """A window result went out ``close_latency_s`` after the window's end."""
        model = result.model_id
        label = self.model_label(model)
        self.windows_closed.inc(label, (result.status,))
        self.close_latency.observe(label, close_latency_s)
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
    def render_steps(self) -> Iterator[list[bytes]]:
        """The Prometheus text format (0.0.4) of every series, as runs of chunks to send in
        order, each run a bounded slice of work (at most ``SLICE_MODELS`` models' text);
        ``render_async`` yields to the event loop between runs. Call on the event loop."""
        yield [generate_latest(self.registry)]  # build info, process, readiness: small
        for family in self.by_model:
            models = family.models()
            for i in range(0, len(models), SLICE_MODELS):
                run = [family.model_text(m) for m in models[i : i + SLICE_MODELS]]
                yield [family.header, *run] if i == 0 else run
        yield self.features.render()

    def render_chunks(self) -> list[bytes]:
        return [chunk for run in self.render_steps() for chunk in run]

    async def render_async(self) -> list[bytes]:
        """``render_chunks`` in slices, letting other tasks run in between: a model's text
        is rendered on its first scrape after an update, so a slice costs at most
        ``SLICE_MODELS`` models' lines (about a millisecond)."""
        chunks: list[bytes] = []
        for run in self.render_steps():
            chunks.extend(run)
            await asyncio.sleep(0)
        return chunks

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
