"""Which baseline a model's window is measured against.

A published baseline carries ``effective_from_ms``; window W of model m uses the latest
baseline of m whose effective time is <= W's start, and the model's earliest baseline
when none is effective yet (so the first baseline covers history). The choice depends
only on the window and the set of baselines, never on arrival order or the wall clock,
which keeps live processing and replay in agreement.
"""

from __future__ import annotations

import bisect

from app.baseline.model import Baseline


class BaselineRegistry:
    def __init__(self) -> None:
        self._by_model: dict[str, list[tuple[int, str]]] = {}
        self._by_id: dict[str, Baseline] = {}

    def add(self, baseline: Baseline, effective_from_ms: int = 0) -> bool:
        """Register a baseline version. Returns False if this exact version is known."""
        versions = self._by_model.setdefault(baseline.model_id, [])
        entry = (effective_from_ms, baseline.baseline_id)
        if entry in versions:
            return False
        bisect.insort(versions, entry)
        self._by_id[baseline.baseline_id] = baseline
        return True

    def choose(self, model_id: str, window_start_ms: int) -> Baseline | None:
        versions = self._by_model.get(model_id)
        if not versions:
            return None
        i = bisect.bisect_right(versions, (window_start_ms, "\uffff"))
        _, baseline_id = versions[i - 1] if i > 0 else versions[0]
        return self._by_id[baseline_id]

    def by_id(self, baseline_id: str) -> Baseline | None:
        return self._by_id.get(baseline_id)

    def versions(self, model_id: str) -> list[tuple[int, str]]:
        """(effective_from_ms, baseline_id) of a model's versions, oldest first."""
        return list(self._by_model.get(model_id, []))

    def models(self) -> list[str]:
        return sorted(self._by_model)

    def __len__(self) -> int:
        return len(self._by_id)
