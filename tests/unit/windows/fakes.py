"""A counting accumulator standing in for the drift histogram in window tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.baseline.model import Baseline
from app.windows.binner import LateEvent, Output


class CountingAccumulator:
    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data: dict[str, int] = dict(data or {})
        self.flushed = False

    def add_event(self, features: dict[str, Any], prediction: Any) -> None:
        for name in features:
            self.data[name] = self.data.get(name, 0) + 1

    def flush(self) -> None:
        self.flushed = True

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CountingAccumulator):
            return NotImplemented
        return self.data == other.data

    __hash__ = None  # type: ignore[assignment]


class CountingOps:
    def new(self, baseline: Baseline) -> CountingAccumulator:
        return CountingAccumulator()

    def load(self, baseline: Baseline, data: dict[str, Any]) -> CountingAccumulator:
        return CountingAccumulator(data)


def outputs_of(result: Sequence[Output] | LateEvent) -> list[Output]:
    """What a binner's on_event sends on: nothing for a late event (its side output)."""
    return [] if isinstance(result, LateEvent) else list(result)
