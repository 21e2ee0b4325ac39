"""Window histograms: one model's events of one window, counted in its baseline's cells.

Per baseline feature a window keeps ``cells`` (the baseline's layout, see
``app.baseline.model``) plus three counters:

* ``nulls``: JSON null or a float NaN (pandas' missing value; JSON cannot carry NaN).
  Events that lack the key are not counted here; they are ``missing(i) = n_events -
  present(i)``, derived, because every value that does appear lands in exactly one of
  cells, nulls, unseen or mismatched.
* ``unseen``: categorical values provably never seen in training. Which values they were
  is kept too, per feature, as text -> count (``unseen_values``): the text is the value's
  category key (``app.binning.plans.category_text``) cut to ``UNSEEN_TEXT_MAX``
  characters (a longer one ends in "\u2026", so values sharing that prefix count as one),
  and only the ``UNSEEN_VALUES_CAP`` lexicographically smallest texts are kept, as for
  unknown features below: the kept texts and their counts are then exact and
  independent of event order and merging. ``sum(unseen_values[i].values()) <
  unseen[i]`` says that some values were not kept (more distinct values than the cap, or
  counts from a format-1 partial, which had no texts).
* ``mismatched``: values of the wrong JSON type, not binned.

Where each value lands (a cell, null, unseen or mismatched) is the binning plan's rule,
stated in ``app.binning.plans``.

Features the baseline does not know. Their names are kept with a count of non-null
values, nulls and a bit mask of the JSON types seen. Memory is bounded: only the
``UNKNOWN_CAP`` lexicographically smallest names are kept (``unknown_truncated`` says
when more existed). Keeping the smallest names, not the first ones, makes the kept set
and its counts exact and independent of event order and of how partials are merged.

The prediction is profiled as the baseline's prediction feature (role "prediction"): a
number or string as is, a class-probability object as its argmax class (ties: the first
class in sorted order). A baseline without a prediction profile ignores predictions.

KS grid. A numeric feature whose baseline has a KS grid (``app.baseline.model``) is
counted in the grid's ~2,000 cells (``cells``, a numpy int64 array for such a feature, so
batches, merges and the KS test are vectorised; a Python list for every other feature,
whose one-value increments are faster); ``coarse_cells`` adds them up to the
baseline's bins, which every statistic but KS and the published histograms use.
Serialised (format 3, written only for a baseline with a KS grid), such a feature's cells
are sparse, ``[cell, count, cell, count, ...]`` over its non-zero cells, so a partial or
snapshot stays bounded by the window's events, not by the grid.

``merge`` adds counts: it is associative and commutative, with ``empty`` as identity.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from app.baseline.model import Baseline
from app.binning.plans import (
    NULL,
    UNSEEN,
    FeaturePlan,
    HistogramLayout,
    category_text,
    layout_for,
    place,
)
from app.contracts.decode import prediction_value
from app.native.loader import load

__all__ = [
    "BATCH_ROWS",
    "KIND_BOOLEAN",
    "KIND_NUMBER",
    "KIND_OTHER",
    "KIND_STRING",
    "SERIAL_VERSION",
    "SERIAL_VERSION_KS_GRID",
    "UNKNOWN_CAP",
    "UNSEEN_TEXT_MAX",
    "UNSEEN_VALUES_CAP",
    "HistogramLayout",
    "HistogramOps",
    "WindowHistogram",
    "layout_for",
    "merge",
    "prediction_value",
]

UNKNOWN_CAP = 32
UNSEEN_VALUES_CAP = 32  # distinct unseen texts kept per feature
UNSEEN_TEXT_MAX = 64  # characters of an unseen value's text kept (then "\u2026")
BATCH_ROWS = 512  # events binned together (measured: 128 is slower, 256-1024 alike)
# Format 2 adds "unseen_values"; format 1 (no texts) is still read. Format 3 adds the
# sparse "ks_cells" of KS-grid features, and is written only for baselines that have any,
# so every other histogram keeps its format-2 bytes.
SERIAL_VERSION = 2
SERIAL_VERSION_KS_GRID = 3
_READABLE_VERSIONS = (1, 2, 3)

# JSON type bits recorded for unknown features.
KIND_NUMBER = 1
KIND_STRING = 2
KIND_BOOLEAN = 4
KIND_OTHER = 8

_Slot = tuple[list[int], list[float] | None, dict[str, int], FeaturePlan]

_VECTOR_KINDS = frozenset({float, int, type(None)})
_EXACT_INT = float(2**53)


def _beyond_exact_ints(values: npt.NDArray[np.float64]) -> bool:
    """Whether some value is too large for float64 to hold an integer exactly (then an
    int's comparison with an edge could differ from Python's exact one)."""
    finite = values[np.isfinite(values)]
    return bool(finite.size) and float(np.abs(finite).max()) >= _EXACT_INT


def _kind_bit(value: object) -> int:
    t = type(value)
    if t is bool:
        return KIND_BOOLEAN
    if t is int or t is float:
        return KIND_NUMBER
    if t is str:
        return KIND_STRING
    return KIND_OTHER


def _binned_prediction(prediction: object) -> object:
    """The value binned for a prediction that is not a number or a string: class
    probabilities become their argmax class (``app.contracts.prediction_value``); anything
    else stays as it is, so an object that is not one counts as mismatched, None as null."""
    if type(prediction) is dict:
        value = prediction_value(prediction)
        return prediction if value is None and prediction else value
    return prediction


class WindowHistogram:
    """Counts of one model's window (or one partition's part of it) over a baseline's cells.

    Speed. An event that carries exactly the baseline's features (the usual case) is not
    binned at once: one C-level ``itemgetter`` call takes its values, and every
    ``BATCH_ROWS`` such events are binned column by column (numeric columns of numbers and
    nulls with ``numpy.searchsorted``, which applies the same comparisons as ``bisect``).
    Other events, and any column holding other types, take the one-value path. Every read
    of the counts flushes first, so the batching is invisible (a test checks that both
    paths give identical histograms).
    """

    __slots__ = (
        "_batch",
        "_cells",
        "_flat",
        "_flat_dirty",
        "_mismatched",
        "_nulls",
        "_pending",
        "_pending_predictions",
        "_slots",
        "_unseen",
        "_unseen_values",
        "layout",
        "n_events",
        "unknown",
        "unknown_truncated",
    )

    def __init__(self, layout: HistogramLayout, *, batch: bool = True) -> None:
        self.layout = layout
        self.n_events = 0
        # Per feature: a list, or an int64 array for a KS grid (module docstring).
        self._cells: list[Any] = [
            [0] * k if starts is None else np.zeros(k, dtype=np.int64)
            for k, starts in zip(layout.n_cells, layout.coarse_starts, strict=True)
        ]
        self._nulls: list[int] = [0] * len(layout.names)
        self._unseen: list[int] = [0] * len(layout.names)
        self._mismatched: list[int] = [0] * len(layout.names)
        # Per feature: unseen value text -> count (categorical features only ever fill it).
        self._unseen_values: list[dict[str, int]] = [{} for _ in layout.names]
        # name -> [non-null values, nulls, JSON kind bits]
        self.unknown: dict[str, list[int]] = {}
        self.unknown_truncated = False
        # name -> (this histogram's cell list, numeric edges or None, category lookup, plan).
        # The cell lists are only ever updated in place, so the slots stay valid.
        self._slots: dict[str, _Slot] = {
            name: (self._cells[p.index], p.edges if p.numeric else None, p.lookup, p)
            for name, p in layout.feature_plans.items()
        }
        self._batch = batch and layout.getter is not None
        self._pending: list[tuple[object, ...]] = []
        self._pending_predictions: list[object] = []
        # Counts the compiled path added (``native_counts``), not yet in the lists above.
        self._flat: npt.NDArray[np.int64] | None = None
        self._flat_dirty = False

    @classmethod
    def empty(cls, baseline: Baseline) -> WindowHistogram:
        return cls(layout_for(baseline))

    # -- counts (reading flushes pending events) -----------------------------------------
    @property
    def cells(self) -> list[Any]:
        """Per feature, in baseline order: its cell counts."""
        if self._pending or self._pending_predictions or self._flat_dirty:
            self._flush()
        return self._cells

    def coarse_cells(self, index: int) -> list[int]:
        """Feature ``index``'s counts in the baseline's bins: its KS-grid cells added up
        (module docstring), or ``cells[index]`` itself for a feature without a grid."""
        cells = self.cells[index]
        starts = self.layout.coarse_starts[index]
        if starts is None:
            plain: list[int] = cells
            return plain
        counts: list[int] = np.add.reduceat(cells, starts).tolist()
        return counts

    @property
    def nulls(self) -> list[int]:
        if self._pending or self._pending_predictions or self._flat_dirty:
            self._flush()
        return self._nulls

    @property
    def unseen(self) -> list[int]:
        if self._pending or self._pending_predictions or self._flat_dirty:
            self._flush()
        return self._unseen

    @property
    def unseen_values(self) -> list[dict[str, int]]:
        """Per feature, in baseline order: the kept unseen texts and their counts."""
        if self._pending or self._pending_predictions or self._flat_dirty:
            self._flush()
        return self._unseen_values

    @property
    def mismatched(self) -> list[int]:
        if self._pending or self._pending_predictions or self._flat_dirty:
            self._flush()
        return self._mismatched

    def flush(self) -> None:
        """Bin the events still batched (reads do this too; a closed window does it once)."""
        if self._pending or self._pending_predictions or self._flat_dirty:
            self._flush()

    # -- counting ------------------------------------------------------------------------
    def add_event(self, features: Mapping[str, object], prediction: object) -> None:
        """Count one event. Never raises on odd values: they count as null or mismatched."""
        self.n_events += 1
        layout = self.layout
        if self._batch and len(features) == layout.n_batch:
            try:
                row = layout.getter(features)  # type: ignore[misc]
            except KeyError:  # same number of keys, other names
                self._add_features(features)
            else:
                pending = self._pending
                pending.append(row)
                if len(pending) >= BATCH_ROWS:
                    self._flush()
        else:
            self._add_features(features)
        pplan = layout.prediction_plan
        if pplan is not None:
            t = type(prediction)
            value = (
                prediction if t is float or t is str or t is int else _binned_prediction(prediction)
            )
            if self._batch:
                predictions = self._pending_predictions
                predictions.append(value)
                if len(predictions) >= BATCH_ROWS:
                    self._flush()
            else:
                self._add_value(pplan, value)

    def _flush(self) -> None:
        if self._flat_dirty and self._flat is not None:
            # Kept and zeroed, not dropped: a fresh 300 kB array per batch was freshly
            # mapped memory, page faults included.
            self._flat_dirty = False
            self._add_flat(self._flat)
            self._flat.fill(0)
        rows = self._pending
        self._pending = []
        layout = self.layout
        pplan = layout.prediction_plan
        if pplan is not None and self._pending_predictions:
            predictions = tuple(self._pending_predictions)
            self._pending_predictions = []
            if layout.prediction_edges is not None:
                self._bin_numeric_column(pplan, layout.prediction_edges, predictions)
            else:
                for value in predictions:
                    self._add_value(pplan, value)
        if not rows:
            return
        for plan, edges, column in zip(
            layout.batch_plans, layout.batch_edges, zip(*rows, strict=True), strict=True
        ):
            if edges is not None:
                self._bin_numeric_column(plan, edges, column)
            else:
                cells = self._cells[plan.index]
                lookup = plan.lookup
                for value in column:
                    cell = lookup.get(value) if type(value) is str else None
                    if cell is not None:
                        cells[cell] += 1
                    else:
                        self._add_value(plan, value)

    def _bin_numeric_column(
        self, plan: FeaturePlan, edges: npt.NDArray[np.float64], column: tuple[object, ...]
    ) -> None:
        kinds = set(map(type, column))
        if kinds <= _VECTOR_KINDS:
            try:
                if len(kinds) == 1 and float in kinds:
                    values = np.fromiter(column, np.float64, len(column))
                else:
                    values = np.array(column, dtype=np.float64)  # None -> NaN
            except OverflowError:  # an int beyond float range: the exact path below
                values = None
            if values is not None and not (int in kinds and _beyond_exact_ints(values)):
                missing = np.isnan(values)
                n_missing = int(missing.sum())
                if n_missing:
                    self._nulls[plan.index] += n_missing
                    values = values[~missing]
                counts = np.bincount(
                    np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1
                )
                cells = self._cells[plan.index]
                if isinstance(cells, np.ndarray):
                    cells += counts
                else:
                    for i, c in enumerate(counts.tolist()):
                        cells[i] += c
                return
        for value in column:
            self._add_value(plan, value)

    def _add_features(self, features: Mapping[str, object]) -> None:
        """The one-value path (the reference the batched path must agree with)."""
        slots = self._slots
        for name, value in features.items():
            slot = slots.get(name)
            if slot is None:
                self._add_unknown(name, value)
                continue
            # Hot path, inlined on purpose: exact type checks are the cheapest dispatch, and
            # the slot holds this histogram's own cell list, so no double indexing.
            row, edges, lookup, plan = slot
            t = type(value)
            if edges is not None:
                if t is float:
                    if value == value:  # False only for NaN
                        row[bisect_right(edges, value)] += 1  # type: ignore[call-overload]
                    else:
                        self._nulls[plan.index] += 1
                elif t is int:
                    row[bisect_right(edges, value)] += 1  # type: ignore[call-overload]
                elif value is None:
                    self._nulls[plan.index] += 1
                else:
                    self._mismatched[plan.index] += 1
            elif t is str:
                cell = lookup.get(value)  # type: ignore[call-overload]
                if cell is not None:
                    row[cell] += 1
                else:
                    self._add_value(plan, value)
            else:
                self._add_value(plan, value)

    def _add_value(self, plan: FeaturePlan, value: object) -> None:
        cell = place(plan, value)
        if cell >= 0:
            self._cells[plan.index][cell] += 1
        elif cell == NULL:
            self._nulls[plan.index] += 1
        elif cell == UNSEEN:
            self._unseen[plan.index] += 1
            self._add_unseen_text(plan.index, value)
        else:
            self._mismatched[plan.index] += 1

    def _add_unseen_text(self, index: int, value: object) -> None:
        text = unseen_text(value)
        kept = self._unseen_values[index]
        count = kept.get(text)
        if count is not None:
            kept[text] = count + 1
            return
        if len(kept) >= UNSEEN_VALUES_CAP:
            largest = max(kept)
            if text > largest:
                return
            del kept[largest]
        kept[text] = 1

    def _add_unknown(self, name: str, value: object) -> None:
        entry = self.unknown.get(name)
        if entry is None:
            if len(self.unknown) >= UNKNOWN_CAP:
                self.unknown_truncated = True
                largest = max(self.unknown)
                if name > largest:
                    return
                del self.unknown[largest]
            entry = self.unknown[name] = [0, 0, 0]
        if value is None or (type(value) is float and value != value):
            entry[1] += 1
        else:
            entry[0] += 1
            entry[2] |= _kind_bit(value)

    def native_counts(self) -> npt.NDArray[np.int64]:
        """The flat int64 array the compiled path (``app.native``) adds this window's
        counts to, per baseline feature in order ``[nulls, unseen, mismatched, *cells]``
        (the layout of ``to_dict``'s features); its events go to ``n_events`` directly.
        Counts add, so they meet the others at the next read, which flushes them in."""
        if self._flat is None:
            self._flat = np.zeros(self.layout.flat_size, dtype=np.int64)
        self._flat_dirty = True
        return self._flat

    def _add_flat(self, flat: npt.NDArray[np.int64]) -> None:
        pos = 0
        for i, k in enumerate(self.layout.n_cells):
            head = flat[pos : pos + 3].tolist()
            self._nulls[i] += head[0]
            self._unseen[i] += head[1]
            self._mismatched[i] += head[2]
            part = flat[pos + 3 : pos + 3 + k]
            cells = self._cells[i]
            if isinstance(cells, np.ndarray):
                cells += part
            else:
                for j in np.flatnonzero(part).tolist():
                    cells[j] += int(part[j])
            pos += 3 + k

    # -- derived counts --------------------------------------------------------------------
    def present(self, index: int) -> int:
        """Events in which feature ``index`` appeared (any value, null included)."""
        cells = self.cells[index]
        binned = int(cells.sum()) if isinstance(cells, np.ndarray) else sum(cells)
        return binned + self.nulls[index] + self.unseen[index] + self.mismatched[index]

    def missing(self, index: int) -> int:
        """Events that did not carry feature ``index`` at all."""
        return self.n_events - self.present(index)

    # -- algebra ---------------------------------------------------------------------------
    def merge_from(self, other: WindowHistogram) -> None:
        """Add ``other``'s counts into this histogram (same baseline required)."""
        if other.layout.baseline_id != self.layout.baseline_id:
            raise ValueError(
                f"cannot merge histograms of baselines {self.layout.baseline_id} "
                f"and {other.layout.baseline_id}"
            )
        self.n_events += other.n_events
        for mine, theirs in zip(self.cells, other.cells, strict=True):
            if isinstance(mine, np.ndarray):
                mine += theirs
                continue
            for j, c in enumerate(theirs):
                mine[j] += c
        for dst, src in (
            (self.nulls, other.nulls),
            (self.unseen, other.unseen),
            (self.mismatched, other.mismatched),
        ):
            for i, c in enumerate(src):
                dst[i] += c
        for i, theirs_values in enumerate(other.unseen_values):
            if theirs_values:
                self._unseen_values[i] = _merge_texts(self.unseen_values[i], theirs_values)
        merged = {k: list(v) for k, v in self.unknown.items()}
        for name, (n, nulls, kinds) in other.unknown.items():
            entry = merged.setdefault(name, [0, 0, 0])
            entry[0] += n
            entry[1] += nulls
            entry[2] |= kinds
        keep = sorted(merged)[:UNKNOWN_CAP]
        self.unknown_truncated = (
            self.unknown_truncated or other.unknown_truncated or len(merged) > UNKNOWN_CAP
        )
        self.unknown = {k: merged[k] for k in keep}

    def copy(self) -> WindowHistogram:
        out = WindowHistogram(self.layout)
        out.merge_from(self)
        return out

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Compact form for Kafka and changelogs: per feature ``[nulls, unseen, mismatched,
        *cells]``, unknown features as ``[non-null, nulls, kind bits]``, the kept unseen
        texts of the features that have any as ``{text: count}`` (texts sorted); with a KS
        grid (format 3) such a feature's row holds the three counters only, its non-zero
        cells are ``ks_cells`` as ``[cell, count, ...]``."""
        layout = self.layout
        grid = layout.coarse_starts
        doc: dict[str, Any] = {
            "v": SERIAL_VERSION_KS_GRID if layout.has_ks_grid else SERIAL_VERSION,
            "baseline_id": layout.baseline_id,
            "n_events": self.n_events,
            "features": {
                name: [self.nulls[i], self.unseen[i], self.mismatched[i]]
                + ([] if grid[i] is not None else self.cells[i])
                for i, name in enumerate(layout.names)
            },
            "unseen_values": {
                name: {t: self.unseen_values[i][t] for t in sorted(self.unseen_values[i])}
                for i, name in enumerate(self.layout.names)
                if self.unseen_values[i]
            },
            "unknown": {k: list(self.unknown[k]) for k in sorted(self.unknown)},
            "unknown_truncated": self.unknown_truncated,
        }
        if layout.has_ks_grid:
            doc["ks_cells"] = {
                name: _sparse(self.cells[i])
                for i, name in enumerate(layout.names)
                if grid[i] is not None and self.cells[i].any()
            }
        return doc

    @classmethod
    def from_dict(cls, baseline: Baseline, data: Mapping[str, Any]) -> WindowHistogram:
        """Inverse of ``to_dict``; raises ValueError when ``data`` does not fit the baseline."""
        layout = layout_for(baseline)
        version = data.get("v")
        if version not in _READABLE_VERSIONS:
            raise ValueError(f"histogram format version {version!r}, expected 1, 2 or 3")
        if (version == SERIAL_VERSION_KS_GRID) != layout.has_ks_grid:
            raise ValueError(
                f"histogram format version {version!r} does not fit the baseline "
                f"(format 3 is for baselines with a KS grid, and only for them)"
            )
        if data.get("baseline_id") != layout.baseline_id:
            raise ValueError(
                f"histogram of baseline {data.get('baseline_id')!r}, expected {layout.baseline_id}"
            )
        out = cls(layout)
        out.n_events = _count(data.get("n_events"), "n_events")
        features = data.get("features")
        if not isinstance(features, Mapping) or set(features) != set(layout.names):
            raise ValueError("histogram features do not match the baseline's features")
        sparse = data.get("ks_cells", {})
        if not isinstance(sparse, Mapping):
            raise ValueError("histogram 'ks_cells' must map feature names to counts")
        unknown_grid = set(sparse) - {
            n for n, g in zip(layout.names, layout.coarse_starts, strict=True) if g is not None
        }
        if unknown_grid:
            raise ValueError(f"KS-grid cells of {sorted(unknown_grid)[0]!r}, which has no grid")
        for i, name in enumerate(layout.names):
            row = features[name]
            width = 3 if layout.coarse_starts[i] is not None else 3 + layout.n_cells[i]
            if not isinstance(row, list) or len(row) != width:
                raise ValueError(f"feature {name!r}: expected {width} counts")
            counts = [_count(c, name) for c in row]
            out.nulls[i], out.unseen[i], out.mismatched[i] = counts[:3]
            if width == 3 + layout.n_cells[i]:
                out.cells[i][:] = counts[3:]
            else:
                _read_sparse(out.cells[i], sparse.get(name, []), name)
            if out.present(i) > out.n_events:
                raise ValueError(f"feature {name!r}: more values than events")
        _read_unseen_values(out, data.get("unseen_values", {}) if version == 2 else {})
        unknown = data.get("unknown", {})
        if not isinstance(unknown, Mapping) or len(unknown) > UNKNOWN_CAP:
            raise ValueError("histogram 'unknown' must map at most 32 names to counts")
        for name, row in unknown.items():
            if not isinstance(row, list) or len(row) != 3:
                raise ValueError(f"unknown feature {name!r}: expected 3 counts")
            out.unknown[str(name)] = [_count(c, name) for c in row]
        out.unknown_truncated = bool(data.get("unknown_truncated", False))
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WindowHistogram):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"WindowHistogram(baseline={self.layout.baseline_id}, n_events={self.n_events})"


def unseen_text(value: object) -> str:
    """The kept text of an unseen value: its category key, at most ``UNSEEN_TEXT_MAX``
    characters (a longer one is cut and ends in "\u2026")."""
    text = category_text(value)
    if text is None:  # ``place`` answers UNSEEN only for scalars; be safe anyway
        text = repr(value)
    return text if len(text) <= UNSEEN_TEXT_MAX else text[:UNSEEN_TEXT_MAX] + "\u2026"


def _merge_texts(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    """Counts added, then the ``UNSEEN_VALUES_CAP`` smallest texts kept (exact: a text
    dropped by either side had that many smaller texts there)."""
    merged = dict(a)
    for text, count in b.items():
        merged[text] = merged.get(text, 0) + count
    if len(merged) <= UNSEEN_VALUES_CAP:
        return merged
    return {t: merged[t] for t in sorted(merged)[:UNSEEN_VALUES_CAP]}


def _read_unseen_values(out: WindowHistogram, data: object) -> None:
    if not isinstance(data, Mapping):
        raise ValueError("histogram 'unseen_values' must map feature names to texts")
    index = {name: i for i, name in enumerate(out.layout.names)}
    for name, texts in data.items():
        i = index.get(name)
        if i is None:
            raise ValueError(f"unseen values of {name!r}, which is not a baseline feature")
        if not isinstance(texts, Mapping) or len(texts) > UNSEEN_VALUES_CAP:
            raise ValueError(
                f"feature {name!r}: unseen values must map at most "
                f"{UNSEEN_VALUES_CAP} texts to counts"
            )
        kept = {str(t): _count(c, name) for t, c in texts.items()}
        if any(len(t) > UNSEEN_TEXT_MAX + 1 for t in kept):
            raise ValueError(f"feature {name!r}: an unseen value's text is too long")
        if sum(kept.values()) > out.unseen[i]:
            raise ValueError(f"feature {name!r}: more unseen values than unseen count")
        out.unseen_values[i].update(kept)


def _sparse(cells: npt.NDArray[np.int64]) -> list[int]:
    """``[cell, count, ...]`` over the non-zero cells, in cell order."""
    at = np.flatnonzero(cells)
    out: list[int] = np.column_stack((at, cells[at])).ravel().tolist()
    return out


def _read_sparse(cells: npt.NDArray[np.int64], data: object, name: str) -> None:
    if not isinstance(data, list) or len(data) % 2:
        raise ValueError(f"feature {name!r}: KS-grid cells must be [cell, count, ...]")
    if not data:
        return
    # The usual, valid case (a partial holds thousands of cells per feature) in one
    # compiled pass when the extension is there, else vectorised; anything either doubts
    # takes the loop below, which names the first fault.
    native = load()
    packed = None if native is None else native.sparse_cells(data, len(cells))
    if packed is not None:
        read = np.frombuffer(packed, dtype=np.int64)
        cells[read[0::2]] = read[1::2]
        return
    if set(map(type, data)) == {int}:
        try:
            pairs = np.array(data, dtype=np.int64)
        except OverflowError:
            pairs = None
        if pairs is not None:
            at, counts = pairs[0::2], pairs[1::2]
            if (
                at[0] >= 0
                and at[-1] < len(cells)
                and bool((counts > 0).all())
                and bool((at[1:] > at[:-1]).all())
            ):
                cells[at] = counts
                return
    last = -1
    for pos in range(0, len(data), 2):
        j = _count(data[pos], name)
        c = _count(data[pos + 1], name)
        if j <= last or j >= len(cells) or c == 0:
            raise ValueError(
                f"feature {name!r}: KS-grid cells must be increasing cells below "
                f"{len(cells)} with non-zero counts"
            )
        if c >= 2**63:
            raise ValueError(f"feature {name!r}: a KS-grid count beyond 64 bits, {c}")
        cells[j] = c
        last = j


def _count(value: object, where: str) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{where}: counts must be non-negative integers, got {value!r}")
    return value


def merge(a: WindowHistogram, b: WindowHistogram) -> WindowHistogram:
    """a + b as a new histogram (associative, commutative; ``empty`` is the identity)."""
    out = a.copy()
    out.merge_from(b)
    return out


class HistogramOps:
    """``app.windows.partial.AccumulatorOps`` for window histograms, and their merge."""

    def new(self, baseline: Baseline) -> WindowHistogram:
        return WindowHistogram.empty(baseline)

    def load(self, baseline: Baseline, data: dict[str, Any]) -> WindowHistogram:
        return WindowHistogram.from_dict(baseline, data)

    def merge(self, baseline: Baseline, parts: Sequence[WindowHistogram]) -> WindowHistogram:
        """The sum of ``parts`` as a new histogram (they are left as they are)."""
        out = WindowHistogram.empty(baseline)
        for part in parts:
            out.merge_from(part)
        return out
