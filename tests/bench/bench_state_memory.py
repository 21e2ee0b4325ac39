"""Memory per model and feature: what one source partition's open windows (stage 1's
partials) and the models' baselines take, measured with tracemalloc while folding events
through the same code as a worker (fold_record into a PartitionBinner). Prints, never
asserts. docs/operations.md ("Sizing") uses these numbers."""

from __future__ import annotations

import dataclasses
import gc
import platform
import tracemalloc

import numpy as np
import orjson

from app.baseline.model import Baseline
from app.baseline.registry import BaselineRegistry
from app.binning.histogram import HistogramOps
from app.contracts.decode import DecodeLimits
from app.pipeline.fold import fold_record
from app.windows.binner import PartitionBinner
from app.windows.spec import WindowSpec
from tests.bench.bench_engine import _baseline

START_MS = 1_795_762_800_000
EVENTS_PER_MODEL = 200
NUMERIC, CATEGORICAL = 20, 5  # + the prediction: 26 profiled columns, as bench_engine


def _model(i: int, rng: np.random.Generator) -> Baseline:
    base = _baseline(NUMERIC, CATEGORICAL, rng)
    return dataclasses.replace(base, model_id=f"model-{i:04d}")


def _events(model_id: str, rng: np.random.Generator) -> list[bytes]:
    out = []
    for i in range(EVENTS_PER_MODEL):
        features: dict[str, object] = {
            f"num_{j:02d}": float(v) for j, v in enumerate(rng.lognormal(1.0, 1.2, NUMERIC))
        }
        features |= {f"cat_{j}": f"cat_{int(rng.integers(60)):02d}" for j in range(CATEGORICAL)}
        doc = {
            "model_id": model_id,
            "timestamp": START_MS + i,
            "features": features,
            "prediction": float(rng.uniform()),
        }
        out.append(orjson.dumps(doc))
    return out


def _measure(models: int, rng: np.random.Generator) -> tuple[int, int]:
    """Bytes held by (baselines in the registry, one partition's open windows)."""
    raw = [_events(f"model-{i:04d}", rng) for i in range(models)]
    gc.collect()
    tracemalloc.start()
    registry = BaselineRegistry()
    for i in range(models):
        registry.add(_model(i, rng), 0)
    gc.collect()
    after_registry = tracemalloc.get_traced_memory()[0]
    binner = PartitionBinner(0, WindowSpec.from_seconds(3600, 60), HistogramOps(), registry.choose)
    limits = DecodeLimits()
    offset = 0
    for events in raw:
        for msg in events:
            fold_record(binner, registry, limits, offset, msg, now_ms=START_MS)
            offset += 1
    gc.collect()
    after_windows = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del binner, registry
    return after_registry, after_windows - after_registry


def run() -> None:
    rng = np.random.default_rng(11)
    columns = NUMERIC + CATEGORICAL + 1
    print(
        f"conditions: Python {platform.python_version()}, tracemalloc (Python allocations, "
        f"numpy buffers included), models of {NUMERIC} numeric (20 bins) + {CATEGORICAL} "
        f"categorical (top 50) features + the prediction = {columns} columns, one open window "
        f"per model on one partition, {EVENTS_PER_MODEL} events per model"
    )
    for models in (10, 100):
        registry, windows = _measure(models, rng)
        per_cell = models * columns
        print(
            f"{models:>4} models: baselines {registry / 2**20:6.2f} MiB "
            f"({registry / per_cell / 1024:.1f} KiB per model x column); "
            f"open windows of one partition {windows / 2**20:6.2f} MiB "
            f"({windows / per_cell / 1024:.1f} KiB per model x column x open window)"
        )
