"""Baselines that are well formed but cannot mean anything are refused, each with the field's
JSON path (and, for a file, its line) and why, in one line."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.baseline.codec import baseline_from_dict, compute_baseline_id, parse_baseline
from app.errors import InputError
from tests.unit.baseline.test_codec import sample_doc

Edit = Callable[[dict[str, Any]], None]


def _feature(name: str, **values: object) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        doc["features"][name].update(values)

    return edit


def _zero_everything(doc: dict[str, Any]) -> None:
    """The forged baseline of issue 10: every count 0 (every row null), id recomputed."""
    for f in doc["features"].values():
        f["counts"] = [0] * len(f["counts"])
        f["count"] = 0
        f["null_count"] = doc["source"]["rows"]


def _no_source_rows(then: Edit) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        doc["source"] = {"path": "train.csv"}
        then(doc)

    return edit


def _rejected(doc: dict[str, Any]) -> InputError:
    # A forger recomputes the content id: the check must not lean on it.
    doc["baseline_id"] = compute_baseline_id(doc)
    with pytest.raises(InputError) as err:
        baseline_from_dict(doc)
    return err.value


ZERO = "every count is 0: the feature has no training values, so every window would be compared with nothing"  # noqa: E501


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_zero_everything, f"field '$.features.age.counts': {ZERO}"),
        (_feature("age", counts=[0, 0, 0, 0, 0], count=0, null_count=100),
         f"field '$.features.age.counts': {ZERO}"),
        (_feature("country", counts=[0, 0, 0], count=0, null_count=100),
         f"field '$.features.country.counts': {ZERO}"),
        (_feature("__prediction__", counts=[0, 0], count=0, null_count=100),
         "field '$.features.__prediction__.counts': every count is 0: the prediction profile "
         "has no training values, so every window would be compared with nothing"),
        (_feature("country", categories=[], counts=[100], count=100),
         "field '$.features.country.categories': is empty: all 100 training values are in "
         "other, so no category can be compared"),
        (_feature("is_new", categories=[], counts=[100], count=100),
         "field '$.features.is_new.categories': is empty: all 100 training values are in "
         "other, so no category can be compared"),
        (_feature("age", null_count=4),
         "field '$.features.age.null_count': null_count 4 + count 97 = 101 rows, but "
         "source.rows is 100 (each row is a value or a null of every feature)"),
        (_feature("const", null_count=1_000_000),
         "field '$.features.const.null_count': null_count 1,000,000 + count 5 = 1,000,005 "
         "rows, but source.rows is 100 (each row is a value or a null of every feature)"),
        (_no_source_rows(_feature("country", null_count=7)),
         "field '$.features.country.null_count': null_count 7 + count 100 = 107 rows, but "
         "feature 'age' covers 100 (each row is a value or a null of every feature)"),
        (_feature("age", mean=95.0),
         "field '$.features.age.mean': mean 95.0 is outside [min 18.0, max 90.0]"),
        (_feature("age", mean=17.5),
         "field '$.features.age.mean': mean 17.5 is outside [min 18.0, max 90.0]"),
        (_feature("age", std=80.0),
         "field '$.features.age.std': std 80.0 is larger than max - min (72.0), which no "
         "values can have"),
        (_feature("const", std=0.5),
         "field '$.features.const.std': std 0.5 is larger than max - min (0.0), which no "
         "values can have"),
    ],
)  # fmt: skip
def test_a_baseline_that_cannot_mean_anything_is_refused(edit: Edit, message: str) -> None:
    doc = sample_doc()
    edit(doc)
    assert str(_rejected(doc)) == message


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["age", "edges", 1], math.nan, "field '$.features.age.edges[1]': must be a finite number"),
        (["age", "edges", 3], math.inf, "field '$.features.age.edges[3]': must be a finite number"),
        (["age", "null_count"], -1, "field '$.features.age.null_count': -1 is less than the "
         "minimum of 0"),
        (["country", "counts", 0], -60, "field '$.features.country.counts[0]': -60 is less than "
         "the minimum of 0"),
        (["age", "counts", 1], 40.5, "field '$.features.age.counts[1]': 40.5 is not of type "
         "'integer'"),
    ],
)  # fmt: skip
def test_nan_edges_and_negative_counts_are_refused(
    path: list[str | int], value: object, message: str
) -> None:
    doc = sample_doc()
    target: Any = doc["features"]
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    assert str(_rejected(doc)) == message


def test_rounding_of_the_mean_is_not_nonsense() -> None:
    # Three 0.1s average to 0.10000000000000002 in float64: above their max, by one ulp.
    doc = sample_doc()
    doc["features"]["const"].update(mean=2.0000000000000004, std=4e-16)
    doc["baseline_id"] = compute_baseline_id(doc)
    baseline_from_dict(doc)  # accepted


def test_a_file_names_the_line_of_the_empty_histogram(tmp_path: Path) -> None:
    doc = sample_doc()
    doc["features"]["country"].update(counts=[0, 0, 0], count=0, null_count=100)
    doc["baseline_id"] = compute_baseline_id(doc)
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    lines = data.decode().splitlines()
    country = lines.index('    "country": {')
    line = next(i for i in range(country, len(lines)) if '"counts"' in lines[i]) + 1
    with pytest.raises(InputError) as err:
        parse_baseline(data, path="forged.json")
    assert str(err.value) == (
        f"forged.json, line {line}, field '$.features.country.counts': {ZERO}"
    )
    assert (err.value.line, err.value.field) == (line, "$.features.country.counts")
