"""Message contracts (pure, no Faust): the hot-path decoder of prediction events, dead
letters, and the JSON Schemas of every message in ``schemas/``."""

from app.contracts.deadletter import dead_letter, original_bytes
from app.contracts.decode import (
    DEAD_LETTER_REASONS,
    DEFAULT_LIMITS,
    PREDICTION_FEATURE,
    DeadLetterReason,
    DecodeError,
    DecodeLimits,
    FeatureValue,
    Prediction,
    PredictionEvent,
    decode_event,
    format_rfc3339_ms,
    json_path,
    parse_rfc3339_ms,
    prediction_value,
)
from app.contracts.schemas import (
    SCHEMA_NAMES,
    SchemaValidationError,
    load_schema,
    validate,
    validator,
)

__all__ = [
    "DEAD_LETTER_REASONS",
    "DEFAULT_LIMITS",
    "PREDICTION_FEATURE",
    "SCHEMA_NAMES",
    "DeadLetterReason",
    "DecodeError",
    "DecodeLimits",
    "FeatureValue",
    "Prediction",
    "PredictionEvent",
    "SchemaValidationError",
    "dead_letter",
    "decode_event",
    "format_rfc3339_ms",
    "json_path",
    "load_schema",
    "original_bytes",
    "parse_rfc3339_ms",
    "prediction_value",
    "validate",
    "validator",
]
