"""Message contracts (pure, no Faust), bytes -> validated events: the one rule for event
time (``timestamps``), the event adapter every input goes through (``events``), the
hot-path decoder of Kafka messages (``decode``), dead letters, and the JSON Schemas of every
message in ``schemas/``."""

from app.contracts.deadletter import dead_letter, original_bytes
from app.contracts.decode import decode_event
from app.contracts.events import (
    DEAD_LETTER_REASONS,
    DEFAULT_LIMITS,
    PREDICTION_FEATURE,
    DeadLetterReason,
    DecodeError,
    DecodeLimits,
    FeatureValue,
    Prediction,
    PredictionEvent,
    Rejected,
    event_from_json,
    flat_event,
    json_path,
    prediction_value,
)
from app.contracts.schemas import (
    SCHEMA_NAMES,
    SchemaValidationError,
    load_schema,
    validate,
    validator,
)
from app.contracts.timestamps import format_rfc3339_ms, parse_rfc3339_ms

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
    "Rejected",
    "SchemaValidationError",
    "dead_letter",
    "decode_event",
    "event_from_json",
    "flat_event",
    "format_rfc3339_ms",
    "json_path",
    "load_schema",
    "original_bytes",
    "parse_rfc3339_ms",
    "prediction_value",
    "validate",
    "validator",
]
