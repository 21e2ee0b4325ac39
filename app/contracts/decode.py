"""The hot path: raw Kafka bytes -> ``PredictionEvent``, or ``DecodeError`` with a reason code.

The bytes are checked for size and parsed here; what makes the object an event is the one
rule in ``app.contracts.events`` (shared with the file readers and ``analyze``), and time
is ``app.contracts.timestamps``. The names below are re-exported so that callers keep one
import for the decoder and its types.
"""

from __future__ import annotations

import orjson

from app.contracts.events import (
    DEAD_LETTER_REASONS,
    DEFAULT_LIMITS,
    MODEL_ID_MAX_CHARS,
    PREDICTION_FEATURE,
    DeadLetterReason,
    DecodeError,
    DecodeLimits,
    FeatureValue,
    Prediction,
    PredictionEvent,
    event_from_json,
    json_path,
    oversized,
    prediction_value,
    show_json,
)
from app.contracts.timestamps import (
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    format_rfc3339_ms,
    parse_rfc3339_ms,
)

__all__ = [
    "DEAD_LETTER_REASONS",
    "DEFAULT_LIMITS",
    "MAX_TIMESTAMP_MS",
    "MIN_TIMESTAMP_MS",
    "MODEL_ID_MAX_CHARS",
    "PREDICTION_FEATURE",
    "DeadLetterReason",
    "DecodeError",
    "DecodeLimits",
    "FeatureValue",
    "Prediction",
    "PredictionEvent",
    "decode_event",
    "format_rfc3339_ms",
    "json_path",
    "parse_rfc3339_ms",
    "prediction_value",
]


def decode_event(raw: bytes, *, limits: DecodeLimits = DEFAULT_LIMITS) -> PredictionEvent:
    """Decode and validate one prediction event. Raises ``DecodeError``; never anything else
    for any input bytes."""
    if len(raw) > limits.max_bytes:
        raise oversized(len(raw), limits)
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("invalid_json", f"not UTF-8 JSON: {exc}") from None
    if type(doc) is not dict:
        raise DecodeError("invalid_json", f"expected a JSON object, got {show_json(doc)}")
    return event_from_json(doc, limits)
