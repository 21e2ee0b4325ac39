"""Window histograms: the binning rules, the merge laws, serialisation."""

from __future__ import annotations

import math
import random

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.baseline.model import FeatureBaseline, FeatureRole, FeatureType
from app.binning.histogram import (
    UNKNOWN_CAP,
    HistogramOps,
    WindowHistogram,
    merge,
)
from tests.factories import bin_index, categorical, make_baseline, numeric, numpy_cells

EDGES = (0.0, 1.0, 2.5, 4.0)  # 3 inner bins; cells: under, [0,1), [1,2.5), [2.5,4], over


def _num(
    name: str, edges: tuple[float, ...] = EDGES, role: FeatureRole = "feature"
) -> FeatureBaseline:
    counts = (0,) + (10,) * (len(edges) - 1) + (0,)
    return numeric(name, edges, counts, nulls=1, min=0.0, max=4.0, mean=2.0, std=1.0, role=role)


def _cat(
    name: str,
    cats: tuple[str, ...],
    other: int,
    kind: FeatureType = "categorical",
    role: FeatureRole = "feature",
) -> FeatureBaseline:
    return categorical(name, cats, (5,) * len(cats) + (other,), kind=kind, role=role)


BASELINE = make_baseline(
    _num("x"),
    _num("point", (3.0, 3.0)),
    _cat("city", ("berlin", "paris"), other=7),  # incomplete vocabulary
    _cat("plan", ("basic", "pro"), other=0),  # complete vocabulary
    _cat("zip", ("10115", "75001"), other=0),  # integer-coded categories
    _cat("flag", ("false", "true"), other=0, kind="boolean"),
    _num("__prediction__", (0.0, 0.5, 1.0), role="prediction"),
)


def _row(h: WindowHistogram, name: str) -> list[int]:
    return list(h.to_dict()["features"][name])


def _one(name: str, value: object) -> list[int]:
    h = WindowHistogram.empty(BASELINE)
    h.add_event({name: value}, None)
    return _row(h, name)


# --- numeric rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [(-0.1, 0), (0.0, 1), (0.999, 1), (1.0, 2), (2.5, 3), (4.0, 3), (4.0001, 4), (7, 4)],
)
def test_numeric_cells_follow_the_documented_rule(value: float, cell: int) -> None:
    expected = [0, 0, 0] + [0] * 5
    expected[3 + cell] = 1
    assert _one("x", value) == expected
    assert bin_index(EDGES, value) == cell


