"""``driftline analyze`` input, JSONL: every non-blank line is a prediction event, decoded by
the stream's decoder (``decode_event``, default limits), so a line gets the verdict the
stream gives the same bytes. Blank lines are formatting, not events: skipped, not counted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

from app.contracts.decode import decode_event
from app.contracts.events import DEFAULT_LIMITS, DecodeError, PredictionEvent
from app.errors import InputError
from app.pipeline.analyze_summary import EventCheck, ProgressHandler, SourceItem

PROGRESS_EVERY: Final = 8192  # lines between progress reports


def jsonl_events(
    path: str, on_progress: ProgressHandler | None, *, check: EventCheck | None = None
) -> Iterator[SourceItem]:
    """(event or error, line) for every non-blank line of ``path``, in file order."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed in finally; the generator may pause
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    decode = decode_event
    consumed = 0
    try:
        for lineno, raw in enumerate(f, 1):
            consumed += len(raw)
            if on_progress is not None and lineno % PROGRESS_EVERY == 0:
                on_progress(consumed)
            item = line_item(raw, check, decode)
            if item is not None:
                yield item, lineno
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    finally:
        f.close()
    if on_progress is not None:
        on_progress(consumed)


def line_item(
    raw: bytes, check: EventCheck | None, decode: Callable[..., PredictionEvent] = decode_event
) -> PredictionEvent | DecodeError | None:
    """One line's verdict: the event, or the error it is reported with; None for a blank
    line (not a record)."""
    if raw.isspace():
        return None
    if len(raw) > DEFAULT_LIMITS.max_bytes:
        raw = raw.rstrip(b"\r\n")  # the line break is not part of the event
    try:
        event = decode(raw, limits=DEFAULT_LIMITS)
    except DecodeError as err:
        return err
    error = check(event) if check is not None else None
    return event if error is None else error
