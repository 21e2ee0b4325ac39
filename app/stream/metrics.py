"""A small Prometheus text-format registry (counters and gauges with labels).

Hand-written rather than prometheus_client: Driftline needs a dozen series, and keeping the
hot path to a dict increment avoids a per-event lock and a dependency.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from app.pipeline.results import WindowResult

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@dataclass
class Metric:
    name: str
    help: str
    kind: str  # "counter" | "gauge"
    values: dict[Labels, float] = field(default_factory=lambda: defaultdict(float))

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.values[tuple(sorted(labels.items()))] += amount

    def set(self, value: float, **labels: str) -> None:
        self.values[tuple(sorted(labels.items()))] = value

    def remove(self, **labels: str) -> None:
        """Drop a series (e.g. a partition this worker no longer owns)."""
        self.values.pop(tuple(sorted(labels.items())), None)

    def get(self, **labels: str) -> float:
        return self.values.get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        for labels, value in sorted(self.values.items()):
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            lines.append(
                f"{self.name}{{{label_text}}} {value:.17g}"
                if labels
                else f"{self.name} {value:.17g}"
            )
        return lines


class Registry:
    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}

    def counter(self, name: str, help: str) -> Metric:
        return self._metrics.setdefault(name, Metric(name, help, "counter"))

    def gauge(self, name: str, help: str) -> Metric:
        return self._metrics.setdefault(name, Metric(name, help, "gauge"))

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics.values():
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"


class DriftlineMetrics:
    """The series a worker exports on /metrics."""

    def __init__(self) -> None:
        r = self.registry = Registry()
        self.events_in = r.counter("driftline_events_in_total", "Input messages read, by model.")
        self.events_valid = r.counter(
            "driftline_events_valid_total", "Valid events folded into windows, by model."
        )
        self.invalid = r.counter(
            "driftline_events_invalid_total", "Messages sent to the dead-letter topic, by reason."
        )
        self.late = r.counter(
            "driftline_events_late_total",
            "Events later than the allowed lateness (sent to the side output), by model.",
        )
        self.windows_closed = r.counter(
            "driftline_windows_closed_total", "Window results emitted, by model and status."
        )
        self.alerts = r.counter("driftline_alerts_total", "Drift events emitted, by model.")
        self.close_lag = r.gauge(
            "driftline_window_close_lag_seconds",
            "Wall-clock time of the last close minus the end of the window it closed, by model.",
        )
        self.duplicates = r.counter(
            "driftline_duplicate_partials_total", "Redelivered partials ignored by stage 2."
        )
        self.input_lag = r.gauge(
            "driftline_input_lag_records",
            "Input records not yet folded in, per source partition this worker owns.",
        )
        self.watermark = r.gauge(
            "driftline_watermark_seconds",
            "Closed-up-to time per source partition and model (epoch s).",
        )
        self.feature_stat = r.gauge(
            "driftline_feature_statistic",
            "Latest drift statistic per model, feature and statistic.",
        )
        self.feature_drifted = r.gauge(
            "driftline_feature_drifted", "1 if the feature drifted in the model's latest window."
        )

    def window_closed(self, result: WindowResult, close_lag_s: float) -> None:
        """A window result went out ``close_lag_s`` after the window's end."""
        m = result.model_id
        self.windows_closed.inc(model=m, status=result.status)
        self.close_lag.set(close_lag_s, model=m)
        for f in result.features:
            for stat, value in f.stats.as_dict().items():
                self.feature_stat.set(value, model=m, feature=f.name, statistic=stat)
            self.feature_drifted.set(float(f.drifted), model=m, feature=f.name)
