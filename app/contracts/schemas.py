"""The JSON Schemas of every message Driftline reads or writes, and validation against them.

For tests, tools and the cold path (baselines, offline files). The hot path uses
``decode.decode_event``, whose hand-written checks mirror the prediction-event schema.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from app.contracts.decode import json_path
from app.errors import DriftlineError

SCHEMA_NAMES: Final = (
    "prediction-event",
    "baseline",
    "window-result",
    "drift-event",
    "dead-letter",
    "incident-event",
)
_MESSAGE_LIMIT: Final = 300


class SchemaValidationError(DriftlineError):
    """A document that breaks its schema. ``path`` is the JSON path of the failing field."""

    def __init__(self, schema_name: str, path: str, message: str) -> None:
        super().__init__(f"{schema_name}: {path}: {message}")
        self.schema_name = schema_name
        self.path = path
        self.message = message


def schema_dir() -> Traversable:
    """``app/_schemas`` in an installed wheel (pyproject force-includes ``schemas/`` there),
    else the checkout's ``schemas/`` (editable installs and running from the repo)."""
    packaged = files("app") / "_schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "schemas"


def load_schema(name: str) -> dict[str, Any]:
    """A fresh copy of the schema ``name`` (one of ``SCHEMA_NAMES``)."""
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    doc = orjson.loads((schema_dir() / f"{name}.schema.json").read_bytes())
    if not isinstance(doc, dict):
        raise ValueError(f"schema {name!r} is not a JSON object")
    return doc


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """The (cached) draft 2020-12 validator of schema ``name``. The schemas ship with the
    package and ``tests/unit/contracts/test_schemas.py`` checks each against the
    metaschema, so a process does not (that check took 54 ms of every start)."""
    return Draft202012Validator(load_schema(name))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def validate(name: str, doc: object) -> None:
    """Raise ``SchemaValidationError`` naming the JSON path of the failing field, if ``doc``
    breaks schema ``name``."""
    error = best_match(validator(name).iter_errors(doc))
    if error is None:
        return
    if error.validator == "pattern":
        # The message would quote the whole regular expression; the format's name says more.
        message = f"{_short(error.instance)} is not in the required format"
        if isinstance(error.schema, dict) and "description" in error.schema:
            message += f" ({error.schema['description']})"
    else:
        message = str(error.message)
    if len(message) > _MESSAGE_LIMIT:
        # jsonschema quotes whole instances; a 1 MiB event must not become a 1 MiB error.
        message = message[:_MESSAGE_LIMIT] + "..."
    raise SchemaValidationError(name, json_path(error.absolute_path), message)
