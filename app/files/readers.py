"""Streaming readers for training and evaluation files: CSV, JSONL and Parquet.

No reader loads a whole file: each yields ``RecordBatch`` es of about ``batch_rows``
records, column by column, so that a 10-million-row file costs one batch of memory here.

Values keep the types the format gives them:

* CSV has no types: every cell is text (``str``), an empty cell is null. Deciding whether a
  column is numeric is the caller's job (``app.baseline.build`` infers it; ``text_to_float``
  is the shared rule for reading a cell as a number).
* JSONL: one JSON object per line (blank lines are skipped). A line with ``"features"`` is
  a prediction event, judged by the stream's rule (``app.contracts.events``: size, fields,
  timestamp and its bounds): a valid one is flattened to its features plus
  ``__prediction__`` (``prediction_value`` of its prediction) and ``__timestamp_ms__``
  (epoch ms); an invalid one is left out and listed in its batch's ``rejected`` with its
  line and dead-letter reason, as the stream would dead-letter it. Any other object is a
  flat record as is.
* Parquet: the file's column types (numbers, strings, booleans; dictionary columns decoded).

Line numbers. JSONL records carry their exact line. CSV records are numbered from line 2
(line 1 is the header) assuming one record per line; blank lines (skipped, except in a
one-column file where a blank line is a null) and quoted line breaks shift that count, so
code reporting an error re-scans the file with ``csv_physical_rows`` for the exact line.
Parquet has rows, not lines: "line" is then the 1-based row number, and ``where`` and
``located_error`` say "row" (``InputError.row``).
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import orjson

from app.binning.plans import category_text as category_text  # re-exported: one key rule
from app.contracts.events import (
    DEFAULT_LIMITS,
    PREDICTION_FEATURE,
    DecodeError,
    PredictionEvent,
    Rejected,
    event_from_json,
    is_event_object,
    oversized,
    prediction_value,
)
from app.errors import InputError

# pyarrow (0.1 s to import) is imported where a CSV or Parquet file is read: JSONL
# analysis never needs it.
if TYPE_CHECKING:
    import pyarrow as pa

Format = Literal["csv", "jsonl", "parquet"]
FORMATS: Final[tuple[Format, ...]] = ("csv", "jsonl", "parquet")
TIMESTAMP_COLUMN: Final = "__timestamp_ms__"
DEFAULT_BATCH_ROWS: Final = 65536

_EXTENSIONS: Final[dict[str, Format]] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

# A number as CSV text: exactly the forms Arrow's string -> float64 cast accepts (checked
# in the tests), so the vectorised path and the one-value path agree on every cell.
NUMBER_TEXT: Final = (
    r"^[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)$"
)
BOOLEAN_TEXT: Final = r"^(?:true|false)$"
NAN_TEXT: Final = r"^[+-]?nan$"
_NUMBER_RE: Final = re.compile(NUMBER_TEXT, re.IGNORECASE)
_BOOLEAN_RE: Final = re.compile(BOOLEAN_TEXT, re.IGNORECASE)

Column: TypeAlias = "pa.Array | list[object]"  # pa.Array is untyped (Any) for mypy
FloatArray: TypeAlias = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class RecordBatch:
    """Consecutive records of one file, column by column.

    ``data`` maps each column to an Arrow array (typed) or, for JSONL columns whose values
    mix JSON types, a Python list. ``columns`` gives the agreed plain view. A column absent
    from some JSONL records holds None there; a column first seen in a later batch is
    absent from earlier batches (callers count those records as nulls).
    """

    fmt: Format
    num_rows: int
    data: Mapping[str, Column]
    first_line: int  # line (CSV, JSONL) or 1-based row (Parquet) of the first record
    line_numbers: Sequence[int] | None = None  # per record, when not consecutive (JSONL)
    progress: int = 0  # bytes (CSV, JSONL) or rows (Parquet) consumed so far
    # JSONL prediction events left out since the previous batch: not valid events. A batch
    # may hold only these (num_rows 0).
    rejected: Sequence[Rejected] = ()

    def line_of(self, index: int) -> int:
        """Line (or Parquet row) of the record at ``index`` in this batch."""
        if self.line_numbers is not None:
            return self.line_numbers[index]
        return self.first_line + index

    @cached_property
    def columns(self) -> dict[str, FloatArray | list[object]]:
        """Numeric Arrow columns as float64 numpy arrays (null -> NaN); others as lists of
        Python values (str, bool, float, int, None)."""
        import pyarrow as pa

        out: dict[str, FloatArray | list[object]] = {}
        for name, col in self.data.items():
            if isinstance(col, list):
                out[name] = col
            elif pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
                out[name] = numeric_to_numpy(col)
            else:
                out[name] = col.to_pylist()
        return out

    def pylists(self) -> dict[str, list[object]]:
        """Every column as a list of Python values (None for null)."""
        return {n: c if isinstance(c, list) else c.to_pylist() for n, c in self.data.items()}


def numeric_to_numpy(col: pa.Array) -> FloatArray:
    """A numeric Arrow array as float64, nulls as NaN."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = col if col.type == pa.float64() else pc.cast(col, pa.float64(), safe=False)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)


