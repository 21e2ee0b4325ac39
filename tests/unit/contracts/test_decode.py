"""The hot-path decoder and dead letters: exact reasons, and agreement with the JSON Schema."""

from __future__ import annotations

import base64
import calendar
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.contracts import (
    DEAD_LETTER_REASONS,
    DEFAULT_LIMITS,
    DecodeError,
    DecodeLimits,
    PredictionEvent,
    SchemaValidationError,
    dead_letter,
    decode_event,
    format_rfc3339_ms,
    original_bytes,
    parse_rfc3339_ms,
    prediction_value,
    validate,
    validator,
)
from app.contracts import timestamps as timestamps_module

EXAMPLES = Path(__file__).resolve().parents[3] / "schemas" / "examples"
VALID_EVENTS = sorted(EXAMPLES.glob("prediction-event.*.json"))
INVALID_EVENTS = sorted((EXAMPLES / "invalid").glob("prediction-event.*.json"))

MIN_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z


def event_bytes(**fields: Any) -> bytes:
    doc: dict[str, Any] = {
        "model_id": "fraud-scorer",
        "timestamp": "2026-11-27T07:00:01.250Z",
        "features": {"amount": 12.5, "country": "DE"},
        "prediction": 0.12,
    }
    doc.update(fields)
    return orjson.dumps(doc)


def reason_of(raw: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> str | None:
    try:
        decode_event(raw, limits=limits)
    except DecodeError as err:
        return err.reason
    return None


# -- examples ----------------------------------------------------------------------------------


def test_fraud_example_decodes_to_exact_fields() -> None:
    ev = decode_event((EXAMPLES / "prediction-event.fraud.json").read_bytes())
    assert ev.model_id == "fraud-scorer"
    assert ev.model_version == "3.2.0"
    assert ev.event_id == "9f1c2d7e-4b1a-4c8e-9a43-0d6f0b7c2e11"
    assert ev.timestamp_ms == 1_795_762_801_250
    assert len(ev.features) == 25
    assert ev.features["income"] is None
    assert ev.features["is_new_customer"] is False
    assert ev.features["age"] == 41
    assert ev.prediction == 0.87


@pytest.mark.parametrize(
    ("file", "timestamp_ms", "prediction"),
    [
        ("prediction-event.epoch-ms.json", 1_795_762_801_250, "approve"),
        ("prediction-event.class-probs.json", 1_795_762_801_123, "technical"),
        ("prediction-event.minimal.json", 1_795_762_800_000, 1342.0),
        ("prediction-event.fraud.json", 1_795_762_801_250, 0.87),
    ],
)
def test_valid_examples_decode(file: str, timestamp_ms: int, prediction: object) -> None:
    ev = decode_event((EXAMPLES / file).read_bytes())
    assert ev.timestamp_ms == timestamp_ms
    assert prediction_value(ev.prediction) == prediction


def test_every_valid_example_is_covered() -> None:
    assert len(VALID_EVENTS) == 4


@pytest.mark.parametrize("path", INVALID_EVENTS, ids=lambda p: p.name)
def test_invalid_example_is_a_schema_violation(path: Path) -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(path.read_bytes())
    assert info.value.reason == "schema_violation"
    assert info.value.field is not None
    assert info.value.field.startswith("$.")
    assert info.value.message.startswith(info.value.field + ": ")


@pytest.mark.parametrize(
    ("file", "field", "model_id"),
    [
        ("prediction-event.missing-model-id.json", "$.model_id", None),
        ("prediction-event.model-id-too-long.json", "$.model_id", None),
        ("prediction-event.timestamp-dd-mm-yyyy.json", "$.timestamp", "fraud-scorer"),
        ("prediction-event.features-list.json", "$.features", "fraud-scorer"),
        ("prediction-event.feature-value-object.json", "$.features.amount", "fraud-scorer"),
        (
            "prediction-event.feature-reserved-name.json",
            "$.features.__prediction__",
            "fraud-scorer",
        ),
        ("prediction-event.prediction-missing.json", "$.prediction", "fraud-scorer"),
        (
            "prediction-event.prediction-probability-boolean.json",
            "$.prediction.reject",
            "fraud-scorer",
        ),
    ],
)
def test_violation_names_the_field_and_keeps_the_model(
    file: str, field: str, model_id: str | None
) -> None:
    with pytest.raises(DecodeError) as info:
        decode_event((EXAMPLES / "invalid" / file).read_bytes())
    assert info.value.field == field
    assert info.value.model_id == model_id


def test_error_text_is_exact() -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(event_bytes(timestamp="27/11/2026 07:00"))
    assert str(info.value) == (
        "schema_violation: $.timestamp: expected RFC 3339 text (e.g. 2026-11-27T07:00:01.250Z "
        "or 2026-11-27T08:00:01+01:00) or epoch milliseconds (integer >= 0), "
        'got string "27/11/2026 07:00"'
    )


def test_error_text_stays_short_for_huge_values() -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(event_bytes(features={"blob": ["x" * 10_000]}))
    assert len(info.value.message) < 200


# -- exact reasons -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"{",
        b'{"model_id": "m",}',
        b"\x00\x01\x02",
        b"NaN",
        b'{"model_id": "m", "timestamp": 1, "features": {"x": NaN}, "prediction": 1}',
        b'{"x": 1e400}',
        b"\xef\xbb\xbf{}",
    ],
    ids=repr,
)
def test_garbage_is_invalid_json(raw: bytes) -> None:
    assert reason_of(raw) == "invalid_json"


