"""A numeric feature with a KS grid: windows count the grid's cells, add them up to the
baseline's bins, serialise them sparsely (histogram format 3), and the KS test runs on
them. Baselines without a grid keep format 2 and their bytes."""

from __future__ import annotations

import numpy as np
import pytest

from app.baseline.codec import baseline_from_dict, baseline_to_dict, compute_baseline_id
from app.baseline.model import Baseline, coarse_index
from app.binning.histogram import WindowHistogram
from app.errors import InputError
from app.stats.decision import evaluate_window
from app.stats.ks import ks_test, ks_test_grid
from app.stats.rules import DriftConfig
from tests.factories import categorical, make_baseline, numeric

EDGES = (0.0, 10.0, 100.0, 1000.0)
KS_EDGES = (0.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 300.0, 1000.0)
KS_COUNTS = (1, 2, 2, 1, 2, 2, 1, 3, 2, 1)


def _baseline() -> Baseline:
    return make_baseline(
        numeric("amount", EDGES, (1, 5, 5, 5, 1), ks_edges=KS_EDGES, ks_counts=KS_COUNTS),
        categorical("country", ("DE", "FR"), (9, 8, 0)),
    )


def _hist(values: list[object]) -> WindowHistogram:
    h = WindowHistogram.empty(_baseline())
    for v in values:
        h.add_event({"amount": v, "country": "DE"}, None)
    return h


def test_coarse_index_puts_every_grid_cell_in_the_bin_it_lies_in() -> None:
    assert coarse_index(EDGES, KS_EDGES) == (0, 1, 1, 1, 2, 2, 2, 3, 3, 4)


def test_a_window_counts_grid_cells_and_adds_them_up_to_the_bins() -> None:
    h = _hist([-1.0, 3.0, 3.0, 10.0, 60.0, 1000.0, 1000.5, None, "x"])
    assert h.cells[0].tolist() == [1, 0, 2, 0, 1, 0, 1, 0, 1, 1]
    assert h.coarse_cells(0) == [1, 2, 2, 1, 1]
    assert h.coarse_cells(1) == h.cells[1] == [9, 0, 0]
    assert (h.nulls[0], h.mismatched[0]) == (1, 1)


def test_format_3_keeps_only_the_non_zero_grid_cells_and_reads_back() -> None:
    h = _hist([3.0, 3.0, 60.0, 1000.5])
    doc = h.to_dict()
    assert doc["v"] == 3
    assert doc["features"] == {"amount": [0, 0, 0], "country": [0, 0, 0, 4, 0, 0]}
    assert doc["ks_cells"] == {"amount": [2, 2, 6, 1, 9, 1]}
    back = WindowHistogram.from_dict(_baseline(), doc)
    assert back == h
    assert back.cells[0].tolist() == [0, 0, 2, 0, 0, 0, 1, 0, 0, 1]
    empty = WindowHistogram.empty(_baseline()).to_dict()
    assert empty["ks_cells"] == {}
    assert WindowHistogram.from_dict(_baseline(), empty) == WindowHistogram.empty(_baseline())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ks_cells": {"amount": [2, 2, 2, 1]}}, "increasing"),
        ({"ks_cells": {"amount": [10, 1]}}, "increasing cells below 10"),
        ({"ks_cells": {"amount": [2, 0]}}, "non-zero"),
        ({"ks_cells": {"amount": [2]}}, r"\[cell, count, ...\]"),
        ({"ks_cells": {"amount": [1, 1, 2, -1]}}, "non-negative integers, got -1"),
        ({"ks_cells": {"amount": [-1, 1]}}, "non-negative integers, got -1"),
        ({"ks_cells": {"amount": [1, 1, 2, 1.0]}}, "non-negative integers, got 1.0"),
        ({"ks_cells": {"amount": [1, True]}}, "non-negative integers, got True"),
        ({"ks_cells": {"amount": [1, 2**64]}}, "beyond 64 bits"),
        ({"ks_cells": {"amount": [3, 1, 1, 1]}}, "increasing"),
        ({"ks_cells": {"country": [0, 1]}}, "which has no grid"),
        ({"v": 2}, "does not fit the baseline"),
    ],
)
def test_format_3_rejects_what_does_not_fit(change: dict[str, object], message: str) -> None:
    doc = _hist([3.0, 3.0, 60.0, 1000.5]).to_dict()
    doc.update(change)
    with pytest.raises(ValueError, match=message):
        WindowHistogram.from_dict(_baseline(), doc)


