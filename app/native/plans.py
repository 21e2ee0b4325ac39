"""A baseline's binning plan for the extension, built once per ``HistogramLayout`` from
the same ``FeaturePlan`` s the Python histogram uses (so both bin by one plan)."""

from __future__ import annotations

import math
from typing import Any, Final

from app.binning.plans import FeaturePlan, HistogramLayout
from app.contracts.events import PREDICTION_FEATURE
from app.native.loader import NativeModule

_NO_PLAN: Final = object()
_plans: dict[int, tuple[HistogramLayout, object]] = {}


def _spec(plan: FeaturePlan, offset: int) -> tuple[Any, ...]:
    if plan.numeric:
        return (offset, list(plan.edges), None, plan.other, plan.complete, False, False)
    return (
        offset,
        None,
        list(plan.lookup.items()),
        plan.other,
        plan.complete,
        plan.numbers_native,
        plan.bools_native,
    )


def _build(module: NativeModule, layout: HistogramLayout) -> object:
    offsets = []
    size = 0
    for k in layout.n_cells:
        offsets.append(size)
        size += 3 + k
    plans = list(layout.feature_plans.values())
    if layout.prediction_plan is not None:
        plans.append(layout.prediction_plan)
    # Non-finite edges cannot come from a valid baseline; such a plan stays in Python.
    if any(not math.isfinite(e) for p in plans if p.numeric for e in p.edges):
        return _NO_PLAN
    features = [
        (name, _spec(p, offsets[p.index]))
        for name, p in layout.feature_plans.items()
        if name != PREDICTION_FEATURE  # a reserved name: the Python path rejects the event
    ]
    pred = layout.prediction_plan
    return module.Plan(size, features, None if pred is None else _spec(pred, offsets[pred.index]))


def plan_for(module: NativeModule, layout: HistogramLayout) -> object | None:
    """The extension's plan of ``layout`` (cached), or None when it has none."""
    hit = _plans.get(id(layout))
    if hit is None or hit[0] is not layout:
        if len(_plans) >= 64:
            _plans.pop(next(iter(_plans)))
        hit = _plans[id(layout)] = (layout, _build(module, layout))
    return None if hit[1] is _NO_PLAN else hit[1]
