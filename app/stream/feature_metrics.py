"""Per-feature drift statistics of each model's latest window, as Prometheus gauges.

The window result's ``stats`` object mixes quantities of different units: p-values, test
statistics, divergences, a Wasserstein distance in the feature's own units, and shares of
events. One metric per unit keeps every series' value comparable with its neighbours (a
sum or a threshold over ``driftline_feature_divergence`` means something; over a metric
mixing p-values and PSI it did not). Within a family the ``statistic`` label is the
window result's key, so a series maps back to the contract by name.

Each model's text is rendered once, when its window closes (about 0.3 ms for 50
features, written as prometheus_client's exposition writes it), and kept; a scrape joins
the texts. Rendering every sample at every scrape instead took seconds of Python
with 1,000 models of 50 features, redid work for models that had not closed since, and
stalled the event loop for hundreds of ms even with the render in a thread (the render
and the collector walking its objects hold the GIL). A model whose
baseline is withdrawn is one ``pop``. The lock (held only to copy or swap an entry) lets a
scrape run in another thread, though the web page scrapes on the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.stream.feature_families import (
    DIVERGENCE,
    DRIFTED,
    FAMILY_OF,
    PVALUE,
    RATIO,
    TEST_STATISTIC,
    WASSERSTEIN,
)
from app.stream.model_series import escape_label_value, go_float

_HELP: Mapping[str, str] = {
    PVALUE: "P-value (probability, 0 to 1) of a drift test on the feature in the model's "
    "latest window; statistic is the test (ks_pvalue, chi2_pvalue, null_rate_pvalue).",
    TEST_STATISTIC: "Test statistic (dimensionless) of the feature in the model's latest "
    "window: ks is the Kolmogorov-Smirnov distance (0 to 1), chi2 the chi-square statistic.",
    DIVERGENCE: "Divergence (dimensionless) of the feature's window histogram from its "
    "baseline in the model's latest window: psi and kl in nats, js the Jensen-Shannon "
    "distance (base 2, 0 to 1).",
    WASSERSTEIN: "Wasserstein-1 distance between the feature's window and baseline "
    "histograms in the model's latest window, in the feature's own units (numeric features).",
    RATIO: "Shares of the feature's events (ratio, 0 to 1; null_rate_change is a signed "
    "difference of two ratios) in the model's latest window: null_rate, baseline_null_rate, "
    "null_rate_change, out_of_range_share, unseen_share.",
    DRIFTED: "1 if the feature drifted in the model's latest window, else 0.",
}
_WITH_STATISTIC = (PVALUE, TEST_STATISTIC, DIVERGENCE, RATIO)


@dataclass(frozen=True)
class FeatureRow:
    """One feature of a model's latest window: its exported statistics and verdict."""

    feature: str
    stats: tuple[tuple[str, float], ...]  # (window-result key, value), exported keys only
    drifted: bool


class FeatureStatistics:
    """The latest window's statistics per model and feature, as text (module docstring)."""

    def __init__(self) -> None:
        # model -> family name -> that model's sample lines of the family
        self._text: dict[str, dict[str, bytes]] = {}
        self._lock = threading.Lock()

    def set_model(self, model: str, rows: Iterable[FeatureRow]) -> None:
        text = _render_model(model, rows)
        with self._lock:
            self._text[model] = text

    def drop_model(self, model: str) -> None:
        with self._lock:
            self._text.pop(model, None)

    def render(self) -> list[bytes]:
        """The text format of every family, in chunks to write in order: each family's
        ``# HELP``/``# TYPE`` header, then its sample lines model by model. Chunks, not one
        string: a scrape of 50 MB then needs no second copy and is written a chunk at a
        time."""
        with self._lock:
            latest = sorted(self._text.items())
        out: list[bytes] = []
        for name in FAMILIES:
            chunks = [text[name] for _, text in latest if name in text]
            if chunks:
                out.append(_HEADERS[name])
                out.extend(chunks)
        return out


FAMILIES = (PVALUE, TEST_STATISTIC, DIVERGENCE, WASSERSTEIN, RATIO, DRIFTED)


def _family(name: str) -> GaugeMetricFamily:
    labels = ["model", "feature", "statistic"] if name in _WITH_STATISTIC else None
    return GaugeMetricFamily(name, _HELP[name], labels=labels or ["model", "feature"])


def _exposition(family: Metric) -> bytes:
    """prometheus_client's text for one family: two header lines, then its samples."""
    return generate_latest(_Families([family]))


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


_HEADERS = {name: _exposition(_family(name)) for name in FAMILIES}


def _render_model(model: str, rows: Iterable[FeatureRow]) -> dict[str, bytes]:
    """One model's sample lines per family (families without a sample left out), written
    as ``prometheus_client`` writes them (label names sorted, its float format; a unit test
    compares) but straight to text: through its families and exposition this took 2-4 ms
    per 50-feature model on the event loop at every window close, 17 ms on a busy core."""
    m = escape_label_value(model)
    lines: dict[str, list[str]] = {}
    drifted = lines[DRIFTED] = []
    for row in rows:
        f = escape_label_value(row.feature)
        for key, value in row.stats:
            name = FAMILY_OF[key]
            if name == WASSERSTEIN:
                line = f'{name}{{feature="{f}",model="{m}"}} {go_float(value)}\n'
            else:
                labels = f'feature="{f}",model="{m}",statistic="{escape_label_value(key)}"'
                line = f"{name}{{{labels}}} {go_float(value)}\n"
            lines.setdefault(name, []).append(line)
        verdict = "1.0" if row.drifted else "0.0"
        drifted.append(f'{DRIFTED}{{feature="{f}",model="{m}"}} {verdict}\n')
    return {name: "".join(lines[name]).encode() for name in FAMILIES if lines.get(name)}
