"""The builder's KS grid: quantile cells merged with the bins, counts that add up to
them, none for columns that are already exact (few distinct values) or with
--ks-cells 0, and a document that loads back as format 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner

from app.baseline.build import BuildOptions, build_baseline
from app.baseline.codec import dump_baseline, load_baseline
from app.baseline.model import Baseline, coarse_index
from app.cli import cli
from tests.factories import write_csv


def _csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    x = rng.normal(size=5000).round(6)
    flag = rng.integers(0, 2, size=5000)
    return write_csv(tmp_path / "t.csv", ["x", "flag"], zip(x.tolist(), flag.tolist(), strict=True))


def _build(path: Path, **options: int) -> Baseline:
    return build_baseline(path, BuildOptions(model_id="m", **options)).baseline  # type: ignore[arg-type]


def test_a_continuous_column_gets_a_grid_holding_its_bins(tmp_path: Path) -> None:
    b = _build(_csv(tmp_path), bins=20, ks_cells=500)
    x = b.features[0].numeric
    assert x is not None and x.ks_edges is not None and x.ks_counts is not None
    assert set(x.edges) <= set(x.ks_edges)
    assert (x.ks_edges[0], x.ks_edges[-1]) == (x.edges[0], x.edges[-1])
    assert 500 <= len(x.ks_edges) - 1 <= 520
    added = [0] * len(x.counts)
    for c, n in zip(coarse_index(x.edges, x.ks_edges), x.ks_counts, strict=True):
        added[c] += n
    assert tuple(added) == x.counts
    flag = b.features[1].numeric
    assert flag is not None and flag.ks_edges is None  # 2 values: the bins are exact
    dump_baseline(b, tmp_path / "b.json")
    assert load_baseline(tmp_path / "b.json") == b


def test_no_grid_with_ks_cells_0_and_the_id_of_a_grid_free_build(tmp_path: Path) -> None:
    path = _csv(tmp_path)
    plain = _build(path, ks_cells=0)
    assert all(f.numeric is not None and f.numeric.ks_edges is None for f in plain.features)
    assert plain.baseline_id != _build(path).baseline_id
    out = tmp_path / "b.json"
    result = CliRunner().invoke(
        cli,
        [
            "baseline",
            "build",
            "--input",
            str(path),
            "--model-id",
            "m",
            "--ks-cells",
            "0",
            "--no-progress",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert load_baseline(out).baseline_id == plain.baseline_id
    assert b'"schema_version": 1' in out.read_bytes()
