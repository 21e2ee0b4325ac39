"""A column's type: declared in the feature spec, or inferred from all of its values.

Unless the feature spec names a column's type, it is inferred from all of its non-null
values, each of which is a number (CSV: text that reads as one, see
``readers.NUMBER_TEXT``; JSONL/Parquet: a number), a boolean (true/false, any case) or
text. With ``tolerance`` t (default 1%):

* numbers are at least 1 - t of the values: numeric; the other values are invalid;
* booleans are at least 1 - t: boolean; the other values are invalid;
* numbers are at most t: categorical (numbers become category text: CSV cells verbatim,
  typed numbers as the window histograms key them, 3.0 -> "3");
* anything else is a mixed column: an error naming the column and the first offending
  line, because guessing would silently bin garbage. The feature spec settles it.

Invalid values are counted as nulls (they carry no position on the axis) and reported as
warnings. NaN (CSV text "nan") is null. A declared boolean also reads the numbers 0 and 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.baseline.build.columns import BOOL, NUM, TEXT, ColumnAcc, is_bool_word
from app.baseline.model import FeatureType
from app.files.readers import (
    Format,
    csv_header,
    csv_physical_rows,
    iter_batches,
    located_error,
    text_to_float,
    where,
)


@dataclass(frozen=True)
class Decision:
    """A column's type and what did not fit it."""

    type: FeatureType
    invalid: int = 0  # values that do not fit the type, counted as nulls
    invalid_kinds: tuple[int, ...] = ()


def decide(acc: ColumnAcc, tol: float, path: str, fmt: Format) -> Decision:
    """The type of ``acc``'s column under tolerance ``tol`` (the rules are in the module
    docstring). Raises ``InputError`` for a column without values and a mixed column."""
    n = {NUM: acc.n_numbers(), BOOL: acc.counts.total(BOOL), TEXT: acc.counts.total(TEXT)}
    total = sum(n.values())
    if total == 0:
        raise located_error(
            "the column has no values (every row is null); --exclude it",
            path=path,
            fmt=fmt,
            field=acc.name,
        )
    allowed = tol * total

    def fit(
        typ: FeatureType,
        good: int,
        others: tuple[int, ...],
        what: str,
        bad: Callable[[int, object], bool],
    ) -> Decision:
        if total - good > allowed:
            _mixed(acc, path, fmt, total, total - good, tol, what, bad)
        return Decision(typ, total - good, tuple(k for k in others if n[k]) if total > good else ())

    if acc.declared == "categorical":
        return Decision("categorical")
    if acc.declared == "boolean":
        good = n[BOOL] + _zero_one_count(acc)
        return fit("boolean", good, (NUM, TEXT), "are not booleans", _not_boolean)
    if acc.declared == "numeric" or total - n[NUM] <= allowed:
        return fit("numeric", n[NUM], (BOOL, TEXT), "are not numbers", lambda k, _: k != NUM)
    if total - n[BOOL] <= allowed:
        return fit("boolean", n[BOOL], (NUM, TEXT), "are not booleans", lambda k, _: k != BOOL)
    if n[NUM] <= allowed:
        if acc.n_chunked + acc.neg_inf + acc.pos_inf:
            raise located_error(
                "the column starts with numbers but is mostly text; name its type "
                "(categorical) in --feature-spec",
                path=path,
                fmt=fmt,
                field=acc.name,
            )
        return Decision("categorical")
    if n[NUM] * 2 > total:
        _mixed(acc, path, fmt, total, total - n[NUM], tol, "are not numbers", lambda k, _: k != NUM)
    _mixed(
        acc, path, fmt, total, n[NUM], tol, "are numbers in a text column", lambda k, _: k == NUM
    )
    raise AssertionError("unreachable")  # _mixed raises


def _zero_one_count(acc: ColumnAcc) -> int:
    """Numbers 0 and 1 of a declared boolean (a declared type keeps every value counted)."""
    nums = acc.counts.of_kind(NUM)
    return sum(
        c
        for v, c in zip(nums["v"].to_pylist(), nums["c"].to_pylist(), strict=True)
        if text_to_float(v) in (0.0, 1.0)
    )


def _not_boolean(kind: int, value: object) -> bool:
    if kind == NUM:
        return (value if not isinstance(value, str) else text_to_float(value)) not in (0.0, 1.0)
    return kind != BOOL


def _mixed(
    acc: ColumnAcc,
    path: str,
    fmt: Format,
    total: int,
    bad: int,
    tol: float,
    what: str,
    offending: Callable[[int, object], bool],
) -> None:
    first = _first_offending(path, fmt, acc.name, offending)
    at = f"; the first is {first[1]!r} at {where(fmt, first[0])}" if first else ""
    raise located_error(
        f"mixed types: {bad:,} of {total:,} values ({bad / total:.2%}) {what}, more than the "
        f"{tol:.2%} allowed{at}. Name the column's type in --feature-spec, --exclude it, or "
        f"fix the data",
        path=path,
        fmt=fmt,
        line=first[0] if first else None,
        field=acc.name,
    )


def _kind_of(value: object, untyped: bool) -> int | None:
    """The kind of one value, as the main pass counts it (None: null)."""
    if value is None or (type(value) is float and value != value):
        return None
    if type(value) is bool:
        return BOOL
    if type(value) is int or type(value) is float:
        return NUM
    if isinstance(value, str):
        if untyped:
            number = text_to_float(value)
            if number is not None:
                return None if number != number else NUM
        return BOOL if is_bool_word(value) else TEXT
    return TEXT


def _first_offending(
    path: str, fmt: Format, column: str, offending: Callable[[int, object], bool]
) -> tuple[int, object] | None:
    """(line, value) of the first value of ``column`` that ``offending(kind, value)`` flags.
    A second scan on the error path only, so the main pass need not track lines; for CSV
    it uses the csv module, whose line numbers are exact."""
    if fmt == "csv":
        header = csv_header(path)
        idx = header.index(column)
        for line, row in csv_physical_rows(path, len(header)):
            value = row[idx] if idx < len(row) else ""
            kind = _kind_of(value, True) if value != "" else None
            if kind is not None and offending(kind, value):
                return line, value
        return None
    for batch in iter_batches(path, fmt=fmt, columns=[column] if fmt == "parquet" else None):
        col = batch.data.get(column)
        if col is None:
            continue
        for i, value in enumerate(col if isinstance(col, list) else col.to_pylist()):
            kind = _kind_of(value, False)
            if kind is not None and offending(kind, value):
                return batch.line_of(i), value
    return None
