"""The build: stream the file once, decide each column's type, profile it, assemble."""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final, TypeVar

from tqdm import tqdm

from app.baseline.build.columns import KIND_WORDS, ColumnAcc
from app.baseline.build.inference import decide
from app.baseline.build.profiles import feature_profile
from app.baseline.build.spec import FeatureSpec
from app.baseline.codec import baseline_to_dict, compute_baseline_id
from app.baseline.model import Baseline, FeatureBaseline
from app.contracts.events import DEFAULT_LIMITS, PREDICTION_FEATURE, Rejected
from app.errors import InputError
from app.files.readers import (
    TIMESTAMP_COLUMN,
    Format,
    detect_format,
    input_size,
    iter_batches,
    rejected_lines,
)

DEFAULT_BINS: Final = 20
# Quantile cells of a numeric feature's KS grid (``app.baseline.model``): its KS p-value is
# then within 0.05 of SciPy's on the raw samples, and its power at least theirs (1,000
# cells missed both: max gap 0.056, power 0.79 against 0.81; docs/statistics.md); 0: none.
DEFAULT_KS_CELLS: Final = 2000
DEFAULT_TOP_K: Final = 50
DEFAULT_TOLERANCE: Final = 0.01


@dataclass(frozen=True)
class BuildOptions:
    model_id: str
    model_version: str | None = None
    fmt: str | None = None
    prediction_column: str | None = None  # None: "__prediction__" when the input has it
    exclude: frozenset[str] = frozenset()
    features: Mapping[str, FeatureSpec] = field(default_factory=dict)
    bins: int = DEFAULT_BINS
    ks_cells: int = DEFAULT_KS_CELLS
    top_k: int = DEFAULT_TOP_K
    tolerance: float = DEFAULT_TOLERANCE  # share of values of another type a column may hold
    progress: bool = False
    batch_rows: int = 65536


@dataclass(frozen=True)
class BuildResult:
    baseline: Baseline
    rows: int
    seconds: float
    warnings: tuple[str, ...]
    # JSONL prediction events the stream would dead-letter: left out, one warning each.
    rejected: tuple[Rejected, ...] = ()


def build_baseline(path: str | os.PathLike[str], options: BuildOptions) -> BuildResult:
    """Stream ``path`` once and profile every column (except excluded ones and
    ``__timestamp_ms__``). The prediction column is stored as ``__prediction__`` with role
    "prediction". Raises ``InputError`` for user mistakes: unreadable file, unknown
    format, no rows, an all-null or mixed-type column, malformed JSON, a bad CSV row, a
    spec or prediction column the input lacks. A JSONL prediction event that is not valid
    (the stream's rule, ``app.contracts.events``) is left out with a warning, as the stream
    would dead-letter it rather than count it."""
    started = time.perf_counter()
    p = str(path)
    fmt = detect_format(p, options.fmt)
    if options.bins < 1 or options.top_k < 1:
        raise InputError("bins and top-k must be at least 1")
    if options.ks_cells < 0:
        raise InputError("ks-cells must be at least 0")
    if not 1 <= len(options.model_id) <= 200:
        raise InputError("the model id must be 1 to 200 characters")
    skip = set(options.exclude) | {TIMESTAMP_COLUMN}
    accs: dict[str, ColumnAcc] = {}
    seen: set[str] = set()
    rows = 0
    rejected: list[Rejected] = []
    total, unit = input_size(p, fmt)
    batches = iter_batches(p, fmt=fmt, batch_rows=options.batch_rows)  # checks the file now
    with tqdm(
        total=total or None,
        unit=unit,
        unit_scale=True,
        desc=f"reading {os.path.basename(p)}",
        disable=not options.progress,
        file=sys.stderr,
        leave=False,
    ) as bar:
        for batch in _prefetch(batches):
            rows += batch.num_rows
            rejected.extend(batch.rejected)
            for name, col in batch.data.items():
                if name in skip:
                    seen.add(name)
                    continue
                acc = accs.get(name)
                if acc is None:
                    declared = options.features.get(name, FeatureSpec()).type
                    acc = accs[name] = ColumnAcc(name, declared)
                acc.update(col, fmt == "csv", batch, p)
            _check_width(accs, options, p)  # after the first batch: no long read first
            bar.update(min(batch.progress, total or batch.progress) - bar.n)
    if rows == 0 and rejected:
        first = rejected_lines(p, fmt, rejected[:1])[0]
        raise InputError(
            f"no valid events: all {len(rejected):,} are invalid; the first: {first}", path=p
        )
    if rows == 0:
        raise InputError("no rows: the file holds no records", path=p)
    prediction = _prediction_source(options, accs, p)
    unknown = sorted(set(options.features) - set(accs) - skip)
    if unknown:
        raise InputError(
            f"the feature spec names columns the input does not have: {', '.join(unknown)}",
            path=p,
        )
    decisions = {name: decide(acc, options.tolerance, p, fmt) for name, acc in accs.items()}
    names = [n for n in accs if n != prediction] + ([prediction] if prediction else [])

    def profile(name: str) -> FeatureBaseline:
        spec = options.features.get(name, FeatureSpec())
        is_pred = name == prediction
        return feature_profile(
            accs[name],
            decisions[name],
            rows,
            PREDICTION_FEATURE if is_pred else name,
            "prediction" if is_pred else "feature",
            spec.bins or options.bins,
            spec.top_k or options.top_k,
            p,
            options.ks_cells,
        )

    features: list[FeatureBaseline] = []
    with (
        tqdm(
            total=len(names),
            unit="col",
            desc="profiling",
            disable=not options.progress,
            file=sys.stderr,
            leave=False,
        ) as bar,
        ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool,
    ):
        # numpy's sort and Arrow's group-by release the GIL: two columns at a time.
        for feature in pool.map(profile, names):
            features.append(feature)
            bar.update(1)
    warnings = rejected_lines(p, fmt, rejected)
    warnings += [f"--exclude {n!r}: no such column" for n in sorted(options.exclude - seen)]
    for name in names:
        d = decisions[name]
        if d.invalid:
            words = " or ".join(KIND_WORDS[k] for k in d.invalid_kinds)
            warnings.append(f"column {name!r} ({d.type}): {d.invalid:,} {words} counted as nulls")
    baseline = _assemble(options, features, p, fmt, rows, prediction)
    return BuildResult(
        baseline, rows, time.perf_counter() - started, tuple(warnings), tuple(rejected)
    )