@pytest.mark.parametrize("raw", [b"[]", b"[1, 2]", b'"text"', b"42", b"null", b"true"], ids=repr)
def test_json_that_is_not_an_object_is_invalid_json(raw: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(raw)
    assert info.value.reason == "invalid_json"
    assert "expected a JSON object" in info.value.message


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model_id": "\xff"}',
        b'{"model_id": "caf\xc3"}',
        b'{"model_id": "\xed\xa0\x80"}',  # UTF-8 encoded surrogate
        b'{"model_id": "\\ud800"}',  # lone surrogate escape
    ],
    ids=repr,
)
def test_bad_utf8_is_invalid_json(raw: bytes) -> None:
    assert reason_of(raw) == "invalid_json"


def test_oversized_is_checked_on_the_byte_length_before_parsing() -> None:
    raw = event_bytes()
    assert reason_of(raw, DecodeLimits(max_bytes=len(raw))) is None
    assert reason_of(raw, DecodeLimits(max_bytes=len(raw) - 1)) == "oversized"
    # Not JSON at all, still "oversized": the size check comes first.
    assert reason_of(b"x" * 101, DecodeLimits(max_bytes=100)) == "oversized"
    assert reason_of(b"x" * ((1 << 20) + 1)) == "oversized"


def test_default_size_limit_is_one_mebibyte() -> None:
    assert DEFAULT_LIMITS.max_bytes == 1 << 20
    padding = "p" * ((1 << 20) - len(event_bytes(pad="")))
    raw = event_bytes(pad=padding)
    assert len(raw) == 1 << 20
    assert reason_of(raw) is None
    assert reason_of(event_bytes(pad=padding + "p")) == "oversized"


def test_too_many_features() -> None:
    assert DEFAULT_LIMITS.max_features == 1000
    features = {f"f{i}": i for i in range(1000)}
    assert reason_of(event_bytes(features=features)) is None
    features["one_more"] = 1
    with pytest.raises(DecodeError) as info:
        decode_event(event_bytes(features=features))
    assert info.value.reason == "too_many_features"
    assert info.value.model_id == "fraud-scorer"
    small = DecodeLimits(max_features=2)
    assert reason_of(event_bytes(features={"a": 1, "b": 2}), small) is None
    assert reason_of(event_bytes(features={"a": 1, "b": 2, "c": 3}), small) == "too_many_features"


def test_too_many_features_comes_before_schema_violations() -> None:
    raw = event_bytes(features={"a": [1], "b": 2, "c": 3}, prediction=None)
    assert reason_of(raw, DecodeLimits(max_features=2)) == "too_many_features"


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        (MIN_MS, None),
        (MIN_MS - 1, "timestamp_out_of_bounds"),
        (MAX_MS, None),
        (MAX_MS + 1, "timestamp_out_of_bounds"),
        (0, "timestamp_out_of_bounds"),
        (2**64 - 1, "timestamp_out_of_bounds"),
        ("2000-01-01T00:00:00Z", None),
        ("1999-12-31T23:59:59.999Z", "timestamp_out_of_bounds"),
        ("2000-01-01T01:00:00+01:00", None),
        ("2000-01-01T00:59:59.999+01:00", "timestamp_out_of_bounds"),
        ("2100-01-01T00:00:00Z", None),
        ("2100-01-01T00:00:00.001Z", "timestamp_out_of_bounds"),
        ("2099-12-31T23:00:00-01:00", None),
        ("2099-12-31T23:00:00.001-01:00", "timestamp_out_of_bounds"),
        ("0000-01-01T00:00:00Z", "timestamp_out_of_bounds"),
        ("9999-12-31T23:59:59Z", "timestamp_out_of_bounds"),
    ],
)
def test_timestamp_bounds_are_inclusive_and_fixed(timestamp: object, reason: str | None) -> None:
    assert reason_of(event_bytes(timestamp=timestamp)) == reason


