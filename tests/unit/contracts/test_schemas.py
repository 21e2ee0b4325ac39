"""The JSON Schemas in schemas/: well-formed, documented, and in agreement with their examples."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from app.contracts import (
    DEAD_LETTER_REASONS,
    SCHEMA_NAMES,
    SchemaValidationError,
    load_schema,
    validate,
    validator,
)
from app.contracts.schemas import schema_dir

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
EXAMPLES = SCHEMAS / "examples"
VALID = sorted(EXAMPLES.glob("*.json"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.json"))


def schema_of(path: Path) -> str:
    """Example files are named <schema name>[.<case>].json."""
    name = path.name.split(".")[0]
    assert name in SCHEMA_NAMES, f"{path.name}: no schema named {name!r}"
    return name


def load(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def walk(node: Any, where: str = "#") -> list[tuple[str, Any]]:
    """Every (JSON pointer, subschema) pair of a schema."""
    out = [(where, node)]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(walk(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(walk(value, f"{where}/{i}"))
    return out


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_draft_2020_12_with_id_and_version(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://driftline.dev/schemas/{name}.schema.json"
    assert "schema_version" in schema["properties"]


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_property_is_described(name: str) -> None:
    schema = load_schema(name)
    defs = schema.get("$defs", {})
    missing = []
    for where, node in walk(schema):
        if not where.endswith("/properties") or not isinstance(node, dict):
            continue
        if any(f"/{k}/" in where for k in ("allOf", "if", "then", "else")):
            continue  # a refinement of a field described where it is declared
        for prop, sub in node.items():
            target = sub
            if "description" not in sub and "$ref" in sub:
                target = defs[sub["$ref"].removeprefix("#/$defs/")]
            if not target.get("description"):
                missing.append(f"{where}/{prop}")
    assert missing == []
    assert schema["description"]


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_patterns_are_ascii_and_reject_a_trailing_newline(name: str) -> None:
    patterns = [
        n["pattern"] for _, n in walk(load_schema(name)) if isinstance(n, dict) and "pattern" in n
    ]
    assert patterns, name
    for pattern in patterns:
        assert "\\d" not in pattern
        assert pattern.startswith("^")
        assert pattern.endswith("$(?!\\n)")


def test_output_schemas_forbid_unknown_top_level_properties() -> None:
    assert "additionalProperties" not in load_schema("prediction-event")
    for name in ("baseline", "window-result", "drift-event", "dead-letter", "incident-event"):
        schema = load_schema(name)
        assert schema["additionalProperties"] is False, name
        assert "schema_version" in schema["required"], name
        assert "kind" in schema["required"], name


def test_shared_definitions_are_identical() -> None:
    # Each schema is self-contained (no cross-file $ref) so consumers can use one file alone;
    # this keeps the copies from drifting apart.
    wr = load_schema("window-result")["$defs"]
    de = load_schema("drift-event")["$defs"]
    for name in ("window", "dataset", "effect", "source_offsets", "utc_timestamp"):
        assert wr[name] == de[name], name
    for other in ("baseline", "dead-letter"):
        assert load_schema(other)["$defs"]["utc_timestamp"] == wr["utc_timestamp"], other
    inc = load_schema("incident-event")["$defs"]
    assert inc == {"utc_timestamp": wr["utc_timestamp"], "window": wr["window"]}


def test_dead_letter_reasons_match_the_code() -> None:
    enum = load_schema("dead-letter")["properties"]["reason"]["enum"]
    assert enum == list(DEAD_LETTER_REASONS)


def test_window_result_enums() -> None:
    schema = load_schema("window-result")
    assert schema["properties"]["status"]["enum"] == ["ok", "drift", "insufficient_data"]
    assert schema["properties"]["severity"]["enum"] == ["none", "low", "medium", "high"]
    assert schema["$defs"]["feature_result"]["properties"]["status"]["enum"] == [
        "ok",
        "drift",
        "insufficient_data",
        "unavailable",
        "unknown",
        "type_changed",
    ]


def test_every_schema_has_valid_and_invalid_examples() -> None:
    assert {schema_of(p) for p in VALID} == set(SCHEMA_NAMES)
    assert {schema_of(p) for p in INVALID} == set(SCHEMA_NAMES)
    assert sum(schema_of(p) == "prediction-event" for p in INVALID) >= 10


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example(path: Path) -> None:
    validate(schema_of(path), load(path))


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_example_is_rejected(path: Path) -> None:
    name = schema_of(path)
    doc = load(path)
    assert not validator(name).is_valid(doc)
    with pytest.raises(SchemaValidationError) as info:
        validate(name, doc)
    assert info.value.schema_name == name
    assert info.value.path.startswith("$")


@pytest.mark.parametrize(
    ("file", "path"),
    [
        ("prediction-event.feature-value-list.json", "$.features.amounts"),
        ("prediction-event.timestamp-dd-mm-yyyy.json", "$.timestamp"),
        ("prediction-event.prediction-probability-string.json", "$.prediction.approve"),
        ("prediction-event.missing-model-id.json", "$"),
        ("window-result.p-value-above-one.json", "$.features[2].p_value"),
        ("baseline.negative-count.json", "$.features.age.counts[1]"),
        ("baseline.unknown-feature-type.json", "$.features.country.type"),
        ("dead-letter.unknown-reason.json", "$.reason"),
        ("window-result.v2-without-histogram.json", "$.features[1]"),
        ("drift-event.v2-without-findings.json", "$.drifted_features[1]"),
        ("incident-event.unknown-event.json", "$.event"),
        ("incident-event.no-drifted-features.json", "$.drifted_features"),
        ("incident-event.severity-none.json", "$.severity"),
        ("incident-event.short-incident-id.json", "$.incident_id"),
    ],
)
def test_validation_error_names_the_failing_field(file: str, path: str) -> None:
    with pytest.raises(SchemaValidationError) as info:
        validate(file.split(".")[0], load(EXAMPLES / "invalid" / file))
    assert info.value.path == path
    assert str(info.value).startswith(f"{file.split('.')[0]}: {path}: ")


def test_pattern_error_is_short_and_names_the_format() -> None:
    doc = load(EXAMPLES / "invalid" / "prediction-event.timestamp-date-only.json")
    with pytest.raises(SchemaValidationError) as info:
        validate("prediction-event", doc)
    assert info.value.message.startswith("'2026-11-27' is not in the required format (")
    assert "[0-9]" not in info.value.message
    assert len(info.value.message) <= 303


def test_json_path_quotes_names_that_are_not_identifiers() -> None:
    doc = load(EXAMPLES / "prediction-event.minimal.json")
    doc["features"] = {"a b": [1]}
    with pytest.raises(SchemaValidationError) as info:
        validate("prediction-event", doc)
    assert info.value.path == '$.features["a b"]'


def test_prediction_event_accepts_extra_top_level_properties() -> None:
    doc = load(EXAMPLES / "prediction-event.minimal.json")
    doc["trace"] = {"anything": [1, "x", None]}
    validate("prediction-event", doc)


def test_unknown_schema_name() -> None:
    with pytest.raises(ValueError, match="unknown schema 'alert'"):
        load_schema("alert")


def test_schemas_load_from_the_checkout_when_not_packaged() -> None:
    assert (schema_dir() / "dead-letter.schema.json").read_bytes() == (
        SCHEMAS / "dead-letter.schema.json"
    ).read_bytes()


def test_load_schema_returns_a_copy() -> None:
    load_schema("baseline")["title"] = "changed"
    assert load_schema("baseline")["title"] == "Driftline baseline"


# -- the examples are consistent with the rules the schemas cannot express ---------------------


def sha16(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_example_ids_follow_the_spec() -> None:
    for path in [*EXAMPLES.glob("window-result.*.json"), *EXAMPLES.glob("drift-event*.json")]:
        doc = load(path)
        w = doc["window"]
        key = f"{doc['model_id']}|{doc['baseline_id']}|{w['start_ms']}|{w['size_seconds']}"
        assert doc["window_id"] == f"win-{sha16(key)}", path.name
        assert w["end_ms"] - w["start_ms"] == 1000 * w["size_seconds"], path.name
    for path in EXAMPLES.glob("drift-event*.json"):
        alert = load(path)
        w = alert["window"]
        key = (
            f"alert|{alert['model_id']}|{alert['baseline_id']}|{w['start_ms']}|{w['size_seconds']}"
        )
        assert alert["alert_id"] == f"alert-{sha16(key)}", path.name
    for path in EXAMPLES.glob("incident-event*.json"):
        inc = load(path)
        for field in ("opened_window", "window"):
            w = inc[field]
            key = f"{inc['model_id']}|{inc['baseline_id']}|{w['start_ms']}|{w['size_seconds']}"
            assert inc[f"{field}_id"] == f"win-{sha16(key)}", path.name
        key = f"incident|{inc['model_id']}|{inc['opened_window_id']}"
        assert inc["incident_id"] == f"inc-{sha16(key)}", path.name


def test_example_baseline_counts_match_its_bins() -> None:
    for name, f in load(EXAMPLES / "baseline.fraud.json")["features"].items():
        assert sum(f["counts"]) == f["count"], name
        if f["type"] == "numeric":
            assert len(f["counts"]) == len(f["edges"]) + 1, name
            assert all(a < b for a, b in zip(f["edges"], f["edges"][1:], strict=False)), name
        else:
            assert len(f["counts"]) == len(f["categories"]) + 1, name


def test_utc_pattern_accepts_only_z() -> None:
    pattern = re.compile(load_schema("dead-letter")["$defs"]["utc_timestamp"]["pattern"])
    assert pattern.search("2026-11-27T07:00:00Z")
    assert pattern.search("2026-11-27T07:00:00.412Z")
    assert not pattern.search("2026-11-27T07:00:00+00:00")
    assert not pattern.search("2026-11-27T07:00:00Z\n")
