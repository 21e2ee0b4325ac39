"""Tumbling, epoch-aligned event-time windows. All times are integer epoch milliseconds."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

# A watermark beyond any real event time: "this source is finished" (end of replay input).
END_OF_TIME_MS = 2**62


@dataclass(frozen=True)
class WindowSpec:
    size_ms: int
    lateness_ms: int

    def __post_init__(self) -> None:
        if self.size_ms <= 0:
            raise ValueError(f"window size must be positive, got {self.size_ms} ms")
        if self.lateness_ms < 0:
            raise ValueError(f"allowed lateness must be >= 0, got {self.lateness_ms} ms")

    @classmethod
    def from_seconds(cls, size_s: int, lateness_s: int) -> WindowSpec:
        return cls(size_ms=size_s * 1000, lateness_ms=lateness_s * 1000)

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


def route(model_id: str, window_start_ms: int, partitions: int) -> int:
    """Partition of the partials topic that merges (model, window).

    crc32, not ``hash()``: Python's string hash is salted per process, and every worker
    must route a given (model, window) to the same partition.
    """
    return zlib.crc32(f"{model_id}|{window_start_ms}".encode()) % partitions