def text_to_float(text: str) -> float | None:
    """A CSV cell read as a number (None: not a number). NaN and +-inf are numbers here;
    what they mean is the caller's rule."""
    return float(text) if _NUMBER_RE.match(text) else None


def detect_format(path: str | os.PathLike[str], fmt: str | None = None) -> Format:
    """The format named by ``fmt``, else by the file extension."""
    if fmt is not None:
        low = fmt.lower()
        if low == "ndjson":
            return "jsonl"
        for known in FORMATS:
            if low == known:
                return known
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", path=str(path))
    suffix = Path(path).suffix.lower()
    found = _EXTENSIONS.get(suffix)
    if found is None:
        raise InputError(
            f"cannot tell the format from the extension {suffix or '(none)'!r}; "
            f"use .csv, .jsonl, .ndjson, .parquet or .pq, or name the format "
            f"({', '.join(FORMATS)})",
            path=str(path),
        )
    return found


def input_size(path: str | os.PathLike[str], fmt: Format) -> tuple[int, str]:
    """What ``RecordBatch.progress`` counts up to: (total, unit) = bytes or Parquet rows."""
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows, "rows"
        except (OSError, pa.ArrowException):
            return 0, "rows"  # iter_batches reports the real problem
    try:
        return os.path.getsize(path), "B"
    except OSError:
        return 0, "B"


def where(fmt: Format, line: int) -> str:
    """``line 12``, or ``row 12`` for Parquet."""
    return f"{'row' if fmt == 'parquet' else 'line'} {line}"


def rejected_lines(path: str, fmt: Format, rejected: Sequence[Rejected]) -> list[str]:
    """One line per rejected event (``events.jsonl, line 3: schema_violation: ...``, the
    form ``driftline analyze`` prints), then the count by reason; nothing when none."""
    if not rejected:
        return []
    counts = Counter(r.reason for r in rejected)
    by_reason = ", ".join(f"{reason} {n:,}" for reason, n in sorted(counts.items()))
    return [f"{path}, {where(fmt, r.line)}: {r.reason}: {r.message}" for r in rejected] + [
        f"{len(rejected):,} invalid event{'' if len(rejected) == 1 else 's'} left out ({by_reason})"
    ]


def located_error(
    message: str, *, path: str, fmt: Format, line: int | None = None, field: str | None = None
) -> InputError:
    """An InputError naming file, line (or Parquet row: ``line`` is then the row) and
    column."""
    if fmt == "parquet":
        return InputError(message, path=path, row=line, field=field)
    return InputError(message, path=path, line=line, field=field)


def iter_batches(
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    columns: Sequence[str] | None = None,
) -> Iterator[RecordBatch]:
    """Stream ``path`` as record batches of about ``batch_rows`` records (CSV batches are
    sized in bytes from the first lines' length, so their row count varies).

    ``columns`` restricts CSV and Parquet reads to those columns (JSONL lines are parsed
    whole anyway). Raises ``InputError`` for an unreadable file, an unknown format,
    malformed JSON (with its line) and a CSV row with the wrong number of fields (with its
    line). A file without records yields nothing.
    """
    kind = detect_format(path, fmt)
    p = str(path)
    if not os.path.isfile(p):
        raise InputError("no such file" if not os.path.exists(p) else "not a file", path=p)
    if not os.access(p, os.R_OK):
        raise InputError("file is not readable (permission denied)", path=p)
    if batch_rows < 1:
        raise ValueError("batch_rows must be >= 1")
    if kind == "csv":
        return _csv_batches(p, batch_rows, columns)
    if kind == "jsonl":
        return _jsonl_batches(p, batch_rows)
    return _parquet_batches(p, batch_rows, columns)


