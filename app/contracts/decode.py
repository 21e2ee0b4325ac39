"""The hot path: raw Kafka bytes -> ``PredictionEvent``, or ``DecodeError`` with a reason code.

The checks are written by hand to mirror ``schemas/prediction-event.schema.json``: running
jsonschema on every event would cost about a hundred times more. The differential test in
``tests/unit/contracts/test_decode.py`` keeps the two in step.

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
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, TypeAlias

import orjson

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
DEAD_LETTER_REASONS: Final[tuple[DeadLetterReason, ...]] = (
    "invalid_json",
    "schema_violation",
    "timestamp_out_of_bounds",
    "unknown_model",
    "oversized",
    "too_many_features",
    "invalid_baseline",
    "timestamp_in_future",
    "late",
)

FeatureValue: TypeAlias = float | int | str | bool | None
Prediction: TypeAlias = float | int | str | dict[str, float | int]

PREDICTION_FEATURE: Final = "__prediction__"
MODEL_ID_MAX_CHARS: Final = 200
MIN_TIMESTAMP_MS: Final = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_TIMESTAMP_MS: Final = 4_102_444_800_000  # 2100-01-01T00:00:00Z


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
class PredictionEvent:
    """A validated prediction event. ``features`` is the decoded JSON object itself (not a
    copy, for speed): treat it as read-only."""

    model_id: str
    model_version: str | None
    event_id: str | None
    timestamp_ms: int
    features: dict[str, FeatureValue]
    prediction: Prediction


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
    prediction: Prediction,
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


# -- time ------------------------------------------------------------------------------------

# [0-9], not \d: Python's \d (and int()) accept any Unicode digit, RFC 3339 only ASCII.
# The date alternatives encode month lengths and Gregorian leap years, so that the pattern
# alone decides validity, exactly like the schema's pattern. No leap second (:60): datetime
# cannot hold one and epoch milliseconds have no way to express it.
# The text splits at a fixed place: the first 19 characters are date, "T" and hh:mm:ss; the
# rest is the optional fraction and the offset. Each half is valid or not on its own.
_HEAD: Final = re.compile(
    r"""
    (?:[0-9]{4}-(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])
      |[0-9]{4}-(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)
      |[0-9]{4}-02-(?:0[1-9]|1[0-9]|2[0-8])
      |(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)
    T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]
    """,
    re.VERBOSE,
)
_TAIL: Final = re.compile(r"(?:\.([0-9]+))?(?:Z|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))")
_EPOCH_NAIVE: Final = datetime(1970, 1, 1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS: Final = timedelta(milliseconds=1)
# The Gregorian calendar repeats every 400 years (146097 days): lets year 0000, which
# datetime cannot represent, be computed as year 0400 minus one cycle.
_CYCLE_MS: Final = 146_097 * 86_400_000
# A stream's timestamps share their second (and their fraction-and-offset tails repeat), so
# memoising both halves turns the usual parse into two dict lookups. Only valid halves are
# stored; the caches are cleared when full, which bounds memory and keeps results exact.
_HEAD_MS: Final[dict[str, int]] = {}
_TAIL_MS: Final[dict[str, int]] = {}
_CACHE_MAX: Final = 1 << 14


def _head_ms(head: str) -> int | None:
    if _HEAD.fullmatch(head) is None:
        return None
    if head.startswith("0000"):
        naive = datetime.fromisoformat("0400" + head[4:])
        return (naive - _EPOCH_NAIVE) // _ONE_MS - _CYCLE_MS
    return (datetime.fromisoformat(head) - _EPOCH_NAIVE) // _ONE_MS


def _tail_ms(tail: str) -> int | None:
    match = _TAIL.fullmatch(tail)
    if match is None:
        return None
    fraction, sign, hours, minutes = match.groups()
    # Truncate (not round) to milliseconds: rounding could carry into the next second.
    ms = int(fraction[:3].ljust(3, "0")) if fraction else 0
    if sign is not None:
        offset_ms = (int(hours) * 60 + int(minutes)) * 60_000
        ms += -offset_ms if sign == "+" else offset_ms
    return ms


def parse_rfc3339_ms(text: str) -> int | None:
    """Epoch milliseconds of an RFC 3339 date-time (fraction truncated toward the past), or
    None when ``text`` is not one. Stricter than ``datetime.fromisoformat``, which also
    takes dates alone, a space separator, week dates and offsets without a colon."""
    # The two cache lookups are written out, not shared through a helper: this runs once
    # per event, and a call costs about as much as the lookup.
    head = text[:19]
    base = _HEAD_MS.get(head)
    if base is None:
        base = _head_ms(head)
        if base is None:
            return None
        if len(_HEAD_MS) >= _CACHE_MAX:
            _HEAD_MS.clear()
        _HEAD_MS[head] = base
    tail = text[19:]
    adjust = _TAIL_MS.get(tail)
    if adjust is None:
        adjust = _tail_ms(tail)
        if adjust is None:
            return None
        if len(_TAIL_MS) >= _CACHE_MAX:
            _TAIL_MS.clear()
        _TAIL_MS[tail] = adjust
    return base + adjust


def format_rfc3339_ms(ms: int) -> str:
    """RFC 3339 UTC text of epoch milliseconds: ``2026-11-27T07:00:01.250Z``, without the
    fraction when it is zero (``2026-11-27T07:00:00Z``)."""
    seconds, millis = divmod(ms, 1000)
    text = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


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


def _json_type(value: object) -> str:
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


def _show(value: object, limit: int = 60) -> str:
    """The value as JSON, cut short: error texts must stay small whatever the input."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return f"{_json_type(value)} {text}"