def test_infinities_are_out_of_range_and_nan_is_null() -> None:
    assert _one("x", -math.inf) == [0, 0, 0, 1, 0, 0, 0, 0]
    assert _one("x", math.inf) == [0, 0, 0, 0, 0, 0, 0, 1]
    assert _one("x", math.nan) == [1, 0, 0, 0, 0, 0, 0, 0]
    assert _one("x", None) == [1, 0, 0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize("value", ["3.5", True, False, [1], {"a": 1}])
def test_non_numbers_in_a_numeric_feature_are_mismatched(value: object) -> None:
    assert _one("x", value) == [0, 0, 1, 0, 0, 0, 0, 0]


def test_single_valued_baseline_has_one_closed_bin() -> None:
    assert _one("point", 3.0)[3:] == [0, 1, 0]
    assert _one("point", 3)[3:] == [0, 1, 0]
    assert _one("point", 2.999)[3:] == [1, 0, 0]
    assert _one("point", 3.0000001)[3:] == [0, 0, 1]


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_binning_agrees_with_numpy_on_random_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    edges = tuple(np.unique(np.round(rng.normal(size=rng.integers(1, 12)), 1)).tolist())
    if len(edges) == 1:
        edges = (edges[0], edges[0])
    values = np.concatenate([rng.normal(scale=1.5, size=300), np.asarray(edges)])
    values = np.round(values, 1)  # many exact hits on edges
    baseline = make_baseline(_num("v", edges))
    h = WindowHistogram.empty(baseline)
    for v in values.tolist():
        h.add_event({"v": v}, None)
    assert h.cells[0] == numpy_cells(edges, values)


# --- categorical rule -----------------------------------------------------------------------


def test_top_k_values_count_in_their_cells() -> None:
    assert _one("city", "paris") == [0, 0, 0, 0, 1, 0]
    assert _one("plan", "basic") == [0, 0, 0, 1, 0, 0]


def test_outside_top_k_goes_to_other_when_the_vocabulary_is_incomplete() -> None:
    assert _one("city", "rome") == [0, 0, 0, 0, 0, 1]


def test_outside_top_k_is_unseen_when_the_vocabulary_is_complete() -> None:
    assert _one("plan", "enterprise") == [0, 1, 0, 0, 0, 0]


def test_numbers_are_matched_by_their_text_and_otherwise_mismatched() -> None:
    assert _one("zip", 75001) == [0, 0, 0, 0, 1, 0]
    assert _one("zip", 75001.0) == [0, 0, 0, 0, 1, 0]
    assert _one("zip", 99999) == [0, 1, 0, 0, 0, 0]  # numbers are native: unseen
    assert _one("plan", 3) == [0, 0, 1, 0, 0, 0]  # numbers are foreign to "plan"
    assert _one("plan", True) == [0, 0, 1, 0, 0, 0]
    assert _one("city", 2.5) == [0, 0, 1, 0, 0, 0]


def test_booleans() -> None:
    assert _one("flag", True) == [0, 0, 0, 0, 1, 0]
    assert _one("flag", False) == [0, 0, 0, 1, 0, 0]
    assert _one("flag", "true") == [0, 0, 0, 0, 1, 0]  # text of a known category
    assert _one("flag", "TRUE") == [0, 0, 0, 0, 1, 0]
    assert _one("flag", "False") == [0, 0, 0, 1, 0, 0]
    assert _one("flag", 1) == [0, 0, 0, 0, 1, 0]  # 0/1 read as booleans, as the builder does
    assert _one("flag", 0.0) == [0, 0, 0, 1, 0, 0]
    assert _one("flag", "0") == [0, 0, 0, 1, 0, 0]
    assert _one("flag", "yes") == [0, 0, 1, 0, 0, 0]
    assert _one("flag", 2) == [0, 0, 1, 0, 0, 0]
    assert _one("flag", None) == [1, 0, 0, 0, 0, 0]


def test_prediction_is_profiled_and_probability_objects_give_the_argmax() -> None:
    baseline = make_baseline(
        _num("x"), _cat("__prediction__", ("no", "yes"), other=0, role="prediction")
    )
    h = WindowHistogram.empty(baseline)
    h.add_event({}, {"yes": 0.5, "no": 0.5})  # tie: first in sorted order
    h.add_event({}, {"yes": 0.9, "no": 0.1})
    h.add_event({}, "maybe")
    assert _row(h, "__prediction__") == [0, 1, 0, 1, 1, 0]


def test_numeric_prediction_and_missing_features() -> None:
    h = WindowHistogram.empty(BASELINE)
    h.add_event({"x": 1.0}, 0.75)
    h.add_event({}, 0.25)
    assert _row(h, "__prediction__") == [0, 0, 0, 0, 1, 1, 0]
    assert h.missing(0) == 1 and h.present(0) == 1
    assert "__prediction__" not in h.unknown


# --- unknown features ---------------------------------------------------------------------------


def test_unknown_features_are_counted_and_capped_at_the_smallest_names() -> None:
    h = WindowHistogram.empty(BASELINE)
    names = [f"u{i:03d}" for i in range(UNKNOWN_CAP + 10)]
    for name in reversed(names):
        h.add_event({name: 1, "n_null": None, "mixed": "a"}, None)
    h.add_event({"mixed": 2}, None)
    assert h.unknown_truncated
    assert len(h.unknown) == UNKNOWN_CAP
    kept = sorted(h.unknown)
    assert kept == sorted(["mixed", "n_null", *names])[:UNKNOWN_CAP]
    assert h.unknown["mixed"] == [len(names) + 1, 0, 3]
    assert h.unknown["n_null"] == [0, len(names), 0]


# --- algebra and serialisation --------------------------------------------------------------------

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 8),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["berlin", "paris", "rome", "basic", "pro", "x", "10115", "true"]),
)
NAMES = st.sampled_from(["x", "point", "city", "plan", "zip", "flag", "new1", "new2"])
EVENTS = st.lists(
    st.tuples(
        st.dictionaries(NAMES, VALUES, max_size=6), st.one_of(st.floats(0, 1), st.text(max_size=2))
    ),
    max_size=12,
)


Events = list[tuple[dict[str, object], object]]  # (features, prediction) as EVENTS draws them


def _hist(events: Events) -> WindowHistogram:
    h = WindowHistogram.empty(BASELINE)
    for features, prediction in events:
        h.add_event(features, prediction)
    return h


@settings(max_examples=150, deadline=None)
@given(EVENTS, EVENTS, EVENTS)
def test_merge_is_associative_commutative_with_identity(a: Events, b: Events, c: Events) -> None:
    ha, hb, hc = _hist(a), _hist(b), _hist(c)
    empty = WindowHistogram.empty(BASELINE)
    assert merge(merge(ha, hb), hc) == merge(ha, merge(hb, hc))
    assert merge(ha, hb) == merge(hb, ha)
    assert merge(ha, empty) == ha == merge(empty, ha)
    assert merge(ha, hb) == _hist(a + b)  # merging equals counting everything at once


