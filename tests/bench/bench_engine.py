"""Drift engine speed: (a) decode + bin raw events into a window histogram on one core,
(b) evaluate one closed window of 50 features. Prints, never asserts."""

from __future__ import annotations

import os
import platform
import statistics
import time

import numpy as np
import orjson

from app.baseline.build import DEFAULT_KS_CELLS
from app.baseline.model import Baseline, FeatureBaseline
from app.baseline.registry import BaselineRegistry
from app.binning.histogram import HistogramOps, WindowHistogram
from app.codecs.window_result import encode_window_result
from app.contracts.decode import DecodeLimits, decode_event
from app.native import NativeModule, load, status_line
from app.native.folder import fold_records
from app.pipeline.fold import fold_record
from app.pipeline.results import WindowResult
from app.stats.decision import evaluate_window
from app.stats.rules import DriftConfig
from app.windows.binner import PartitionBinner
from app.windows.spec import WindowSpan, WindowSpec
from tests.factories import categorical_from_values, make_baseline, numeric_from_values

EVENTS = 200_000
REPEATS = 3
FOLD_BATCH = 5000  # records per consumer batch (replay's getmany max_records)
BINS = 20  # app.baseline.build default
KS_CELLS = DEFAULT_KS_CELLS  # and its KS grid
TOP_K = 50  # app.baseline.build default
START_MS = 1_795_762_800_000
CATEGORIES = [f"cat_{i:02d}" for i in range(60)]  # more than TOP_K: "other" is used


def _baseline(n_numeric: int, n_categorical: int, rng: np.random.Generator) -> Baseline:
    features: list[FeatureBaseline] = []
    for i in range(n_numeric):
        features.append(
            numeric_from_values(
                f"num_{i:02d}", rng.lognormal(i % 3, 1, 20_000), BINS, ks_cells=KS_CELLS
            )
        )
    for i in range(n_categorical):
        values = rng.choice(CATEGORIES, size=20_000, p=_shares(len(CATEGORIES)))
        features.append(categorical_from_values(f"cat_{i}", values.tolist(), TOP_K))
    features.append(
        numeric_from_values(
            "__prediction__",
            rng.uniform(0, 1, 20_000),
            BINS,
            role="prediction",
            ks_cells=KS_CELLS,
        )
    )
    return make_baseline(*features, model_id="fraud-scorer")


def _shares(k: int) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1)
    return w / float(w.sum())


def _events(n: int, rng: np.random.Generator) -> list[bytes]:
    nums = rng.lognormal(1.0, 1.2, size=(n, 20)).round(4).tolist()
    cats = rng.choice(CATEGORIES, size=(n, 5), p=_shares(len(CATEGORIES))).tolist()
    preds = rng.uniform(0, 1, n).round(4).tolist()
    out = []
    for i in range(n):
        features: dict[str, object] = {f"num_{j:02d}": nums[i][j] for j in range(20)}
        features |= {f"cat_{j}": cats[i][j] for j in range(5)}
        if i % 50 == 0:
            features["num_03"] = None
        doc = {
            "model_id": "fraud-scorer",
            "model_version": "3.2.0",
            "timestamp": START_MS + i // 4,
            "features": features,
            "prediction": preds[i],
        }
        out.append(orjson.dumps(doc))
    return out


def _ingest_rate(baseline: Baseline, raw: list[bytes]) -> tuple[float, float, float]:
    """Events/s of (decode_event + bin, orjson.loads + bin, bin only), best of REPEATS."""
    both = plain = binning = float("inf")
    for _ in range(REPEATS):
        hist = WindowHistogram.empty(baseline)
        start = time.perf_counter()
        for msg in raw:
            doc = orjson.loads(msg)
            hist.add_event(doc["features"], doc["prediction"])
        hist.cells  # noqa: B018 - reading the counts flushes the last batch
        plain = min(plain, time.perf_counter() - start)
        hist = WindowHistogram.empty(baseline)
        start = time.perf_counter()
        for msg in raw:
            ev = decode_event(msg)
            hist.add_event(ev.features, ev.prediction)
        hist.cells  # noqa: B018
        both = min(both, time.perf_counter() - start)
        decoded = [orjson.loads(msg) for msg in raw]
        hist = WindowHistogram.empty(baseline)
        start = time.perf_counter()
        for doc in decoded:
            hist.add_event(doc["features"], doc["prediction"])
        hist.cells  # noqa: B018
        binning = min(binning, time.perf_counter() - start)
    assert hist.n_events == len(raw)
    return len(raw) / both, len(raw) / plain, len(raw) / binning