def test_timestamp_bounds_are_configurable() -> None:
    limits = DecodeLimits(min_timestamp_ms=1_000, max_timestamp_ms=2_000)
    assert reason_of(event_bytes(timestamp=999), limits) == "timestamp_out_of_bounds"
    assert reason_of(event_bytes(timestamp=1_000), limits) is None
    assert reason_of(event_bytes(timestamp="1970-01-01T00:00:02Z"), limits) is None
    assert reason_of(event_bytes(timestamp="1970-01-01T00:00:02.001Z"), limits) == (
        "timestamp_out_of_bounds"
    )


def test_schema_violations_come_before_timestamp_bounds() -> None:
    assert reason_of(event_bytes(timestamp=0, prediction=None)) == "schema_violation"


@pytest.mark.parametrize(
    "fields",
    [
        {"timestamp": True},
        {"timestamp": False},
        {"prediction": True},
        {"prediction": {"yes": True, "no": 0.0}},
        {"schema_version": True},
        {"model_id": True},
    ],
    ids=repr,
)
def test_booleans_are_not_numbers(fields: dict[str, Any]) -> None:
    assert reason_of(event_bytes(**fields)) == "schema_violation"


def test_boolean_features_stay_booleans() -> None:
    ev = decode_event(event_bytes(features={"flag": True, "count": 1}))
    assert ev.features["flag"] is True
    assert type(ev.features["count"]) is int


@pytest.mark.parametrize(
    ("timestamp", "ms"),
    [(1_795_762_801_250.0, 1_795_762_801_250), (1.7957628e12, 1_795_762_800_000)],
)
def test_integral_float_epoch_is_an_integer(timestamp: float, ms: int) -> None:
    # JSON Schema counts 1.0 as an integer; the decoder must accept what the schema accepts.
    ev = decode_event(event_bytes(timestamp=timestamp))
    assert ev.timestamp_ms == ms
    assert type(ev.timestamp_ms) is int


@pytest.mark.parametrize("version", [1, 1.0])
def test_schema_version_one_is_accepted(version: float) -> None:
    assert reason_of(event_bytes(schema_version=version)) is None


@pytest.mark.parametrize(
    "timestamp",
    [
        "\uff12\uff10\uff12\uff16-11-27T07:00:00Z",  # full-width digits
        "٢٠٢٦-11-27T07:00:00Z",  # Arabic-Indic digits
        "2026-11-27T07:00:00.\uff12Z",
        "2026-11-27T07:00:00Z\n",
        "2026-11-27T07:00:00z",
        "2026-11-27t07:00:00Z",
        "2026-11-27T07:00:00.Z",
        "2026-11-27T07:00:00,5Z",
        "2026-11-27T07:00Z",
        "2026-W48-5T07:00:00Z",
        "20261127T070000Z",
        "2026-11-27T07:00:00+01:00:00",
        "2026-11-27T07:00:00+24:00",
        "2026-11-27T24:00:00Z",
        "2026-04-31T07:00:00Z",
        "1900-02-29T07:00:00Z",
        "",
    ],
)
def test_non_rfc3339_text_is_rejected(timestamp: str) -> None:
    assert parse_rfc3339_ms(timestamp) is None
    assert reason_of(event_bytes(timestamp=timestamp)) == "schema_violation"
    assert not validator("prediction-event").is_valid(
        orjson.loads(event_bytes(timestamp=timestamp))
    )


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:00.9999999Z", 999),
        ("1969-12-31T23:59:59.9995Z", -1),
        ("2026-11-27T07:00:01.25Z", 1_795_762_801_250),
        ("2026-11-27T08:00:01.25+01:00", 1_795_762_801_250),
        ("2026-11-27T01:30:01.25-05:30", 1_795_762_801_250),
        ("2026-11-27T07:00:01.25-00:00", 1_795_762_801_250),
        ("2000-02-29T00:00:00Z", 951_782_400_000),
        ("2024-02-29T12:00:00Z", 1_709_208_000_000),
        ("0000-03-01T00:00:00Z", -62_162_035_200_000),
        ("0000-01-01T00:00:00+01:00", -62_167_222_800_000),
        ("0001-01-01T00:00:00Z", -62_135_596_800_000),
        ("9999-12-31T23:59:59.999-23:59", 253_402_387_139_999),
    ],
)
def test_rfc3339_exact_values(text: str, ms: int) -> None:
    assert parse_rfc3339_ms(text) == ms
    assert parse_rfc3339_ms(text) == ms  # again, from the memo


