"""The event adapter: a JSON object or a flat record -> ``PredictionEvent``, or
``DecodeError`` with its dead-letter reason. The one rule for what a prediction event is,
whatever carried it: a Kafka message (``decode.decode_event``), a JSONL line (the file
readers, so ``evaluate`` and ``baseline build``; ``analyze`` decodes its lines whole), or a
CSV or Parquet record (``analyze``).

The checks are written by hand to mirror ``schemas/prediction-event.schema.json``: running
jsonschema on every event would cost about a hundred times more. The differential test in
``tests/unit/contracts/test_decode.py`` keeps the two in step, and
``tests/unit/contracts/test_one_event_rule.py`` keeps every input path on this rule.

Reason precedence, so that a message breaking several rules always gets the same reason:
``oversized`` > ``invalid_json`` > ``too_many_features`` > ``schema_violation`` >
``timestamp_out_of_bounds``. Size limits come first because they protect the worker (no
parse of a huge message, no scan of a huge feature map); the time bounds come last because
they only make sense for an otherwise well-formed event.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias, get_args

import orjson

from app.contracts.timestamps import (
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    TIMESTAMP_EXPECTED,
    bounds_text,
    cell_timestamp_ms,
    format_rfc3339_ms,
    json_timestamp_ms,
    parse_rfc3339_ms,
)
from app.errors import DriftlineError

DeadLetterReason: TypeAlias = Literal[
    "invalid_json",
    "schema_violation",
    "timestamp_out_of_bounds",
    "unknown_model",
    "oversized",
    "too_many_features",
    "invalid_baseline",
    "timestamp_in_future",
    "late",
]
# Same order as the enum in schemas/dead-letter.schema.json (a test compares them).
DEAD_LETTER_REASONS: Final[tuple[DeadLetterReason, ...]] = get_args(DeadLetterReason)

FeatureValue: TypeAlias = float | int | str | bool | None
Prediction: TypeAlias = float | int | str | dict[str, float | int]

# The model output's name wherever it sits next to features: a baseline's profile, a
# window result's feature list, a flat record read from a file.
PREDICTION_FEATURE: Final = "__prediction__"
MODEL_ID_MAX_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Limits the schema does not express. The timestamp bounds are fixed instants, not
    relative to the wall clock, so that replaying a topic gives the answers live processing
    gave. Both bounds are inclusive."""

    max_bytes: int = 1 << 20
    max_features: int = 1000
    min_timestamp_ms: int = MIN_TIMESTAMP_MS
    max_timestamp_ms: int = MAX_TIMESTAMP_MS


DEFAULT_LIMITS: Final = DecodeLimits()


class DecodeError(DriftlineError):
    """A message that is not a valid prediction event.

    ``reason`` is a dead-letter reason code; ``message`` names the failing field (as a JSON
    path in ``field``) where there is one; ``model_id`` is the event's model when it could
    be read, so the dead letter can carry it.
    """

    def __init__(
        self,
        reason: DeadLetterReason,
        message: str,
        *,
        field: str | None = None,
        model_id: str | None = None,
    ) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: DeadLetterReason = reason
        self.message = message
        self.field = field
        self.model_id = model_id


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input record that is not a valid event, where a file reader left it out: its line
    (or Parquet row), dead-letter reason and message, as the stream would dead-letter it."""

    line: int
    reason: DeadLetterReason
    message: str

    @classmethod
    def of(cls, line: int, error: DecodeError) -> Rejected:
        return cls(line, error.reason, error.message)


@dataclass(frozen=True, slots=True)
class PredictionEvent:
    """A validated prediction event. ``features`` is the decoded JSON object itself (not a
    copy, for speed): treat it as read-only."""

    model_id: str
    model_version: str | None
    event_id: str | None
    timestamp_ms: int
    features: dict[str, FeatureValue]
    # None only from a flat record without a prediction column: a null prediction.
    prediction: Prediction | None


def _slot_setter(name: str) -> Callable[[PredictionEvent, object], None]:
    setter: Callable[[PredictionEvent, object], None] = getattr(PredictionEvent, name).__set__
    return setter


_SET_MODEL_ID: Final = _slot_setter("model_id")
_SET_MODEL_VERSION: Final = _slot_setter("model_version")
_SET_EVENT_ID: Final = _slot_setter("event_id")
_SET_TIMESTAMP_MS: Final = _slot_setter("timestamp_ms")
_SET_FEATURES: Final = _slot_setter("features")
_SET_PREDICTION: Final = _slot_setter("prediction")


def _new_event(
    model_id: str,
    model_version: str | None,
    event_id: str | None,
    timestamp_ms: int,
    features: dict[str, FeatureValue],
    prediction: Prediction | None,
) -> PredictionEvent:
    # A frozen dataclass's __init__ sets each field through object.__setattr__, about 0.3 us
    # of a ~4 us budget; the slot descriptors do the same job directly.
    event: PredictionEvent = object.__new__(PredictionEvent)
    _SET_MODEL_ID(event, model_id)
    _SET_MODEL_VERSION(event, model_version)
    _SET_EVENT_ID(event, event_id)
    _SET_TIMESTAMP_MS(event, timestamp_ms)
    _SET_FEATURES(event, features)
    _SET_PREDICTION(event, prediction)
    return event


# -- errors ----------------------------------------------------------------------------------

_IDENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_path(parts: Iterable[str | int]) -> str:
    """``$.features.age``, ``$.features["a b"]``, ``$.items[0]``: the JSON path of a field."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENT.fullmatch(part):
            out.append(f".{part}")
        else:
            out.append(f"[{orjson.dumps(part).decode()}]")
    return "".join(out)


