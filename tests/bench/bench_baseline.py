"""Baseline build speed and memory on a generated CSV (40 numeric + 10 categorical columns).

DRIFTLINE_BENCH_BASELINE_ROWS sets the row count (default 1,000,000). The CSV is written
to a temporary directory (about 360 bytes a row) and removed afterwards.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from app.baseline.build import BuildOptions, build_baseline

NUMERIC = 40
CATEGORICAL = 10
CARDINALITY = (3, 5, 10, 20, 50, 100, 1_000, 5_000, 20_000, 100_000)
CHUNK = 250_000


def generate(path: Path, rows: int, seed: int = 1) -> None:
    """Numeric columns: normal(j, 1 + j) rounded to 4 decimals, 1% empty. Categorical:
    Zipf-distributed labels over 3 to 100,000 values."""
    rng = np.random.default_rng(seed)
    vocab = [pa.array([f"c{j}_{k}" for k in range(card)]) for j, card in enumerate(CARDINALITY)]
    writer: pa_csv.CSVWriter | None = None
    with open(path, "wb") as f:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            cols: dict[str, pa.Array] = {}
            for j in range(NUMERIC):
                x = np.round(rng.normal(j, 1 + j, n), 4)
                cols[f"n{j}"] = pa.array(x, mask=rng.random(n) < 0.01)
            for j, card in enumerate(CARDINALITY):
                idx = (rng.zipf(1.5, n) - 1) % card
                cols[f"c{j}"] = pc.take(vocab[j], pa.array(idx))
            table = pa.table(cols)
            if writer is None:
                options = pa_csv.WriteOptions(quoting_style="none")
                writer = pa_csv.CSVWriter(f, table.schema, write_options=options)
            writer.write_table(table)
        if writer is not None:
            writer.close()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run() -> None:
    rows = int(os.environ.get("DRIFTLINE_BENCH_BASELINE_ROWS", "1000000"))
    with tempfile.TemporaryDirectory(prefix="driftline-bench-") as tmp:
        path = Path(tmp) / "train.csv"
        t0 = time.perf_counter()
        generate(path, rows)
        gen_s = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        rss_before = _peak_rss_mb()
        t0 = time.perf_counter()
        result = build_baseline(path, BuildOptions(model_id="bench", progress=False))
        wall = time.perf_counter() - t0
    kinds: dict[str, int] = {}
    for f in result.baseline.features:
        kinds[f.type] = kinds.get(f.type, 0) + 1
    print(
        f"conditions: {rows:,} rows x {NUMERIC + CATEGORICAL} columns "
        f"({NUMERIC} numeric, {CATEGORICAL} categorical, cardinality 3..100k), "
        f"CSV {size_mb:,.0f} MB "
        f"(generated in {gen_s:.0f} s, page cache warm); {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, numpy {np.__version__}, pyarrow {pa.__version__}"
    )
    print(f"profiled: {kinds}, baseline {result.baseline.baseline_id}")
    print(f"wall time: {wall:.1f} s")
    print(f"rows/s: {rows / wall:,.0f}  ({size_mb / wall:,.0f} MB/s of CSV)")
    print(f"peak RSS: {_peak_rss_mb():,.0f} MB (before the build: {rss_before:,.0f} MB)")
    sys.stdout.flush()


if __name__ == "__main__":
    run()
