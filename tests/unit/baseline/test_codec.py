"""Baseline documents: round trip, the content id, and rejection of bad files with the field
path and line."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.baseline.codec import (
    baseline_from_dict,
    baseline_to_dict,
    compute_baseline_id,
    dump_baseline,
    load_baseline,
    parse_baseline,
)
from app.baseline.model import Baseline
from app.errors import InputError
from tests.factories import categorical, make_baseline, numeric

EXAMPLE = Path(__file__).resolve().parents[3] / "schemas" / "examples" / "baseline.fraud.json"


def sample() -> Baseline:
    b = make_baseline(
        numeric("age", (18.0, 30.0, 45.0, 90.0), (0, 40, 35, 22, 0), nulls=3, mean=41.5,
                std=12.25),
        numeric("const", (2.0, 2.0), (0, 5, 0), nulls=95, mean=2.0, std=0.0),
        categorical("country", ("DE", "FR"), (60, 30, 10)),
        categorical("is_new", ("false", "true"), (70, 30, 0), kind="boolean"),
        categorical("__prediction__", ("approve",), (90, 10), role="prediction"),
        model_id="fraud-scorer",
        model_version="3.2.0",
        baseline_id="",
        created_at="2026-11-27T07:00:00Z",
        source={"path": "train.csv", "rows": 100, "format": "csv"},
    )  # fmt: skip
    return replace(b, baseline_id=compute_baseline_id(baseline_to_dict(b)))


def sample_doc() -> dict[str, Any]:
    return baseline_to_dict(sample())


def test_round_trip(tmp_path: Path) -> None:
    b = sample()
    out = tmp_path / "b.json"
    dump_baseline(b, out)
    assert load_baseline(out) == b
    assert baseline_from_dict(orjson.loads(out.read_bytes())) == b
    assert [p.name for p in tmp_path.iterdir()] == ["b.json"]  # no temporary file left
    text = out.read_text()
    assert text.startswith('{\n  "schema_version": 1,\n  "kind": "baseline",\n')
    assert text.endswith("}\n")


def test_baseline_id_is_the_hash_of_the_content() -> None:
    doc = sample_doc()
    content = {k: v for k, v in doc.items() if k not in ("baseline_id", "created_at", "source")}
    digest = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert doc["baseline_id"] == "bl-" + digest[:16] == "bl-bc3d1c7aed11efd2"
    # Not part of the id: when and from where it was built, and key order.
    changed = {**doc, "created_at": "2030-01-01T00:00:00Z", "source": {"path": "other.parquet"}}
    assert compute_baseline_id(changed) == doc["baseline_id"]
    assert compute_baseline_id(dict(reversed(list(doc.items())))) == doc["baseline_id"]
    # Part of it: every count, edge and name.
    doc["features"]["age"]["counts"][1] += 1
    assert compute_baseline_id(doc) != compute_baseline_id(sample_doc())
    assert compute_baseline_id({**sample_doc(), "model_version": None}) != compute_baseline_id(
        sample_doc()
    )


def test_the_schema_example_loads() -> None:
    b = load_baseline(EXAMPLE)
    assert b.baseline_id == compute_baseline_id(orjson.loads(EXAMPLE.read_bytes()))


def test_integral_numbers_may_be_written_without_a_fraction() -> None:
    doc = sample_doc()
    doc["features"]["age"]["edges"] = [18, 30, 45, 90]
    doc["baseline_id"] = compute_baseline_id(doc)
    assert baseline_from_dict(doc).feature("age") == sample().feature("age")


Edit = Callable[[dict[str, Any]], None]


def _set(path: list[str | int], value: object) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return edit


def _delete(path: list[str]) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return edit


@pytest.mark.parametrize(
    ("edit", "field", "message"),
    [
        (_set(["features", "age", "edges", 2], 29.0), "$.features.age.edges[2]",
         "edges must be strictly increasing: 29.0 follows 30.0"),
        (_set(["features", "age", "edges"], [18.0, 18.0, 90.0]), "$.features.age.edges[1]",
         "edges must be strictly increasing: 18.0 follows 18.0"),
        (_set(["features", "age", "counts"], [0, 40, 35, 22]), "$.features.age.counts",
         "has 4 counts; 4 edges need 5"),
        (_set(["features", "age", "count"], 98), "$.features.age.count",
         "is 98, but the counts add up to 97"),
        (_set(["features", "country", "counts"], [60, 40]), "$.features.country.counts",
         "has 2 counts; 2 categories need 3 (the last is other)"),
        (_set(["features", "country", "categories"], ["DE", "DE"]),
         "$.features.country.categories", "['DE', 'DE'] has non-unique elements"),
        (_set(["features", "age", "min"], 91.0), "$.features.age.min",
         "min 91.0 is above max 90.0"),
        (_set(["features", "age", "counts", 1], -1), "$.features.age.counts[1]",
         "-1 is less than the minimum of 0"),
        (_set(["features", "is_new", "categories"], ["false", "yes"]),
         "$.features.is_new.categories[1]", "'yes' is not one of ['false', 'true']"),
        (_set(["baseline_id"], "bl-0000000000000000"), "$.baseline_id",
         "does not match the content (the content hashes to bl-bc3d1c7aed11efd2): the file was "
         "changed after it was built; rebuild it"),
        (_delete(["features", "age", "std"]), "$.features.age", ""),
        (_set(["features"], {}), "$.features", ""),
    ],
)  # fmt: skip
def test_bad_documents_name_the_field(edit: Edit, field: str, message: str) -> None:
    doc = sample_doc()
    edit(doc)
    with pytest.raises(InputError) as err:
        baseline_from_dict(doc)
    assert err.value.field == field
    assert str(err.value).startswith(f"field {field!r}: {message}")


def test_nan_is_rejected() -> None:
    doc = sample_doc()
    doc["features"]["age"]["mean"] = math.nan
    with pytest.raises(InputError) as err:
        baseline_from_dict(doc)
    assert str(err.value) == "field '$.features.age.mean': must be a finite number"


def test_a_bad_file_names_the_line_of_the_field(tmp_path: Path) -> None:
    b = sample()
    out = tmp_path / "b.json"
    dump_baseline(b, out)
    lines = out.read_text().splitlines()
    # Break the third edge of "age" in place, on its own line.
    n = next(i for i, line in enumerate(lines) if line.strip() == "45.0,")
    lines[n] = lines[n].replace("45.0", "20.0")
    out.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        load_baseline(out)
    assert str(err.value) == (
        f"{out}, line {n + 1}, field '$.features.age.edges[2]': edges must be strictly "
        f"increasing: 20.0 follows 30.0"
    )


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    out.write_text('{\n  "schema_version": 1,\n  "kind": "baseline",,\n}\n')
    with pytest.raises(InputError) as err:
        load_baseline(out)
    assert err.value.line == 3
    assert str(err.value).startswith(f"{out}, line 3: malformed JSON: ")


def test_missing_field_names_its_parent_line() -> None:
    doc = sample_doc()
    del doc["features"]["country"]["counts"]
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    with pytest.raises(InputError) as err:
        parse_baseline(data, path="msg")
    line = data.decode().splitlines().index('    "country": {') + 1
    assert (err.value.line, err.value.field) == (line, "$.features.country")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_baseline(tmp_path / "none.json")
    assert str(err.value) == f"{tmp_path / 'none.json'}: cannot read: No such file or directory"


def test_show_json_is_the_summary_as_one_document() -> None:
    from click.testing import CliRunner

    from app.cli import cli

    result = CliRunner().invoke(cli, ["baseline", "show", str(EXAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.stdout)
    baseline = load_baseline(EXAMPLE)
    assert doc["baseline_id"] == baseline.baseline_id
    assert doc["prediction_column"] == baseline.prediction_column
    assert [f["name"] for f in doc["features"]] == [f.name for f in baseline.features]
    amount = doc["features"][0]
    numeric = baseline.features[0].numeric
    assert numeric is not None
    assert amount == {
        "name": "amount",
        "type": "numeric",
        "role": "feature",
        "count": numeric.count,
        "nulls": numeric.null_count,
        "bins": len(numeric.edges) - 1,
        "min": numeric.min,
        "max": numeric.max,
        "mean": numeric.mean,
        "std": numeric.std,
    }