def _violation(
    path: list[str | int], expected: str, value: object, model_id: str | None
) -> DecodeError:
    field = json_path(path)
    return DecodeError(
        "schema_violation",
        f"{field}: expected {expected}, got {_show(value)}",
        field=field,
        model_id=model_id,
    )


def _missing(name: str, model_id: str | None) -> DecodeError:
    field = json_path([name])
    return DecodeError(
        "schema_violation", f"{field}: required field is missing", field=field, model_id=model_id
    )


# -- decoding --------------------------------------------------------------------------------

# Exact types (not isinstance): bool is a subclass of int but a boolean is not a number.
# orjson never yields NaN or infinity (they are not JSON; overflowing literals are refused),
# so a float needs no finiteness check.
_FEATURE_TYPES: Final = frozenset({float, int, str, bool, type(None)})
_NUMBER_TYPES: Final = frozenset({float, int})
_TIMESTAMP_EXPECTED: Final = (
    "RFC 3339 text (e.g. 2026-11-27T07:00:01.250Z or 2026-11-27T08:00:01+01:00) "
    "or epoch milliseconds (integer >= 0)"
)
_MISSING: Final = object()


def decode_event(raw: bytes, *, limits: DecodeLimits = DEFAULT_LIMITS) -> PredictionEvent:
    """Decode and validate one prediction event. Raises ``DecodeError``; never anything else
    for any input bytes."""
    if len(raw) > limits.max_bytes:
        raise DecodeError(
            "oversized", f"message is {len(raw)} bytes, the limit is {limits.max_bytes}"
        )
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("invalid_json", f"not UTF-8 JSON: {exc}") from None
    if type(doc) is not dict:
        raise DecodeError("invalid_json", f"expected a JSON object, got {_show(doc)}")

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
    ts_type = type(ts)
    ts_ms: int | None
    if ts_type is str:
        ts_ms = parse_rfc3339_ms(ts)
    elif ts_type is int:
        ts_ms = ts if ts >= 0 else None
    elif ts_type is float and ts.is_integer() and ts >= 0:
        # JSON Schema counts 1.0 as an integer; so must we, to accept what it accepts.
        ts_ms = int(ts)
    elif ts is _MISSING:
        raise _missing("timestamp", good_id)
    else:
        ts_ms = None
    if ts_ms is None:
        raise _violation(["timestamp"], _TIMESTAMP_EXPECTED, ts, good_id)

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
            f"$.timestamp: {_show(ts)} is outside "
            f"[{format_rfc3339_ms(limits.min_timestamp_ms)}, "
            f"{format_rfc3339_ms(limits.max_timestamp_ms)}]",
            field="$.timestamp",
            model_id=good_id,
        )
    return _new_event(good_id, model_version, event_id, ts_ms, features, prediction)


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