def iter_records(
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    on_rejected: Callable[[Rejected], None] | None = None,
) -> Iterator[tuple[int, dict[str, object]]]:
    """(line or Parquet row, flat record) for every record. JSONL records are the
    (flattened) objects as read, without the keys they lack; CSV and Parquet records have
    every column, None for nulls. CSV values are text. JSONL lines that are invalid
    prediction events are not records: each goes to ``on_rejected``, in file order
    relative to each other (a batch's rejections before its records)."""
    for batch in iter_batches(path, fmt=fmt):
        if on_rejected is not None:
            for rejected in batch.rejected:
                on_rejected(rejected)
        if batch.fmt == "jsonl":
            assert isinstance(batch.data, _JsonlColumns)
            yield from zip(batch.line_numbers or (), batch.data.records, strict=True)
            continue
        names = list(batch.data)
        cols = batch.pylists()
        for i, values in enumerate(zip(*(cols[n] for n in names), strict=True)):
            yield batch.first_line + i, dict(zip(names, values, strict=True))


# -- CSV --------------------------------------------------------------------------------------


def csv_header(path: str) -> list[str]:
    """The CSV header's column names (checked: present, named, unique)."""
    try:
        with open(path, "rb") as f:
            first = f.readline()
        header = next(csv.reader([first.decode("utf-8-sig")]), None)
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path=path, line=1) from None
    except (OSError, csv.Error) as err:
        raise InputError(f"cannot read the CSV header: {err}", path=path, line=1) from None
    if not header:
        raise InputError("empty file: no CSV header", path=path, line=1)
    seen: set[str] = set()
    for name in header:
        if name == "":
            raise InputError("a CSV header column has no name", path=path, line=1)
        if name in seen:
            raise InputError("duplicate CSV column name", path=path, line=1, field=name)
        seen.add(name)
    return header


def csv_physical_rows(path: str, n_columns: int) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, fields) of every CSV record after the header, with the csv
    module: slow, exact line numbers. Blank lines are skipped, except in a one-column
    file, where a blank line is the record holding a null (as the fast reader reads it)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        last = reader.line_num
        for row in reader:
            start, last = last + 1, reader.line_num
            if row:
                yield start, row
            elif n_columns == 1:
                yield start, [""]


