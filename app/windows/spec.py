"""Tumbling, epoch-aligned event-time windows. All times are integer epoch milliseconds.

``WindowSpec`` is the rule (size and allowed lateness), built once from the settings
(``Settings.window_spec``) and passed down; ``WindowSpan`` is one window of it, the unit a
result and its ids are about (``WindowSpec.span``; ``driftline evaluate`` makes a span
that covers a whole file).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

# A watermark beyond any real event time: "this source is finished" (end of replay input).
END_OF_TIME_MS = 2**62
# How far ahead of the wall clock an event may be when read (DRIFTLINE_MAX_FUTURE_SECONDS).
DEFAULT_MAX_FUTURE_MS = 300_000


@dataclass(frozen=True)
class WindowSpec:
    size_ms: int
    lateness_ms: int
    # Events further ahead of the wall clock when read are rejected and move no clock.
    max_future_ms: int = DEFAULT_MAX_FUTURE_MS

    def __post_init__(self) -> None:
        if self.size_ms <= 0:
            raise ValueError(f"window size must be positive, got {self.size_ms} ms")
        if self.lateness_ms < 0:
            raise ValueError(f"allowed lateness must be >= 0, got {self.lateness_ms} ms")
        if self.max_future_ms < 0:
            raise ValueError(f"the future bound must be >= 0, got {self.max_future_ms} ms")

    @classmethod
    def from_seconds(
        cls, size_s: int, lateness_s: int, max_future_s: int = DEFAULT_MAX_FUTURE_MS // 1000
    ) -> WindowSpec:
        return cls(
            size_ms=size_s * 1000, lateness_ms=lateness_s * 1000, max_future_ms=max_future_s * 1000
        )

    @property
    def size_seconds(self) -> int:
        """The size in whole seconds, as results and ids state it."""
        if self.size_ms % 1000:
            raise ValueError(f"window size {self.size_ms} ms is not a whole number of seconds")
        return self.size_ms // 1000

    def span(self, start_ms: int) -> WindowSpan:
        """The window starting at ``start_ms``."""
        return WindowSpan(start_ms, self.size_seconds)

    def start_of(self, ts_ms: int) -> int:
        """Start of the window holding ``ts_ms`` (floor division keeps pre-1970 times aligned)."""
        return ts_ms - ts_ms % self.size_ms

    def end_of(self, start_ms: int) -> int:
        """Exclusive end of the window starting at ``start_ms``."""
        return start_ms + self.size_ms

    def closed_upto(self, watermark_ms: int | None) -> int | None:
        """The latest window end that is <= the watermark: every window ending at or before it
        is complete for the source that has this watermark."""
        if watermark_ms is None:
            return None
        if watermark_ms >= END_OF_TIME_MS:
            return END_OF_TIME_MS
        return self.start_of(watermark_ms)


@dataclass(frozen=True)
class WindowSpan:
    """An event-time window [start_ms, start_ms + 1000 * size_seconds)."""

    start_ms: int
    size_seconds: int

    def __post_init__(self) -> None:
        if self.start_ms < 0 or self.size_seconds < 1:
            raise ValueError(f"bad window: start_ms={self.start_ms}, size={self.size_seconds}s")

    @property
    def end_ms(self) -> int:
        return self.start_ms + 1000 * self.size_seconds


def route(model_id: str, window_start_ms: int, partitions: int) -> int:
    """Partition of the partials topic that merges (model, window).

    crc32, not ``hash()``: Python's string hash is salted per process, and every worker
    must route a given (model, window) to the same partition.
    """
    return zlib.crc32(f"{model_id}|{window_start_ms}".encode()) % partitions
