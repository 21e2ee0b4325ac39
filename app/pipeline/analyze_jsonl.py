"""``driftline analyze`` input, JSONL: every non-blank line is a prediction event, decoded by
the stream's decoder (``decode_event``, default limits), so a line gets the verdict the
stream gives the same bytes. Blank lines are formatting, not events: skipped, not counted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from app.contracts.decode import decode_event
from app.contracts.events import DEFAULT_LIMITS, DecodeError
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
    limits = DEFAULT_LIMITS
    max_bytes = limits.max_bytes
    decode = decode_event
    consumed = 0
    try:
        for lineno, raw in enumerate(f, 1):
            consumed += len(raw)
            if on_progress is not None and lineno % PROGRESS_EVERY == 0:
                on_progress(consumed)
            if raw.isspace():
                continue
            if len(raw) > max_bytes:
                raw = raw.rstrip(b"\r\n")  # the line break is not part of the event
            try:
                event = decode(raw, limits=limits)
            except DecodeError as err:
                yield err, lineno
                continue
            error = check(event) if check is not None else None
            yield (event if error is None else error), lineno
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    finally:
        f.close()
    if on_progress is not None:
        on_progress(consumed)
