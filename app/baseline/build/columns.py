"""One column of the training file, accumulated batch by batch: what its profile needs.

Memory. Exact quantiles need every value: each numeric column keeps its finite values as
float64 chunks (8 bytes a value: 10M rows x 40 columns = 3.2 GB), sorted once at the end.
One sort (0.3 s per 10M values here) beats a second pass over a multi-GB file: it gives
quantiles, bin counts (binary search) and min/max at once, and makes mean and std
independent of row order, so CSV, JSONL and Parquet copies of the same data give the same
baseline_id. Category counts are exact too, summed in Arrow.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Final, Literal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from app.baseline.model import FeatureType
from app.binning.plans import category_text
from app.files.readers import (
    BOOLEAN_TEXT,
    NAN_TEXT,
    NUMBER_TEXT,
    Column,
    FloatArray,
    RecordBatch,
    located_error,
    numeric_to_numpy,
)

NUM, BOOL, TEXT = 0, 1, 2  # value kinds
KIND_WORDS: Final = {NUM: "numbers", BOOL: "booleans", TEXT: "text"}
_SWITCH_DISTINCT: Final = 10_000  # a text-mode column this varied is checked for numbers
_PENDING_LIMIT: Final = 500_000  # count rows held before they are summed


# -- value counts -----------------------------------------------------------------------------


class Counts:
    """Exact counts by (kind, text), summed in Arrow: a 100k-category column stays in C++."""

    def __init__(self) -> None:
        self._tables: list[pa.Table] = []
        self._pending = 0

    def add(self, kinds: pa.Array, values: pa.Array, counts: pa.Array) -> bool:
        """Add counts; True when this call summed the pending ones."""
        if not len(values):
            return False
        self._tables.append(pa.table({"k": kinds, "v": values, "c": counts}))
        self._pending += len(values)
        if self._pending > _PENDING_LIMIT or len(self._tables) > 64:
            self.table()
            return True
        return False

    def add_pairs(self, pairs: Mapping[tuple[int, str], int]) -> bool:
        keys = list(pairs)
        return self.add(
            pa.array([k for k, _ in keys], pa.int8()),
            pa.array([v for _, v in keys], pa.string()),
            pa.array(list(pairs.values()), pa.int64()),
        )

    def table(self) -> pa.Table:
        """All counts so far, one row per (kind, text)."""
        if not self._tables:
            return pa.table(
                {
                    "k": pa.array([], pa.int8()),
                    "v": pa.array([], pa.string()),
                    "c": pa.array([], pa.int64()),
                }
            )
        if len(self._tables) > 1:
            g = pa.concat_tables(self._tables).group_by(["k", "v"]).aggregate([("c", "sum")])
            self._tables = [pa.table({"k": g["k"], "v": g["v"], "c": g["c_sum"]})]
            self._pending = 0
        return self._tables[0]

    def replace(self, table: pa.Table) -> None:
        self._tables = [table]
        self._pending = 0

    def of_kind(self, kind: int) -> pa.Table:
        t = self.table()
        return t.filter(pc.equal(t["k"], kind))

    def total(self, kind: int) -> int:
        return int(pc.sum(self.of_kind(kind)["c"]).as_py() or 0)


def _value_counts(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    vc = pc.value_counts(arr)
    values, counts = vc.field("values"), vc.field("counts")
    keep = pc.is_valid(values)
    return pc.filter(values, keep), pc.filter(counts, keep)


def _kinds_of_text(values: pa.Array, numbers: bool) -> pa.Array:
    """Kind of each text: a number (CSV only), a boolean word, or text."""
    is_bool = pc.match_substring_regex(values, BOOLEAN_TEXT, ignore_case=True)
    kinds = pc.if_else(is_bool, pa.scalar(BOOL, pa.int8()), pa.scalar(TEXT, pa.int8()))
    if numbers:
        is_num = pc.match_substring_regex(values, NUMBER_TEXT, ignore_case=True)
        kinds = pc.if_else(is_num, pa.scalar(NUM, pa.int8()), kinds)
    return kinds


def is_bool_word(text: str) -> bool:
    return len(text) in (4, 5) and text.lower() in ("true", "false")


def repeat_numbers(table: pa.Table) -> FloatArray:
    """Each counted number text as float64, repeated by its count."""
    values = numeric_to_numpy(pc.cast(table["v"], pa.float64()))
    return np.repeat(values, np.asarray(table["c"].to_numpy(), dtype=np.int64))


# -- one column -------------------------------------------------------------------------------


class ColumnAcc:
    """What one column's profile needs, filled batch by batch.

    Mode "num" keeps finite numbers as float64 chunks and counts every other value by
    text; mode "cat" counts every value by text. The first batch with values (or the
    declared type) picks the mode; a "cat" column whose values turn out to be mostly
    numbers moves them to chunks (``_maybe_switch``). No value is lost either way.
    """

    def __init__(self, name: str, declared: FeatureType | None) -> None:
        self.name = name
        self.declared = declared
        self.mode: Literal["num", "cat"] | None = None
        if declared is not None:
            self.mode = "num" if declared == "numeric" else "cat"
        self.chunks: list[FloatArray] = []
        self.n_chunked = 0
        self.neg_inf = 0
        self.pos_inf = 0
        self.counts = Counts()

    def update(self, col: Column, untyped: bool, batch: RecordBatch, path: str) -> None:
        """Fold one batch's values in (``untyped``: CSV text, numbers still to be read)."""
        if isinstance(col, list):
            self._update_list(col, batch, path)
            return
        t = col.type
        if pa.types.is_null(t) or col.null_count == len(col):
            return
        if pa.types.is_decimal(t):
            col, t = pc.cast(col, pa.float64()), pa.float64()
        if pa.types.is_string(t):
            self._update_text(col, untyped)
        elif pa.types.is_floating(t) or pa.types.is_integer(t):
            self._update_numbers(col)
        elif pa.types.is_boolean(t):
            self._choose_mode(0.0)
            values, counts = _value_counts(col)
            texts = pc.if_else(values, "true", "false")
            self.counts.add(pa.array([BOOL] * len(values), pa.int8()), texts, counts)
        else:
            raise located_error(
                f"unsupported column type {t}; --exclude it",
                path=path,
                fmt=batch.fmt,
                field=self.name,
            )

    def _choose_mode(self, numeric_share: float) -> None:
        if self.mode is None:
            self.mode = "num" if numeric_share > 0.5 else "cat"

    def _update_text(self, col: pa.Array, untyped: bool) -> None:
        if untyped and self.mode is None:
            is_num = pc.match_substring_regex(col, NUMBER_TEXT, ignore_case=True)
            self._choose_mode((pc.sum(is_num).as_py() or 0) / (len(col) - col.null_count))
        self._choose_mode(0.0)
        if not untyped or self.mode == "cat":
            values, counts = _value_counts(col)
            if untyped:  # "nan" is null (NaN), as in numeric mode: keep it out of the counts
                keep = pc.invert(pc.match_substring_regex(values, NAN_TEXT, ignore_case=True))
                values, counts = pc.filter(values, keep), pc.filter(counts, keep)
            if self.counts.add(_kinds_of_text(values, untyped), values, counts):
                self._maybe_switch()
            return
        try:
            numbers = pc.cast(col, pa.float64())
        except pa.ArrowInvalid:
            is_num = pc.fill_null(
                pc.match_substring_regex(col, NUMBER_TEXT, ignore_case=True), False
            )
            numbers = pc.cast(pc.if_else(is_num, col, pa.scalar(None, pa.string())), pa.float64())
            values, counts = _value_counts(pc.filter(col, pc.invert(is_num)))
            self.counts.add(_kinds_of_text(values, False), values, counts)
        self._add_floats(numeric_to_numpy(numbers))

    def _update_numbers(self, col: pa.Array) -> None:
        self._choose_mode(1.0)
        a = numeric_to_numpy(col)
        if self.mode == "num":
            self._add_floats(a)
            return
        uniq, cnt = np.unique(a[~np.isnan(a)], return_counts=True)
        pairs: Counter[tuple[int, str]] = Counter()
        for v, c in zip(uniq.tolist(), cnt.tolist(), strict=True):
            pairs[(NUM, category_text(v) or "")] += c
        if self.counts.add_pairs(pairs):
            self._maybe_switch()

    def _update_list(self, values: list[object], batch: RecordBatch, path: str) -> None:
        types = Counter(map(type, values))
        non_null = len(values) - types[type(None)]
        self._choose_mode((types[int] + types[float]) / max(1, non_null))
        floats: list[float] = []
        pairs: Counter[tuple[int, str]] = Counter()
        for i, v in enumerate(values):
            if v is None:
                continue
            if type(v) is bool:
                pairs[(BOOL, "true" if v else "false")] += 1
            elif type(v) is int or type(v) is float:
                if v != v:  # NaN is null
                    continue
                if self.mode == "num":
                    floats.append(float(v))
                else:
                    pairs[(NUM, category_text(v) or "")] += 1
            elif type(v) is str:
                pairs[(BOOL if is_bool_word(v) else TEXT, v)] += 1
            else:
                raise located_error(
                    f"unsupported value {orjson.dumps(v).decode()[:60]}: a feature value must "
                    f"be a number, string, boolean or null",
                    path=path,
                    fmt=batch.fmt,
                    line=batch.line_of(i),
                    field=self.name,
                )
        if floats:
            self._add_floats(np.asarray(floats, dtype=np.float64))
        self.counts.add_pairs(pairs)

    def _add_floats(self, a: FloatArray) -> None:
        finite = a[np.isfinite(a)]
        n_other = len(a) - len(finite)
        if n_other and (n_inf := n_other - int(np.count_nonzero(np.isnan(a)))):
            pos = int(np.count_nonzero(a == np.inf))
            self.pos_inf += pos
            self.neg_inf += n_inf - pos
        if len(finite):
            self.chunks.append(finite)
            self.n_chunked += len(finite)

    def _maybe_switch(self) -> None:
        """A text-mode column that is mostly numbers (its first batch was not) moves its
        numbers to float chunks, so a numeric column never costs a table of every value."""
        if self.declared is not None or self.mode != "cat":
            return
        t = self.counts.table()
        if t.num_rows < _SWITCH_DISTINCT:
            return
        is_num = pc.equal(t["k"], NUM)
        if (pc.sum(pc.filter(t["c"], is_num)).as_py() or 0) * 2 <= pc.sum(t["c"]).as_py():
            return
        self.mode = "num"
        self._add_floats(repeat_numbers(t.filter(is_num)))
        self.counts.replace(t.filter(pc.invert(is_num)))

    def n_numbers(self) -> int:
        return self.n_chunked + self.neg_inf + self.pos_inf + self.counts.total(NUM)