@settings(max_examples=100, deadline=None)
@given(EVENTS)
def test_to_dict_round_trips_through_json(events: Events) -> None:
    h = _hist(events)
    data = orjson.loads(orjson.dumps(h.to_dict()))
    back = WindowHistogram.from_dict(BASELINE, data)
    assert back == h
    assert back.to_dict() == h.to_dict()
    for i in range(len(BASELINE.features)):
        assert 0 <= h.present(i) <= h.n_events


def test_many_unknown_names_merge_exactly() -> None:
    names = [f"z{i:03d}" for i in range(3 * UNKNOWN_CAP)]
    parts = [_hist([({n: 1}, 0.5) for n in names[i::3]]) for i in range(3)]
    whole = _hist([({n: 1}, 0.5) for n in names])
    assert merge(merge(parts[0], parts[1]), parts[2]) == whole
    assert sorted(whole.unknown) == names[:UNKNOWN_CAP]


def test_from_dict_rejects_data_of_another_layout() -> None:
    good = _hist([({"x": 1.0}, 0.5)]).to_dict()
    with pytest.raises(ValueError, match="baseline"):
        WindowHistogram.from_dict(BASELINE, {**good, "baseline_id": "bl-ffffffffffffffff"})
    bad = orjson.loads(orjson.dumps(good))
    bad["features"]["x"] = bad["features"]["x"][:-1]
    with pytest.raises(ValueError, match="expected 8 counts"):
        WindowHistogram.from_dict(BASELINE, bad)
    bad = orjson.loads(orjson.dumps(good))
    bad["features"]["x"][3] = -1
    with pytest.raises(ValueError, match="non-negative"):
        WindowHistogram.from_dict(BASELINE, bad)
    bad = orjson.loads(orjson.dumps(good))
    bad["features"]["x"][3] = 5
    with pytest.raises(ValueError, match="more values than events"):
        WindowHistogram.from_dict(BASELINE, bad)


def test_ops_fit_the_window_accumulator_protocol() -> None:
    ops = HistogramOps()
    a = ops.new(BASELINE)
    a.add_event({"x": 1.0}, 0.5)
    b = ops.load(BASELINE, a.to_dict())
    b.add_event({"x": 3.0}, 0.5)
    merged = ops.merge(BASELINE, [a, b])
    assert merged.n_events == 3 and (a.n_events, b.n_events) == (1, 2)  # parts unchanged
    assert _row(merged, "x") == [0, 0, 0, 0, 0, 2, 1, 0]


_ODD = [
    None,
    math.nan,
    math.inf,
    -math.inf,
    True,
    False,
    "3.5",
    "paris",
    "TRUE",
    2**60,
    10**400,
    -(2**53) - 1,
    0,
    4.0,
    2.5,
    -0.0,
    [1],
    {"a": 1},
]


def _random_value(rng: random.Random) -> object:
    r = rng.random()
    if r < 0.5:
        return round(rng.uniform(-1.0, 5.0), rng.choice([0, 1, 3]))
    if r < 0.65:
        return rng.randint(-2, 6)
    if r < 0.85:
        return rng.choice(
            ["berlin", "paris", "rome", "basic", "pro", "enterprise", "10115", "true"]
        )
    return rng.choice(_ODD)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.floats(0.0, 1.0))
def test_batched_binning_equals_the_one_value_path(seed: int, odd_share: float) -> None:
    """Events with exactly the baseline's features are binned in batches: same counts."""
    rng = random.Random(seed)
    names = [f.name for f in BASELINE.features if f.role == "feature"]
    batched = WindowHistogram.empty(BASELINE)
    reference = WindowHistogram(batched.layout, batch=False)
    for _ in range(rng.choice([5, 300, 700])):
        if rng.random() < odd_share:  # a missing or an extra key: the one-value path
            features = {n: _random_value(rng) for n in names if rng.random() < 0.8}
            if rng.random() < 0.3:
                features["extra"] = 1
        else:
            plain = rng.random() < 0.7  # many batches hold only numbers and nulls
            features = {
                n: (
                    rng.choice([rng.uniform(-1, 5), rng.randint(0, 4), None])
                    if plain
                    else _random_value(rng)
                )
                for n in names
            }
        prediction = rng.choice([rng.random(), "x", None, {"a": 0.2, "b": 0.8}])
        batched.add_event(features, prediction)
        reference.add_event(features, prediction)
    assert batched.to_dict() == reference.to_dict()