def test_memo_is_bounded_and_stays_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timestamps_module, "_CACHE_MAX", 8)
    timestamps_module._HEAD_MS.clear()
    timestamps_module._TAIL_MS.clear()
    for second in range(40):
        for fraction in range(12):
            text = f"2026-11-27T07:00:{second:02d}.{fraction:03d}Z"
            assert parse_rfc3339_ms(text) == 1_795_762_800_000 + second * 1000 + fraction
            assert len(timestamps_module._HEAD_MS) <= 8
            assert len(timestamps_module._TAIL_MS) <= 8


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (1_795_762_801_250, "2026-11-27T07:00:01.250Z"),
        (1_795_762_800_000, "2026-11-27T07:00:00Z"),
        (1_795_762_800_001, "2026-11-27T07:00:00.001Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
    ],
)
def test_format_rfc3339_ms(ms: int, text: str) -> None:
    assert format_rfc3339_ms(ms) == text
    assert parse_rfc3339_ms(text) == ms


@pytest.mark.parametrize(
    ("prediction", "value"),
    [
        (0.87, 0.87),
        (1, 1.0),
        (0, 0.0),
        ("approve", "approve"),
        ("", ""),
        ({"approve": 0.8, "reject": 0.2}, "approve"),
        ({"b": 0.5, "a": 0.5}, "a"),
        ({"z": 0.4, "y": 0.4, "x": 0.2}, "y"),
        ({"only": 0}, "only"),
        ({"neg": -3, "less": -7}, "neg"),
        ({}, None),
        ({"a": "0.9"}, None),
        ({"a": True}, None),
        (True, None),
        (None, None),
        ([0.1, 0.9], None),
    ],
    ids=repr,
)
def test_prediction_value(prediction: object, value: object) -> None:
    result = prediction_value(prediction)
    assert result == value
    assert type(result) is type(value)


def test_prediction_event_is_frozen() -> None:
    ev = decode_event(event_bytes())
    assert isinstance(ev, PredictionEvent)
    with pytest.raises(AttributeError):
        ev.model_id = "other"  # type: ignore[misc]
    assert ev == PredictionEvent(
        "fraud-scorer", None, None, 1_795_762_801_250, {"amount": 12.5, "country": "DE"}, 0.12
    )


# -- differential: decode_event accepts exactly what the schema accepts ------------------------


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm): an
    implementation independent of the decoder's."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


REFERENCE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)


def reference_ms(text: str) -> int:
    """Epoch ms of text the schema accepted."""
    m = REFERENCE.fullmatch(text)
    assert m is not None, text
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + s * 1000
    if m[7]:
        ms += int((m[7] + "00")[:3])
    if m[8]:
        offset = (int(m[9]) * 60 + int(m[10])) * 60_000
        ms += -offset if m[8] == "+" else offset
    return ms


def expected(raw: bytes, limits: DecodeLimits) -> tuple[str | None, int | None]:
    """(reason, timestamp_ms) by the schema plus the limits it does not express, applied in
    the decoder's documented precedence."""
    if len(raw) > limits.max_bytes:
        return "oversized", None
    doc = orjson.loads(raw)
    features = doc.get("features")
    if isinstance(features, dict) and len(features) > limits.max_features:
        return "too_many_features", None
    if not validator("prediction-event").is_valid(doc):
        return "schema_violation", None
    ts = doc["timestamp"]
    ms = reference_ms(ts) if isinstance(ts, str) else int(ts)
    if not limits.min_timestamp_ms <= ms <= limits.max_timestamp_ms:
        return "timestamp_out_of_bounds", ms
    return None, ms


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


YEARS = [0, 1999, 2000, 2024, 2026, 2100, 2400]


