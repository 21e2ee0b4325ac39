"""The report's input: JSON Lines of window results and drift events, as ``driftline
analyze`` writes them or ``driftline tail windows --json`` / ``tail alerts --json`` print
them (a replay's output topics). Other kinds of document (dead letters, anything newer)
are counted and left out; a line that is not JSON, or a result that breaks its schema, is
an error naming the line."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.contracts.schemas import SchemaValidationError, validate
from app.errors import InputError

WINDOW_RESULT = "window_result"
DRIFT_EVENT = "drift_event"


@dataclass
class ModelData:
    """One model's window results (oldest window first) and drift events by window id."""

    model_id: str
    windows: list[Mapping[str, Any]] = field(default_factory=list)
    events: dict[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass
class ReportInput:
    models: dict[str, ModelData]  # by model id, in sorted order
    n_windows: int
    n_events: int
    n_skipped: int  # documents of another kind


def _window_key(doc: Mapping[str, Any]) -> tuple[int, int]:
    window = doc["window"]
    return int(window["start_ms"]), int(window["end_ms"])


def load_report_input(path: str) -> ReportInput:
    """Read ``path``; ``InputError`` (file, line, what) on the first bad line."""
    try:
        with open(path, "rb") as f:
            lines = f.readlines()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    return build_report_input(
        ((path, lineno, raw) for lineno, raw in enumerate(lines, 1)),
        empty_hint='(expected JSON Lines with "kind": "window_result", '
        "as `driftline analyze` writes)",
        source=path,
    )


def build_report_input(
    items: Iterable[tuple[str, int | None, bytes]],
    *,
    keep: Callable[[Mapping[str, Any]], bool] = lambda doc: True,
    empty_hint: str = "",
    source: str,
) -> ReportInput:
    """The report's input from ``(where, line, raw JSON)`` items (a file's lines, or a
    topic's records named ``topic[partition]@offset`` with no line); window results and
    drift events ``keep`` refuses are counted as skipped. ``InputError`` names the item."""
    models: dict[str, ModelData] = {}
    n_windows = n_events = n_skipped = 0
    # A window result can appear twice (a replay run again, a topic read from the start):
    # the last one read wins, as it would for a consumer of the compacted view.
    seen: dict[tuple[str, str], int] = {}
    for where, lineno, raw in items:
        if raw.isspace() or not raw:
            continue
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise InputError(f"not JSON: {err}", path=where, line=lineno) from None
        if not isinstance(doc, dict):
            raise InputError(
                f"expected a JSON object, got {type(doc).__name__}", path=where, line=lineno
            )
        kind = doc.get("kind")
        if kind not in (WINDOW_RESULT, DRIFT_EVENT):
            n_skipped += 1
            continue
        schema = "window-result" if kind == WINDOW_RESULT else "drift-event"
        try:
            validate(schema, doc)
        except SchemaValidationError as err:
            raise InputError(str(err), path=where, line=lineno) from None
        if not keep(doc):
            n_skipped += 1
            continue
        model = models.setdefault(doc["model_id"], ModelData(doc["model_id"]))
        if kind == DRIFT_EVENT:
            model.events[doc["window_id"]] = doc
            n_events += 1
            continue
        key = (doc["model_id"], doc["window_id"])
        if key in seen:
            model.windows[seen[key]] = doc
            continue
        seen[key] = len(model.windows)
        model.windows.append(doc)
        n_windows += 1
    if n_windows == 0:
        raise InputError(f"holds no window results {empty_hint}".rstrip(), path=source)
    for model in models.values():
        model.windows.sort(key=_window_key)
    ordered = {m: models[m] for m in sorted(models) if models[m].windows}
    return ReportInput(ordered, n_windows, n_events, n_skipped)