def json_type(value: object) -> str:
    """The JSON type name of a decoded value: null, boolean, number, string, array, object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def show_json(value: object, limit: int = 60) -> str:
    """The value as JSON, cut short: error texts must stay small whatever the input."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return f"{json_type(value)} {text}"


def _violation(
    path: list[str | int], expected: str, value: object, model_id: str | None
) -> DecodeError:
    field = json_path(path)
    return DecodeError(
        "schema_violation",
        f"{field}: expected {expected}, got {show_json(value)}",
        field=field,
        model_id=model_id,
    )


def _missing(name: str, model_id: str | None) -> DecodeError:
    field = json_path([name])
    return DecodeError(
        "schema_violation", f"{field}: required field is missing", field=field, model_id=model_id
    )


def oversized(size: int, limits: DecodeLimits = DEFAULT_LIMITS) -> DecodeError:
    """The ``oversized`` error for a message (or JSONL line) of ``size`` bytes; the caller
    compares ``size`` with ``limits.max_bytes`` (a call per message would cost more)."""
    return DecodeError("oversized", f"message is {size} bytes, the limit is {limits.max_bytes}")


# -- a JSON object ---------------------------------------------------------------------------

# Exact types (not isinstance): bool is a subclass of int but a boolean is not a number.
# orjson never yields NaN or infinity (they are not JSON; overflowing literals are refused),
# so a float needs no finiteness check.
_FEATURE_TYPES: Final = frozenset({float, int, str, bool, type(None)})
_NUMBER_TYPES: Final = frozenset({float, int})
_MISSING: Final = object()


