"""``driftline analyze`` over JSONL with the extension: the file is read in chunks of
lines, the extension folds stretches of sure events of the analyzed model (and skips
other models' valid events, as ``analyze`` does), and every other line goes through
``app.pipeline.analyze_jsonl.line_item`` (the reference), in file order."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Final

from app.errors import InputError
from app.native.folder import NativeFolder, NativeRun
from app.pipeline.analyze_jsonl import PROGRESS_EVERY, line_item
from app.pipeline.analyze_summary import EventCheck, ProgressHandler, SourceItem

CHUNK_BYTES: Final = 1 << 22  # lines read per call to the extension, about
# Lines from which the extension folds a chunk on two threads (a thread costs ~20 µs; a
# chunk's fold, milliseconds). analyze has the machine to itself, unlike a worker.
SPLIT_BYTES: Final = 1 << 16
ALL_RECORDS: Final = range(sys.maxsize)  # a record's offset is its index in the file


def native_jsonl_events(
    path: str,
    folder: NativeFolder,
    now_ms: int,
    on_progress: ProgressHandler | None,
    *,
    check: EventCheck | None = None,
) -> Iterator[SourceItem | tuple[NativeRun, None]]:
    """As ``jsonl_events``, and a ``NativeRun`` for each stretch the extension folded
    (the binner's offsets are the non-blank line indexes, as ``analyze`` numbers them).
    Lazy: each call sees the binner as the caller left it."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed in finally; the generator may pause
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    index = 0  # the next non-blank line's record index
    lineno = 0
    consumed = 0
    reported = 0
    try:
        while True:
            # Whole lines in one bytes object, which the extension splits itself: a list
            # of a million line objects cost about as much as folding them.
            chunk = f.read(CHUNK_BYTES)
            if not chunk:
                break
            if not chunk.endswith(b"\n"):
                chunk += f.readline()
            pos = 0
            n = len(chunk)
            while pos < n:
                run = folder.fold(
                    chunk, ALL_RECORDS, pos, now_ms, line0=index, split_from=SPLIT_BYTES
                )
                if run is not None:
                    yield run, None
                    taken = run.stop - run.begin
                    index += taken
                    lineno += taken
                    consumed += run.stop_at - pos
                    pos = run.stop_at
                    if pos >= n:
                        break
                end = chunk.find(b"\n", pos)
                end = n if end < 0 else end + 1
                raw = chunk[pos:end]
                pos = end
                lineno += 1
                consumed += len(raw)
                item = line_item(raw, check)
                if item is not None:
                    index += 1
                    yield item, lineno
            if on_progress is not None and lineno - reported >= PROGRESS_EVERY:
                on_progress(consumed)
                reported = lineno
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    finally:
        f.close()
    if on_progress is not None:
        on_progress(consumed)


__all__ = ["native_jsonl_events"]