def _fold_rate(baseline: Baseline, raw: list[bytes], native: NativeModule | None) -> float:
    """Events/s of stage 1's whole fold (decode, baseline choice, per-model clock,
    binning) in consumer batches of FOLD_BATCH records, through the native path or
    (None) fold_record per record, best of REPEATS."""
    registry = BaselineRegistry()
    registry.add(baseline, 0)
    limits = DecodeLimits()
    best = float("inf")
    values: list[bytes | None] = list(raw)
    for _ in range(REPEATS):
        binner = PartitionBinner(
            0, WindowSpec.from_seconds(3600, 60), HistogramOps(), registry.choose
        )
        start = time.perf_counter()
        if native is None:
            for offset, msg in enumerate(raw):
                fold_record(binner, registry, limits, offset, msg, now_ms=START_MS)
        else:
            for at in range(0, len(values), FOLD_BATCH):
                batch = values[at : at + FOLD_BATCH]
                offsets = range(at, at + len(batch))
                for _item in fold_records(
                    binner, registry, limits, offsets, batch, now_ms=START_MS, native=native
                ):
                    pass
        binner.on_end()
        best = min(best, time.perf_counter() - start)
    return len(raw) / best


def _window(baseline: Baseline, n_events: int, rng: np.random.Generator) -> WindowHistogram:
    hist = WindowHistogram.empty(baseline)
    hist.n_events = n_events
    for i, f in enumerate(baseline.features):
        prof = f.numeric or f.categorical
        assert prof is not None
        counts = f.numeric.ks_counts if f.numeric is not None else None
        p = np.asarray(prof.counts if counts is None else counts, float) + 1.0
        hist.cells[i][:] = rng.multinomial(n_events - 25, p / p.sum()).tolist()
        hist.nulls[i] = 25
    return hist


def run() -> None:
    rng = np.random.default_rng(7)
    print(
        f"conditions: Python {platform.python_version()}, numpy {np.__version__}, 1 core of "
        f"{os.cpu_count()}, best of {REPEATS} passes of {EVENTS:,} events"
    )
    baseline = _baseline(20, 5, rng)
    raw = _events(EVENTS, rng)
    both, plain, binning = _ingest_rate(baseline, raw)
    print(
        "(a) ingest: app.contracts.decode_event + WindowHistogram.add_event, 20 numeric "
        f"({BINS} quantile bins, a KS grid of {KS_CELLS}) + 5 categorical (top {TOP_K} "
        f"of 60) features + numeric prediction, {len(raw[0])} bytes/event"
    )
    print(
        f"    decode_event + bin {both:>10,.0f} events/s  ({1e6 / both:.2f} us/event; "
        "target > 150,000)"
    )
    print(f"    orjson.loads + bin {plain:>10,.0f} events/s  ({1e6 / plain:.2f} us/event)")
    print(f"    bin only           {binning:>10,.0f} events/s  ({1e6 / binning:.2f} us/event)")
    folded = _fold_rate(baseline, raw, None)
    print(
        f"    fold_record        {folded:>10,.0f} events/s  ({1e6 / folded:.2f} us/event; "
        "decode + baseline choice + event-time clock + bin; the pure-Python path)"
    )
    native = load()
    if native is None:
        print(f"    native fold        not measured: {status_line()}")
    else:
        fast = _fold_rate(baseline, raw, native)
        print(
            f"    native fold        {fast:>10,.0f} events/s  ({1e6 / fast:.2f} us/event; the "
            f"same fold through app.native in batches of {FOLD_BATCH:,}: {fast / folded:.1f}x)"
        )
    print(f"    (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores while measuring)")

    wide = _baseline(40, 10, rng)
    hist = _window(wide, 5000, rng)
    rules = DriftConfig().for_model(wide.model_id)
    span = WindowSpan(START_MS, 3600)
    evaluate_window(wide, hist, rules)  # warm caches
    t_eval = []
    t_doc = []
    for _ in range(200):
        start = time.perf_counter()
        ev = evaluate_window(wide, hist, rules)
        mid = time.perf_counter()
        encode_window_result(
            WindowResult.of(wide, ev, span, hist=hist, emitted_at="2026-11-27T08:00:00Z")
        )
        t_eval.append(mid - start)
        t_doc.append(time.perf_counter() - mid)
    print(
        f"(b) evaluate one window: 50 features (40 numeric x {BINS + 2} bins and a "
        f"KS grid of {KS_CELLS} cells, 10 categorical "
        f"x up to {TOP_K + 1} cells) + prediction, 5,000 events, median of 200"
    )
    print(
        f"    evaluate_window {statistics.median(t_eval) * 1e3:6.2f} ms (target < 5 ms); "
        f"+ window result JSON {statistics.median(t_doc) * 1e3:5.2f} ms"
    )


if __name__ == "__main__":
    run()