@st.composite
def rfc3339_like(draw: st.DrawFn) -> str:
    """Valid RFC 3339 text half of the time; otherwise one part just out of range or misspelt."""
    parts = {
        "year": f"{draw(st.sampled_from(YEARS) | st.integers(0, 9999)):04d}",
        "month": f"{draw(st.integers(1, 12)):02d}",
        "day": f"{draw(st.integers(1, 28)):02d}",
        "sep": "T",
        "hour": f"{draw(st.integers(0, 23)):02d}",
        "minute": f"{draw(st.integers(0, 59)):02d}",
        "second": f"{draw(st.integers(0, 59)):02d}",
        "fraction": draw(
            st.sampled_from(["", ".5", ".250"])
            | st.text("0123456789", min_size=1, max_size=12).map(lambda d: "." + d)
        ),
        "offset": draw(
            st.just("Z")
            | st.tuples(st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59)).map(
                lambda t: f"{t[0]}{t[1]:02d}:{t[2]:02d}"
            )
        ),
    }
    if draw(st.booleans()):
        wrong = {
            "year": st.sampled_from(["202", "20260", "\uff12\uff10\uff12\uff16", "-2026"]),
            "month": st.sampled_from(["00", "13", "1", "٠٢"]),
            "day": st.sampled_from(["00", "29", "30", "31", "32", "1"]),
            "sep": st.sampled_from(["t", " ", "", "TT"]),
            "hour": st.sampled_from(["24", "7", "99"]),
            "minute": st.sampled_from(["60", "5"]),
            "second": st.sampled_from(["60", "61", "5", ""]),
            "fraction": st.sampled_from([".", ",5", ".\uff15", "..5"]),
            "offset": st.sampled_from(
                ["", "z", "+0100", "+01", "+24:00", "-00:60", "Z\n", "+01:00:00"]
            ),
        }
        part = draw(st.sampled_from(sorted(wrong)))
        parts[part] = draw(wrong[part])
        if part == "day":
            # Day 29 to 31 is right or wrong depending on the month and the year.
            parts["month"] = draw(st.sampled_from(["02", "02", "02", "04", "06", "09", "11", "12"]))
            parts["year"] = draw(
                st.sampled_from(["1900", "2000", "2100", "2400", "2023", "2024", "0000"])
            )
    p = parts
    return (
        f"{p['year']}-{p['month']}-{p['day']}{p['sep']}{p['hour']}:{p['minute']}:{p['second']}"
        f"{p['fraction']}{p['offset']}"
    )


timestamps = (
    rfc3339_like()
    | st.sampled_from([MIN_MS - 1, MIN_MS, MAX_MS, MAX_MS + 1, 1_795_762_801_250])
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(0, 2**53).map(float)
    | json_values
)
feature_names = st.text(max_size=6) | st.just("__prediction__")
feature_values = json_scalars | json_values
predictions = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text(max_size=8)
    | st.dictionaries(
        st.text(max_size=5),
        st.floats(allow_nan=False, allow_infinity=False) | st.integers(-5, 5),
        max_size=4,
    )
    | st.dictionaries(st.text(max_size=5), json_scalars, max_size=3)
    | json_values
)
absent = st.just(None)  # None in the draft below means "leave the key out"


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    candidates = {
        "model_id": st.text(min_size=1, max_size=30)
        | st.text(min_size=195, max_size=205)
        | st.just("")
        | json_values,
        "timestamp": timestamps,
        "features": st.dictionaries(feature_names, feature_values, max_size=8) | json_values,
        "prediction": predictions,
        "schema_version": st.sampled_from([1, 1.0, 2, 0, True, "1"]) | json_values,
        "model_version": st.text(max_size=8) | json_values,
        "event_id": st.text(max_size=8) | json_values,
        "extra": json_values,
    }
    optional = {"schema_version", "model_version", "event_id", "extra"}
    for key, strategy in candidates.items():
        # Required keys are present most of the time, optional ones half of the time.
        present = draw(st.integers(0, 9)) < (5 if key in optional else 9)
        if present:
            doc[key] = draw(strategy)
    return doc


