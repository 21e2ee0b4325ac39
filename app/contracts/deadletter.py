"""Dead letters: what the worker writes instead of dropping a message it cannot process."""

from __future__ import annotations

import base64
from typing import Any, Final

from app.contracts.decode import (
    DEAD_LETTER_REASONS,
    MODEL_ID_MAX_CHARS,
    DeadLetterReason,
    DecodeError,
    format_rfc3339_ms,
)

ERROR_MAX_CHARS: Final = 4096


def dead_letter(
    reason: DeadLetterReason,
    error: str | BaseException,
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    key: bytes | None,
    value: bytes,
    model_id: str | None,
    received_at_ms: int,
    window_id: str | None = None,
) -> dict[str, Any]:
    """The dead-letter document (valid against ``schemas/dead-letter.schema.json``).

    ``timestamp_ms`` is the Kafka record timestamp; a negative one (Kafka's -1, "none") is
    written as null. ``model_id`` falls back to the one a ``DecodeError`` could read, and is
    written as null when it is not a valid model id, since the point of the field is to let
    an operator filter by model. ``window_id``: the window a late event belongs to (reason
    ``late``), written only then.
    """
    if reason not in DEAD_LETTER_REASONS:
        raise ValueError(f"unknown dead-letter reason {reason!r}")
    if isinstance(error, DecodeError):
        text = error.message
        if model_id is None:
            model_id = error.model_id
    else:
        text = str(error)
    if not text:
        text = type(error).__name__ if isinstance(error, BaseException) else "(no error text)"
    if len(text) > ERROR_MAX_CHARS:
        text = text[: ERROR_MAX_CHARS - 3] + "..."
    if model_id is not None and not 0 < len(model_id) <= MODEL_ID_MAX_CHARS:
        model_id = None
    record_ms = timestamp_ms if timestamp_ms is not None and timestamp_ms >= 0 else None
    doc: dict[str, Any] = {
        "schema_version": 1,
        "kind": "dead_letter",
        "reason": reason,
        "error": text,
        "source": {
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "timestamp_ms": record_ms,
        },
        "original_base64": base64.b64encode(value).decode("ascii"),
        "original_key_base64": None if key is None else base64.b64encode(key).decode("ascii"),
        "model_id": model_id,
        "received_at": format_rfc3339_ms(received_at_ms),
    }
    if window_id is not None:
        doc["window_id"] = window_id
    return doc


def original_bytes(doc: dict[str, Any]) -> tuple[bytes | None, bytes]:
    """The original (key, value) of a dead letter, e.g. to re-publish it after a fix."""
    key = doc["original_key_base64"]
    return (
        None if key is None else base64.b64decode(key, validate=True),
        base64.b64decode(doc["original_base64"], validate=True),
    )
