"""Checks that a well-formed baseline can mean something.

The codec accepts a document only when its shape is right (schema, edge order, counts one
longer than edges, ``count`` equal to the sum of ``counts``). A document can pass all that
and still be nonsense: a feature whose counts are all 0 (every window would then be
compared with nothing, and ``ok``), a categorical feature with no categories, features
that disagree on how many training rows there were, a mean outside [min, max]. Such a
baseline would silence or corrupt every alert for its model, so it is refused: ``problem``
names the first such field by its path and says why, in one line.

Tolerances: the builder's mean and std are float64 results of sums, so a mean may sit a
few ulps outside [min, max] (three values of 0.1 average to 0.10000000000000002); the
bounds are widened by 1e-9 of the largest magnitude involved, far below any real error.
"""

from __future__ import annotations

from app.baseline.model import Baseline, FeatureBaseline

PathParts = list[str | int]

_REL_TOL = 1e-9


def problem(baseline: Baseline) -> tuple[PathParts, str] | None:
    """The first reason ``baseline`` cannot mean anything, as (path parts, message), or None.

    ``rows``: ``source.rows`` when the document states it (the builder writes the rows it
    read, and every feature's ``null_count + count`` equals it), else the first feature's
    ``null_count + count``.
    """
    stated = baseline.source.get("rows")
    rows = stated if type(stated) is int else None
    first: FeatureBaseline | None = None
    for f in baseline.features:
        found = _feature_problem(f)
        if found is not None:
            return found
        covered = _null_count(f) + _count(f)
        at: PathParts = ["features", f.name, "null_count"]
        if rows is not None and covered != rows:
            return at, (
                f"null_count {_null_count(f):,} + count {_count(f):,} = {covered:,} rows, but "
                f"source.rows is {rows:,} (each row is a value or a null of every feature)"
            )
        if first is None:
            first = f
        elif covered != _null_count(first) + _count(first):
            return at, (
                f"null_count {_null_count(f):,} + count {_count(f):,} = {covered:,} rows, but "
                f"feature {first.name!r} covers {_null_count(first) + _count(first):,} "
                f"(each row is a value or a null of every feature)"
            )
    return None


def _feature_problem(f: FeatureBaseline) -> tuple[PathParts, str] | None:
    at: PathParts = ["features", f.name]
    if _count(f) == 0:
        what = "the prediction profile" if f.role == "prediction" else "the feature"
        return [*at, "counts"], (
            f"every count is 0: {what} has no training values, so every window would be "
            f"compared with nothing"
        )
    if f.categorical is not None and not f.categorical.categories:
        return [*at, "categories"], (
            f"is empty: all {f.categorical.count:,} training values are in other, so no "
            f"category can be compared"
        )
    if f.numeric is not None:
        n = f.numeric
        slack = _REL_TOL * max(abs(n.min), abs(n.max), abs(n.mean))
        if not n.min - slack <= n.mean <= n.max + slack:
            return [*at, "mean"], f"mean {n.mean!r} is outside [min {n.min!r}, max {n.max!r}]"
        spread = n.max - n.min
        if n.std > spread + _REL_TOL * max(abs(n.min), abs(n.max), n.std):
            return [*at, "std"], (
                f"std {n.std!r} is larger than max - min ({spread!r}), which no values can have"
            )
    return None


def _count(f: FeatureBaseline) -> int:
    if f.numeric is not None:
        return f.numeric.count
    assert f.categorical is not None
    return f.categorical.count


def _null_count(f: FeatureBaseline) -> int:
    if f.numeric is not None:
        return f.numeric.null_count
    assert f.categorical is not None
    return f.categorical.null_count