valid_timestamps = (
    st.integers(MIN_MS - 10, MIN_MS + 10)
    | st.integers(MIN_MS, MAX_MS)
    | st.integers(MAX_MS - 10, MAX_MS + 10)
    | st.integers(MIN_MS, MAX_MS).map(format_rfc3339_ms)
    | rfc3339_like()
)
valid_feature_values = (
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=8)
)
numbers = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**63), 2**64 - 1)
valid_predictions = (
    numbers
    | st.text(max_size=8)
    | st.dictionaries(st.text(max_size=5), numbers, min_size=1, max_size=4)
)
MUTATIONS: dict[str, st.SearchStrategy[Any]] = {
    "model_id": st.sampled_from(["", "m" * 201, "m" * 200, True, 7, None]) | json_values,
    "timestamp": st.sampled_from([-1, 1.5, True, None, MIN_MS + 0.5])
    | rfc3339_like()
    | json_values,
    "features": st.sampled_from([[], "a=1", None, {"__prediction__": 1}, {"x": [1]}, {"x": {}}])
    | json_values,
    "prediction": st.sampled_from([True, None, {}, {"a": True}, {"a": "1"}, {"a": None}, []])
    | json_values,
    "schema_version": st.sampled_from([1, 1.0, 2, 0, True, "1", None]) | json_values,
    "model_version": st.sampled_from([None, 3, "3"]) | json_values,
    "event_id": st.sampled_from([None, 3, "e"]) | json_values,
}