def test_a_baseline_without_a_grid_keeps_format_2() -> None:
    b = make_baseline(numeric("amount", EDGES, (1, 5, 5, 5, 1)))
    h = WindowHistogram.empty(b)
    h.add_event({"amount": 3.0}, None)
    doc = h.to_dict()
    assert doc["v"] == 2 and "ks_cells" not in doc
    assert doc["features"] == {"amount": [0, 0, 0, 0, 1, 0, 0, 0]}
    with pytest.raises(ValueError, match="does not fit the baseline"):
        WindowHistogram.from_dict(b, {**doc, "v": 3})


def test_merge_adds_grid_cells() -> None:
    a = _hist([3.0, 60.0])
    b = _hist([3.0, 2000.0])
    a.merge_from(b)
    assert a.cells[0].tolist() == [0, 0, 2, 0, 0, 0, 1, 0, 0, 1]
    assert a.n_events == 4


def test_ks_on_the_grid_is_the_python_reference_and_uses_the_grid() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        k = int(rng.integers(2, 60))
        base = [int(c) for c in rng.integers(0, 50, size=k)]
        win = [int(c) for c in rng.integers(0, 5, size=k)]
        cumulative = np.cumsum(np.asarray(base, dtype=np.int64))
        assert ks_test_grid(cumulative, base, win) == ks_test(base, win)
    # evaluate uses the grid: a window in one grid cell is farther from the baseline there
    # (D = 1 - 3/17) than on the coarse bins (1 - 6/17).
    h = _hist([3.0] * 2000)
    h.cells[0][:] = [0, 2000, 0, 0, 0, 0, 0, 0, 0, 0]
    result = evaluate_window(_baseline(), h, DriftConfig().for_model("m"))
    ks = result.features[0].stats
    assert ks.ks == pytest.approx(1 - 3 / 17)
    assert ks.ks_pvalue is not None and ks.ks_pvalue < 1e-6


def test_the_baseline_document_carries_the_grid_as_format_2() -> None:
    b = _baseline()
    doc = baseline_to_dict(b)
    assert doc["schema_version"] == 2
    assert doc["features"]["amount"]["ks_edges"] == list(KS_EDGES)
    assert doc["features"]["amount"]["ks_counts"] == list(KS_COUNTS)
    doc["baseline_id"] = compute_baseline_id(doc)
    back = baseline_from_dict(doc)
    assert back.features[0].numeric == b.features[0].numeric
    plain = baseline_to_dict(make_baseline(numeric("amount", EDGES, (1, 5, 5, 5, 1))))
    assert plain["schema_version"] == 1 and "ks_edges" not in plain["features"]["amount"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ks_counts": [1, 2, 2, 1, 2, 2, 1, 3, 1, 2]}, "do not add up to counts"),
        ({"ks_edges": [0.0, 2.5, 5.0, 11.0, 25.0, 50.0, 100.0, 300.0, 1000.0]}, "every edge"),
        ({"ks_edges": [0.0, 2.5, 2.5, 10.0, 25.0, 50.0, 100.0, 300.0, 1000.0]}, "increasing"),
        ({"ks_counts": [1, 2, 2, 1, 2, 2, 1, 3, 3]}, "9 edges need 10"),
        ({"ks_counts": None}, "ks_edges and ks_counts go together"),
        ({"ks_counts": [1, 2, 2, 1, 2, 2, 1, 3, 2, "1"]}, "must be an integer >= 0"),
        ({"ks_edges": [0.0, 2.5, 5.0, 10.0, "25", 50.0, 100.0, 300.0, 1000.0]}, "finite"),
    ],
)
def test_a_grid_that_does_not_fit_its_bins_is_refused(
    change: dict[str, object], message: str
) -> None:
    doc = baseline_to_dict(_baseline())
    amount = doc["features"]["amount"]
    for key, value in change.items():
        if value is None:
            del amount[key]
        else:
            amount[key] = value
    doc["baseline_id"] = compute_baseline_id(doc)
    with pytest.raises(InputError, match=message):
        baseline_from_dict(doc)


def test_schema_version_says_whether_there_is_a_grid() -> None:
    doc = baseline_to_dict(_baseline())
    doc["schema_version"] = 1
    doc["baseline_id"] = compute_baseline_id(doc)
    with pytest.raises(InputError, match="is 2 exactly when"):
        baseline_from_dict(doc)