def event_from_json(
    doc: dict[str, object], limits: DecodeLimits = DEFAULT_LIMITS
) -> PredictionEvent:
    """Validate a decoded JSON object as a prediction event. Raises ``DecodeError``; never
    anything else for any JSON object. The size limit is the caller's (``oversized``): only
    the caller has the bytes."""
    model_id = doc.get("model_id", _MISSING)
    good_id = (
        model_id if type(model_id) is str and 0 < len(model_id) <= MODEL_ID_MAX_CHARS else None
    )
    features = doc.get("features", _MISSING)
    if type(features) is dict and len(features) > limits.max_features:
        raise DecodeError(
            "too_many_features",
            f"$.features: {len(features)} features, the limit is {limits.max_features}",
            field="$.features",
            model_id=good_id,
        )

    if good_id is None:
        if model_id is _MISSING:
            raise _missing("model_id", None)
        raise _violation(["model_id"], "a string of 1 to 200 characters", model_id, None)
    if "schema_version" in doc:
        version = doc["schema_version"]
        if version != 1 or type(version) is bool:
            raise _violation(["schema_version"], "1", version, good_id)
    model_version = doc.get("model_version", _MISSING)
    if model_version is _MISSING:
        model_version = None
    elif type(model_version) is not str:
        raise _violation(["model_version"], "a string", model_version, good_id)
    event_id = doc.get("event_id", _MISSING)
    if event_id is _MISSING:
        event_id = None
    elif type(event_id) is not str:
        raise _violation(["event_id"], "a string", event_id, good_id)

    ts = doc.get("timestamp", _MISSING)
    if ts is _MISSING:
        raise _missing("timestamp", good_id)
    # Text, the common form, goes straight to the parser: the call through
    # json_timestamp_ms costs ~0.3 us of a ~5 us budget. Same rule either way.
    ts_ms = parse_rfc3339_ms(ts) if type(ts) is str else json_timestamp_ms(ts)
    if ts_ms is None:
        raise _violation(["timestamp"], TIMESTAMP_EXPECTED, ts, good_id)

    if type(features) is not dict:
        if features is _MISSING:
            raise _missing("features", good_id)
        raise _violation(["features"], "an object", features, good_id)
    if not _FEATURE_TYPES.issuperset(map(type, features.values())):
        for name, value in features.items():
            if type(value) not in _FEATURE_TYPES:
                raise _violation(
                    ["features", name], "a number, string, boolean or null", value, good_id
                )
    if PREDICTION_FEATURE in features:
        raise DecodeError(
            "schema_violation",
            f'$.features.{PREDICTION_FEATURE}: the name "{PREDICTION_FEATURE}" is reserved '
            "for the model output",
            field=f"$.features.{PREDICTION_FEATURE}",
            model_id=good_id,
        )

    prediction = doc.get("prediction", _MISSING)
    pred_type = type(prediction)
    if pred_type is dict:
        assert isinstance(prediction, dict)
        if not prediction:
            raise _violation(["prediction"], "at least one class", prediction, good_id)
        if not _NUMBER_TYPES.issuperset(map(type, prediction.values())):
            for name, value in prediction.items():
                if type(value) not in _NUMBER_TYPES:
                    raise _violation(["prediction", name], "a number", value, good_id)
    elif pred_type is not float and pred_type is not int and pred_type is not str:
        if prediction is _MISSING:
            raise _missing("prediction", good_id)
        raise _violation(
            ["prediction"],
            "a number, a string or an object of class probabilities",
            prediction,
            good_id,
        )

    if not limits.min_timestamp_ms <= ts_ms <= limits.max_timestamp_ms:
        raise DecodeError(
            "timestamp_out_of_bounds",
            f"$.timestamp: {show_json(ts)} is outside "
            f"{bounds_text(limits.min_timestamp_ms, limits.max_timestamp_ms)}",
            field="$.timestamp",
            model_id=good_id,
        )
    return _new_event(good_id, model_version, event_id, ts_ms, features, prediction)  # type: ignore[arg-type]


def is_event_object(doc: dict[str, object]) -> bool:
    """Whether a JSONL object is meant as a prediction event (and is judged as one): it has
    ``features``. Any other object is a flat record, like a CSV row."""
    return "features" in doc


# -- a flat record ---------------------------------------------------------------------------


def flat_event(
    model_id: str,
    timestamp: object,
    features: dict[str, FeatureValue],
    prediction: Prediction | None,
    *,
    column: str,
    instant: bool = False,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> PredictionEvent:
    """A CSV or Parquet record as an event of ``model_id``: its ``column`` holds the
    timestamp, read by ``cell_timestamp_ms`` (the JSON rule plus digits), or, with
    ``instant``, epoch milliseconds converted from a typed timestamp column (any instant,
    before 1970 too; only the bounds apply). The features are the record's other columns
    as the file typed them: a file's columns are not checked value by value (the window
    counts an odd value as a type mismatch). Raises ``DecodeError``."""
    if instant and type(timestamp) is int:
        ms: int | None = timestamp
    else:
        ms = cell_timestamp_ms(timestamp)
    if ms is None:
        if timestamp is None:
            raise DecodeError("schema_violation", f"column {column!r}: no timestamp (empty)")
        shown = repr(timestamp)
        if len(shown) > 60:
            shown = shown[:60] + "..."
        raise DecodeError(
            "schema_violation",
            f"column {column!r}: expected RFC 3339 text or epoch milliseconds, got {shown}",
        )
    if not limits.min_timestamp_ms <= ms <= limits.max_timestamp_ms:
        raise DecodeError(
            "timestamp_out_of_bounds",
            f"timestamp {ms} ({format_rfc3339_ms(ms)}) is outside "
            f"{bounds_text(limits.min_timestamp_ms, limits.max_timestamp_ms)}",
            model_id=model_id,
        )
    return _new_event(model_id, None, None, ms, features, prediction)


def prediction_value(prediction: object) -> float | str | None:
    """The value profiled as ``__prediction__``: a number as float, a label as itself, class
    probabilities as their argmax class (ties go to the first class in sorted order, so the
    answer does not depend on the producer's key order). None for anything else."""
    if type(prediction) is float or type(prediction) is int:
        return float(prediction)
    if type(prediction) is str:
        return prediction
    if type(prediction) is dict and prediction:
        if not _NUMBER_TYPES.issuperset(map(type, prediction.values())):
            return None
        # max() keeps the first of equal maxima, and the keys are in sorted order.
        best: str = max(sorted(prediction), key=prediction.__getitem__)
        return best
    return None