@st.composite
def near_valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with at most one field changed or removed: finds the edge of every rule."""
    doc: dict[str, Any] = {
        "model_id": draw(st.text(min_size=1, max_size=20)),
        "timestamp": draw(valid_timestamps),
        "features": draw(
            st.dictionaries(
                st.text(max_size=6), valid_feature_values, max_size=draw(st.integers(0, 8))
            )
        ),
        "prediction": draw(valid_predictions),
    }
    for key in ("model_version", "event_id"):
        if draw(st.booleans()):
            doc[key] = draw(st.text(max_size=8))
    choice = draw(st.integers(0, 5))
    if choice in (1, 4):
        key = draw(st.sampled_from(sorted(MUTATIONS)))
        doc[key] = draw(MUTATIONS[key])
    elif choice == 2:
        del doc[draw(st.sampled_from(["model_id", "timestamp", "features", "prediction"]))]
    elif choice == 3:
        doc["features"][draw(st.text(max_size=6) | st.just("__prediction__"))] = draw(json_values)
    elif choice == 5 and isinstance(doc["prediction"], dict):
        doc["prediction"][draw(st.text(max_size=5))] = draw(json_scalars)
    return doc


limits_choice = st.sampled_from(
    [
        DEFAULT_LIMITS,
        DecodeLimits(max_bytes=400, max_features=4),
        DecodeLimits(min_timestamp_ms=0, max_timestamp_ms=253_402_300_799_999),
    ]
)


def check_agreement(doc: dict[str, Any], limits: DecodeLimits) -> None:
    raw = orjson.dumps(doc)
    reason, ms = expected(raw, limits)
    event(f"expected: {reason}")
    try:
        ev = decode_event(raw, limits=limits)
    except DecodeError as err:
        assert err.reason == reason, (raw, err)
        return
    assert reason is None, (raw, reason)
    parsed = orjson.loads(raw)
    assert ev.timestamp_ms == ms
    assert ev.model_id == parsed["model_id"]
    assert ev.model_version == parsed.get("model_version")
    assert ev.event_id == parsed.get("event_id")
    assert ev.features == parsed["features"]
    assert ev.prediction == parsed["prediction"]


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents(), limits=limits_choice)
def test_decoder_agrees_with_schema_on_random_documents(
    doc: dict[str, Any], limits: DecodeLimits
) -> None:
    check_agreement(doc, limits)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(doc=near_valid_documents(), limits=limits_choice)
def test_decoder_agrees_with_schema_near_valid_documents(
    doc: dict[str, Any], limits: DecodeLimits
) -> None:
    check_agreement(doc, limits)


@settings(max_examples=400)
@given(text=rfc3339_like())
def test_rfc3339_parser_agrees_with_schema_pattern(text: str) -> None:
    pattern = validator("prediction-event").schema["properties"]["timestamp"]["pattern"]
    accepted = re.search(pattern, text) is not None
    ms = parse_rfc3339_ms(text)
    event(f"accepted: {accepted}")
    assert (ms is not None) == accepted, text
    if accepted:
        assert ms == reference_ms(text)


def test_calendar_agrees_with_schema_pattern() -> None:
    pattern = re.compile(validator("prediction-event").schema["properties"]["timestamp"]["pattern"])
    checked = 0
    for year in (0, 4, 100, 400, 1900, 1996, 2000, 2023, 2024, 2100, 2400, 9996, 9999):
        for month in range(1, 13):
            for day in range(27, 33):
                text = f"{year:04d}-{month:02d}-{day:02d}T12:00:00Z"
                real = day <= calendar.monthrange(year or 400, month)[1]
                assert (pattern.search(text) is not None) == real, text
                assert (parse_rfc3339_ms(text) is not None) == real, text
                checked += 1
    assert checked == 13 * 12 * 6


@settings(max_examples=300)
@given(raw=st.binary(max_size=200) | json_values.map(orjson.dumps))
def test_decoder_raises_only_decode_errors(raw: bytes) -> None:
    try:
        decode_event(raw)
    except DecodeError as err:
        assert err.reason in DEAD_LETTER_REASONS


# -- dead letters ------------------------------------------------------------------------------


def dl(
    reason: Any = "invalid_json", error: str | BaseException = "boom", **kw: Any
) -> dict[str, Any]:
    args: dict[str, Any] = {
        "topic": "predictions",
        "partition": 3,
        "offset": 1234,
        "timestamp_ms": 1_795_762_801_377,
        "key": b"fraud-scorer",
        "value": b"{not json",
        "model_id": None,
        "received_at_ms": 1_795_762_801_402,
    }
    args.update(kw)
    return dead_letter(reason, error, **args)


def test_dead_letter_document_is_exact() -> None:
    assert dl() == {
        "schema_version": 1,
        "kind": "dead_letter",
        "reason": "invalid_json",
        "error": "boom",
        "source": {
            "topic": "predictions",
            "partition": 3,
            "offset": 1234,
            "timestamp_ms": 1_795_762_801_377,
        },
        "original_base64": "e25vdCBqc29u",
        "original_key_base64": "ZnJhdWQtc2NvcmVy",
        "model_id": None,
        "received_at": "2026-11-27T07:00:01.402Z",
    }


@pytest.mark.parametrize("reason", DEAD_LETTER_REASONS)
def test_dead_letter_is_valid_for_every_reason(reason: Any) -> None:
    # A late event's letter names its window; no other letter has a window_id.
    window = {"window_id": "win-0123456789abcdef"} if reason == "late" else {}
    validate("dead-letter", dl(reason, **window))


def test_a_late_dead_letter_without_its_window_is_refused_by_the_schema() -> None:
    with pytest.raises(SchemaValidationError):
        validate("dead-letter", dl("late"))
    with pytest.raises(SchemaValidationError):
        validate("dead-letter", dl("invalid_json", window_id="win-0123456789abcdef"))


def test_dead_letter_from_decode_error() -> None:
    raw = event_bytes(timestamp="27/11/2026 07:00")
    with pytest.raises(DecodeError) as info:
        decode_event(raw)
    doc = dl(info.value.reason, info.value, value=raw, key=None, timestamp_ms=-1)
    validate("dead-letter", doc)
    assert doc["reason"] == "schema_violation"
    assert doc["error"] == info.value.message
    assert doc["model_id"] == "fraud-scorer"
    assert doc["source"]["timestamp_ms"] is None
    assert doc["original_key_base64"] is None
    assert original_bytes(doc) == (None, raw)


def test_dead_letter_cleans_what_the_schema_forbids() -> None:
    doc = dl(error="x" * 10_000, model_id="m" * 201)
    validate("dead-letter", doc)
    assert len(doc["error"]) == 4096
    assert doc["error"].endswith("...")
    assert doc["model_id"] is None
    assert dl(error="")["error"] == "(no error text)"
    assert dl(error=ValueError())["error"] == "ValueError"
    assert dl(model_id="")["model_id"] is None
    assert dl(model_id="m")["model_id"] == "m"


def test_dead_letter_rejects_unknown_reason() -> None:
    with pytest.raises(ValueError, match="unknown dead-letter reason 'oops'"):
        dl("oops")


@settings(max_examples=200)
@given(value=st.binary(max_size=2000), key=st.none() | st.binary(max_size=64))
def test_dead_letter_round_trips_the_original_bytes(value: bytes, key: bytes | None) -> None:
    doc = dl(value=value, key=key)
    validate("dead-letter", doc)
    wire = orjson.loads(orjson.dumps(doc))
    assert original_bytes(wire) == (key, value)
    assert base64.b64decode(wire["original_base64"]) == value
