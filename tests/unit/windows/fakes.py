"""A counting accumulator standing in for the drift histogram in window tests."""

from __future__ import annotations

from typing import Any

from app.baseline.model import Baseline, FeatureBaseline, NumericProfile


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


def make_baseline(model_id: str, baseline_id: str = "bl-0000000000000000") -> Baseline:
    profile = NumericProfile((0.0, 1.0), (0, 1, 0), 0, 1, 0.0, 1.0, 0.5, 0.5)
    return Baseline(
        model_id=model_id,
        model_version=None,
        baseline_id=baseline_id,
        created_at="2026-01-01T00:00:00Z",
        features=(FeatureBaseline("x", "numeric", "feature", numeric=profile),),
    )