def _not_utf8(path: str, from_line: int = 1) -> InputError | None:
    """The "not UTF-8 text" error for the first physical line from ``from_line`` on that
    does not decode, naming the byte by its hex value: the raw bytes are never echoed.
    None when every line decodes."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if lineno < from_line:
                continue
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                return InputError(
                    f"not UTF-8 text (byte 0x{raw[err.start]:02X} at position "
                    f"{err.start + 1}); save the file as UTF-8",
                    path=path,
                    line=lineno,
                )
    return None


_SURROGATE: Final = re.compile("[\udc80-\udcff]")


def _csv_problem(path: str, n_fields: int) -> InputError | None:
    """The first record that is not UTF-8 or has a field count other than ``n_fields``, as
    the error to raise (None when there is neither). A byte that is not UTF-8 is read as a
    lone surrogate (``surrogateescape``), so the scan gets past it and reports whichever
    problem comes first in the file; a record with both is reported as not UTF-8, the
    likelier cause (a binary file, or another encoding)."""
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        last = reader.line_num
        try:
            for row in reader:
                start, last = last + 1, reader.line_num
                if any(_SURROGATE.search(field) for field in row):
                    return _not_utf8(path, start) or InputError(
                        "not UTF-8 text; save the file as UTF-8", path=path, line=start
                    )
                if row and len(row) != n_fields:
                    return InputError(
                        f"expected {n_fields} fields, found {len(row)}", path=path, line=start
                    )
        except csv.Error as err:
            # Binary garbage can first break the csv module (a field too long): not UTF-8
            # is then the better answer.
            return _not_utf8(path, last + 1) or InputError(
                f"cannot parse CSV: {err}", path=path, line=last + 1
            )
    return None


def _csv_batches(
    path: str, batch_rows: int, columns: Sequence[str] | None
) -> Iterator[RecordBatch]:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    header = csv_header(path)
    include = list(columns) if columns is not None else header
    # Every column as text: the builder decides types from the whole column, while Arrow's
    # own inference looks at the first block only and fails on a later mismatch. Reading
    # text is also faster than inference (measured: 1.5 s vs 3.1 s per 358 MB).
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        include_columns=include,
        include_missing_columns=True,
    )
    # Arrow parses 1 MiB blocks more than twice as fast as 4-64 MiB ones (measured: 1.2 s
    # vs 2.9 s for 358 MB), so blocks stay small and are joined into batches of batch_rows.
    read = pa_csv.ReadOptions(block_size=1 << 20)
    # A blank line is no record, except in a one-column file: there it is the only way
    # to write a null.
    # No invalid_row_handler: Arrow decodes a bad row's text for the handler and, when it
    # is not UTF-8, prints a traceback before failing; the error path re-scans instead.
    parse = pa_csv.ParseOptions(
        ignore_empty_lines=len(header) > 1,
        newlines_in_values=True,  # quoted line breaks; measured: no slower
    )
    source = pa.OSFile(path)
    line = 2
    pending: list[pa.RecordBatch] = []
    n_pending = 0

    def flush() -> RecordBatch:
        table = pa.Table.from_batches(pending).combine_chunks()
        data = {name: table.column(i).chunk(0) for i, name in enumerate(table.column_names)}
        return RecordBatch("csv", table.num_rows, data, line, None, source.tell())

    try:
        reader = pa_csv.open_csv(
            source, read_options=read, parse_options=parse, convert_options=convert
        )
        for rb in reader:
            if rb.num_rows:
                pending.append(rb)
                n_pending += rb.num_rows
            if n_pending >= batch_rows:
                yield flush()
                line += n_pending
                pending, n_pending = [], 0
        if pending:
            yield flush()
    except pa.ArrowInvalid as err:
        raise _csv_error(path, len(header), err) from None
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"cannot read CSV: {err}", path=path) from None
    finally:
        source.close()


_FIELD_COUNT: Final = re.compile(r"Expected ([0-9]+) columns, got ([0-9]+)")


def _csv_error(path: str, n_fields: int, err: Exception) -> InputError:
    """The one-line error for Arrow's failure to read ``path``, located by a re-scan with
    the csv module (exact lines). Arrow's message ends with the offending row's raw text,
    which is never passed on: it may be binary, and it may be data the user must not see
    in a log."""
    text = str(err).removeprefix("CSV parse error: ").removeprefix("CSV conversion error: ")
    if "Empty CSV file" in text:
        return InputError("empty file: no CSV header", path=path, line=1)
    found = _csv_problem(path, n_fields)
    if found is not None:
        return found
    if "utf8" in text.lower():
        return _not_utf8(path) or InputError("not UTF-8 text; save the file as UTF-8", path=path)
    counts = _FIELD_COUNT.match(text)
    if counts is not None:
        return InputError(f"expected {n_fields} fields, found {counts[2]}", path=path)
    return InputError(f"cannot parse CSV: {text.split(': ', 1)[0][:200]}", path=path)


# -- JSONL ------------------------------------------------------------------------------------


class _JsonlColumns(dict[str, Column]):
    """Columns of a JSONL batch that also keep the records they were built from."""

    records: list[dict[str, object]]


def _flatten_event(event: PredictionEvent) -> dict[str, object]:
    rec: dict[str, object] = dict(event.features)
    rec[PREDICTION_FEATURE] = prediction_value(event.prediction)
    rec[TIMESTAMP_COLUMN] = event.timestamp_ms
    return rec


def _jsonl_batches(path: str, batch_rows: int) -> Iterator[RecordBatch]:
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed in finally; the generator may pause
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    limits = DEFAULT_LIMITS
    try:
        records: list[dict[str, object]] = []
        lines: list[int] = []
        rejected: list[Rejected] = []
        consumed = 0
        for lineno, raw in enumerate(f, 1):
            consumed += len(raw)
            if raw.isspace():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as err:
                raise InputError(f"malformed JSON: {err}", path=path, line=lineno) from None
            if type(obj) is not dict:
                raise InputError(
                    f"expected a JSON object, found {_json_kind(obj)}", path=path, line=lineno
                )
            if not is_event_object(obj):
                records.append(obj)
                lines.append(lineno)
            elif (size := len(raw.rstrip(b"\r\n"))) > limits.max_bytes:
                # The stream's size limit; the line break is not part of the event.
                rejected.append(Rejected.of(lineno, oversized(size, limits)))
            else:
                try:
                    records.append(_flatten_event(event_from_json(obj, limits)))
                    lines.append(lineno)
                except DecodeError as err:
                    rejected.append(Rejected.of(lineno, err))
            # Rejections count toward the batch too: memory stays bounded in a file of
            # mostly invalid lines.
            if len(records) + len(rejected) >= batch_rows:
                yield _jsonl_batch(records, lines, consumed, rejected)
                records, lines, rejected = [], [], []
        if records or rejected:
            yield _jsonl_batch(records, lines, consumed, rejected)
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    finally:
        f.close()


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return f"a {type(value).__name__}".replace("a str", "a string").replace("a int", "an int")


def _jsonl_batch(
    records: list[dict[str, object]],
    lines: list[int],
    consumed: int,
    rejected: list[Rejected],
) -> RecordBatch:
    data = _JsonlColumns()
    data.records = records
    if not records:  # only rejected events since the last batch
        return RecordBatch("jsonl", 0, data, rejected[0].line, [], consumed, tuple(rejected))
    first_keys = records[0].keys()
    names: dict[str, None] = dict.fromkeys(first_keys)
    uniform = True
    for rec in records:
        if rec.keys() != first_keys:  # a set comparison, in C
            uniform = False
            names.update(dict.fromkeys(rec))
    if uniform and len(names) > 1:
        # Same keys in every record (the common case): transpose in C.
        getter = itemgetter(*names)
        for name, values in zip(names, zip(*map(getter, records), strict=True), strict=True):
            data[name] = _typed(list(values))
    else:
        for name in names:
            data[name] = _typed([rec.get(name) for rec in records])
    return RecordBatch("jsonl", len(records), data, lines[0], lines, consumed, tuple(rejected))


_NUMBER_TYPES: Final = frozenset({int, float})


def _typed(values: list[object]) -> Column:
    """An Arrow array when the JSON values share one type (fast downstream), else the list."""
    import pyarrow as pa

    kinds = set(map(type, values))
    kinds.discard(type(None))
    try:
        if not kinds:
            return pa.nulls(len(values))
        if kinds == {str}:
            return pa.array(values, pa.string())
        if kinds == {bool}:
            return pa.array(values, pa.bool_())
        if kinds <= _NUMBER_TYPES:
            return pa.array(values, pa.float64())
    except (pa.ArrowException, OverflowError, TypeError):
        pass  # e.g. an integer beyond int64: keep the Python values
    return values


# -- Parquet ----------------------------------------------------------------------------------


def _parquet_batches(
    path: str, batch_rows: int, columns: Sequence[str] | None
) -> Iterator[RecordBatch]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"not a readable Parquet file: {err}", path=path) from None
    row = 1
    try:
        for rb in pf.iter_batches(batch_size=batch_rows, columns=columns):
            if rb.num_rows == 0:
                continue
            data: dict[str, Column] = {}
            for name, col in zip(rb.schema.names, rb.columns, strict=True):
                if pa.types.is_dictionary(col.type):
                    col = col.dictionary_decode()
                if pa.types.is_large_string(col.type) or pa.types.is_string_view(col.type):
                    col = col.cast(pa.string())
                data[name] = col
            yield RecordBatch("parquet", rb.num_rows, data, row, None, row - 1 + rb.num_rows)
            row += rb.num_rows
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"cannot read Parquet: {err}", path=path) from None