_T = TypeVar("_T")


@dataclass(frozen=True)
class _Raised:
    error: BaseException


def _prefetch(source: Iterator[_T], depth: int = 2) -> Iterator[_T]:
    """``source``'s items, read ahead in a thread: Arrow parses the next CSV batch (without
    the GIL) while this thread profiles the current one (measured: ~25% less wall time)."""
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in source:
                if not put(item):
                    break
            else:
                put(done)
        except BaseException as err:  # handed to the consumer, who raises it
            put(_Raised(err))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=run, name="driftline-reader", daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def _check_width(accs: Mapping[str, ColumnAcc], options: BuildOptions, path: str) -> None:
    """Refuse a baseline with more features than an event may carry. The decoder rejects
    an event with more than ``max_features`` features, so no event with all of this
    baseline's features would ever be counted: the stream, replay and analyze would
    dead-letter every complete event. (evaluate of a flat file has no such limit, but a
    baseline is built for the stream; a warning would be missed until every event fails.)"""
    limit = DEFAULT_LIMITS.max_features
    if len(accs) <= limit:
        return
    prediction = options.prediction_column or PREDICTION_FEATURE
    n = len(accs) - (prediction in accs)
    if n > limit:
        raise InputError(
            f"{n:,} feature columns, more than the {limit:,} features a prediction event may "
            f"carry, so no event with all of them would decode; --exclude columns or split "
            f"the model",
            path=path,
        )


def _prediction_source(
    options: BuildOptions, accs: Mapping[str, ColumnAcc], path: str
) -> str | None:
    col = options.prediction_column
    if col is None:
        return PREDICTION_FEATURE if PREDICTION_FEATURE in accs else None
    if col not in accs:
        listed = ", ".join(list(accs)[:20]) + (", ..." if len(accs) > 20 else "")
        raise InputError(
            f"prediction column not found; the columns are: {listed}", path=path, field=col
        )
    if col != PREDICTION_FEATURE and PREDICTION_FEATURE in accs:
        raise InputError(
            f"the input also has a {PREDICTION_FEATURE} column; --exclude it or drop "
            f"--prediction-column",
            path=path,
            field=col,
        )
    return col


def _assemble(
    options: BuildOptions,
    features: list[FeatureBaseline],
    path: str,
    fmt: Format,
    rows: int,
    prediction: str | None,
) -> Baseline:
    draft = Baseline(
        model_id=options.model_id,
        model_version=options.model_version,
        baseline_id="",
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        features=tuple(features),
        source={"path": path, "rows": rows, "format": fmt},
        # Remembered so that evaluate and analyze read files shaped like this one without
        # being told the column again.
        prediction_column=prediction if prediction != PREDICTION_FEATURE else None,
    )
    return replace(draft, baseline_id=compute_baseline_id(baseline_to_dict(draft)))
