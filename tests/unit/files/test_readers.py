"""Streaming readers: formats, values, line numbers, and the errors users see."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from app.contracts.events import Rejected
from app.errors import InputError
from app.files.readers import (
    RecordBatch,
    category_text,
    detect_format,
    iter_batches,
    iter_records,
    text_to_float,
)
from tests.factories import write_jsonl


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


# -- format -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("a.CSV", "csv"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.parquet", "parquet"),
        ("a.pq", "parquet"),
    ],
)
def test_format_from_extension(name: str, fmt: str) -> None:
    assert detect_format(name) == fmt


def test_format_override_and_unknown() -> None:
    assert detect_format("data.txt", "csv") == "csv"
    assert detect_format("data.txt", "NDJSON") == "jsonl"
    with pytest.raises(InputError) as err:
        detect_format("data.txt")
    assert str(err.value) == (
        "data.txt: cannot tell the format from the extension '.txt'; use .csv, .jsonl, "
        ".ndjson, .parquet or .pq, or name the format (csv, jsonl, parquet)"
    )
    with pytest.raises(InputError, match=r"^data.csv: unknown format 'xml'; use one of csv, "):
        detect_format("data.csv", "xml")


# -- CSV --------------------------------------------------------------------------------------


def test_csv_values_are_text_and_empty_is_null(tmp_path: Path) -> None:
    p = write(tmp_path / "a.csv", 'x,y,z\n1,a,true\n,"b, c",\n2.5,,false\n')
    batches = list(iter_batches(p))
    assert len(batches) == 1
    b = batches[0]
    assert (b.fmt, b.num_rows, b.first_line) == ("csv", 3, 2)
    assert b.columns == {
        "x": ["1", None, "2.5"],
        "y": ["a", "b, c", None],
        "z": ["true", None, "false"],
    }
    assert b.progress == Path(p).stat().st_size
    assert list(iter_records(p)) == [
        (2, {"x": "1", "y": "a", "z": "true"}),
        (3, {"x": None, "y": "b, c", "z": None}),
        (4, {"x": "2.5", "y": None, "z": "false"}),
    ]


def test_csv_columns_subset_and_bom(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_bytes(b"\xef\xbb\xbfx,y\n1,2\n")
    (b,) = iter_batches(p, columns=["y"])
    assert b.columns == {"y": ["2"]}


def test_csv_wrong_field_count_names_the_physical_line(tmp_path: Path) -> None:
    # Blank lines shift Arrow's record count; the message must still give the file line.
    p = write(tmp_path / "a.csv", "a,b,c\n1,2,3\n\n\n4,5\n")
    with pytest.raises(InputError) as err:
        list(iter_batches(p))
    assert str(err.value) == f"{p}, line 5: expected 3 fields, found 2"
    assert err.value.line == 5


def test_csv_quoted_line_breaks(tmp_path: Path) -> None:
    p = write(tmp_path / "a.csv", 'a,b\n1,"two\nlines"\n2,x\n3\n')
    with pytest.raises(InputError, match=r"a\.csv, line 5: expected 2 fields, found 1$"):
        list(iter_batches(p))
    q = write(tmp_path / "b.csv", 'a,b\n1,"two\nlines"\n2,x\n')
    assert [r for _, r in iter_records(q)] == [{"a": "1", "b": "two\nlines"}, {"a": "2", "b": "x"}]


def test_csv_too_many_fields(tmp_path: Path) -> None:
    p = write(tmp_path / "a.csv", "a,b\n1,2\n3,4\n5,6,7\n")
    with pytest.raises(InputError, match=r"a\.csv, line 4: expected 2 fields, found 3$"):
        list(iter_records(p))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "line 1: empty file: no CSV header"),
        ("a,a\n1,2\n", "line 1, field 'a': duplicate CSV column name"),
        ("a,,c\n1,2,3\n", "line 1: a CSV header column has no name"),
    ],
)
def test_csv_bad_header(tmp_path: Path, content: str, message: str) -> None:
    p = write(tmp_path / "a.csv", content)
    with pytest.raises(InputError) as err:
        list(iter_batches(p))
    assert str(err.value) == f"{p}, {message}"


def test_csv_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_bytes(b"a,b\n1,2\n1,\xff\xfe\n")
    with pytest.raises(InputError) as err:
        list(iter_batches(p))
    assert str(err.value) == (
        f"{p}, line 3: not UTF-8 text (byte 0xFF at position 3); save the file as UTF-8"
    )


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        iter_batches(tmp_path / "nope.csv")
    assert str(err.value) == f"{tmp_path / 'nope.csv'}: no such file"
    d = tmp_path / "dir.csv"
    d.mkdir()
    with pytest.raises(InputError, match=r"dir\.csv: not a file$"):
        iter_batches(d)


def test_number_text_agrees_with_arrow_cast() -> None:
    """The one-value rule (text_to_float) and Arrow's vectorised cast accept the same cells."""
    cells = ["1", "-2", "+3.5", ".5", "5.", "1e5", "1E+5", "1.e-3", "inf", "-Infinity", "NaN",
             "+nan", " 1", "1 ", "1_000", "0x10", "1,5", "e5", ".e5", "1e", "abc", "", "--1",
             "\u0661"]  # fmt: skip
    for cell in cells:
        try:
            arrow: float | None = pc.cast(pa.array([cell]), pa.float64())[0].as_py()
        except pa.ArrowInvalid:
            arrow = None
        mine = text_to_float(cell)
        if arrow is None or mine is None:
            assert arrow is mine is None, cell
        elif np.isnan(arrow):
            assert mine is not None and np.isnan(mine), cell
        else:
            assert mine == arrow, cell


def test_category_text() -> None:
    assert [category_text(v) for v in ["DE", True, False, 3, 3.0, -0.0, 2.5, None, [1]]] == [
        "DE",
        "true",
        "false",
        "3",
        "3",
        "0",
        "2.5",
        None,
        None,
    ]


# -- JSONL ------------------------------------------------------------------------------------


def test_jsonl_events_are_flattened(tmp_path: Path) -> None:
    p = write_jsonl(
        tmp_path / "e.jsonl",
        [
            {
                "model_id": "m",
                "timestamp": "2026-11-27T07:00:01.250Z",
                "features": {"age": 41, "country": "DE"},
                "prediction": {"reject": 0.4, "approve": 0.4, "review": 0.2},
            },
            {
                "model_id": "m",
                "timestamp": 1795676401250,
                "features": {"age": 7},
                "prediction": 0.87,
            },
            {"model_id": "m", "timestamp": "yesterday", "features": {}, "prediction": "approve"},
        ],
    )
    rejected: list[Rejected] = []
    records = list(iter_records(p, on_rejected=rejected.append))
    assert records == [
        (1, {"age": 41, "country": "DE", "__prediction__": "approve",
             "__timestamp_ms__": 1795762801250}),
        (2, {"age": 7, "__prediction__": 0.87, "__timestamp_ms__": 1795676401250}),
    ]  # fmt: skip
    # An invalid event is no record: it is rejected as the stream would dead-letter it.
    assert rejected == [
        Rejected(
            3,
            "schema_violation",
            "$.timestamp: expected RFC 3339 text (e.g. 2026-11-27T07:00:01.250Z or "
            "2026-11-27T08:00:01+01:00) or epoch milliseconds (integer >= 0), got string "
            '"yesterday"',
        )
    ]


def test_a_batch_of_rejected_events_only_has_no_rows(tmp_path: Path) -> None:
    bad: dict[str, object] = {"model_id": "m", "timestamp": None, "features": {}, "prediction": 1}
    good = {"model_id": "m", "timestamp": 1795676401250, "features": {"a": 1}, "prediction": 1}
    p = write_jsonl(tmp_path / "e.jsonl", [bad, bad, bad, good])
    batches = list(iter_batches(p, batch_rows=2))
    assert [(b.num_rows, [r.line for r in b.rejected]) for b in batches] == [
        (0, [1, 2]),
        (1, [3]),
    ]
    assert batches[1].line_of(0) == 4


def test_jsonl_columns_lines_and_types(tmp_path: Path) -> None:
    p = tmp_path / "f.jsonl"
    p.write_bytes(
        b'{"a": 1, "b": "x", "c": true}\n'
        b"\n"
        b'{"a": 2.5, "b": null, "c": 3}\n'
        b"   \n"
        b'{"a": null, "b": "y", "c": "z", "d": 1}\n'
    )
    (b,) = iter_batches(p)
    assert (b.num_rows, b.first_line, list(b.line_numbers or [])) == (3, 1, [1, 3, 5])
    assert [b.line_of(i) for i in range(3)] == [1, 3, 5]
    a, s = b.data["a"], b.data["b"]
    assert not isinstance(a, list) and pa.types.is_float64(a.type)
    assert not isinstance(s, list) and pa.types.is_string(s.type)
    assert b.data["c"] == [True, 3, "z"]  # mixed JSON types stay Python values
    cols = b.columns
    np.testing.assert_array_equal(cols["a"], [1.0, 2.5, np.nan])
    assert cols["b"] == ["x", None, "y"]
    np.testing.assert_array_equal(cols["d"], [np.nan, np.nan, 1.0])


def test_jsonl_batches_split_by_rows(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "f.jsonl", ({"i": i} for i in range(5)))
    batches = list(iter_batches(p, batch_rows=2))
    assert [(b.first_line, b.num_rows) for b in batches] == [(1, 2), (3, 2), (5, 1)]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"a": 1,}', "line 2: malformed JSON: "),
        (b"[1, 2]", "line 2: expected a JSON object, found an array"),
        (b'"text"', "line 2: expected a JSON object, found a string"),
        (b"\xff\xfe", "line 2: malformed JSON: "),
    ],
)
def test_jsonl_bad_line(tmp_path: Path, line: bytes, message: str) -> None:
    p = tmp_path / "f.jsonl"
    p.write_bytes(b'{"a": 1}\n' + line + b'\n{"a": 3}\n')
    with pytest.raises(InputError) as err:
        list(iter_batches(p))
    assert str(err.value).startswith(f"{p}, {message}")
    assert err.value.line == 2


# -- Parquet ----------------------------------------------------------------------------------


def test_parquet_batches_rows_and_types(tmp_path: Path) -> None:
    p = tmp_path / "t.parquet"
    table = pa.table(
        {
            "n": pa.array([1, 2, None, 4, 5], pa.int64()),
            "s": pa.array(["a", "b", "a", None, "c"]).dictionary_encode(),
            "flag": pa.array([True, False, None, True, True]),
        }
    )
    pq.write_table(table, p)
    batches = list(iter_batches(p, batch_rows=2))
    assert [(b.first_line, b.num_rows, b.progress) for b in batches] == [
        (1, 2, 2),
        (3, 2, 4),
        (5, 1, 5),
    ]
    b: RecordBatch = batches[1]
    np.testing.assert_array_equal(b.columns["n"], [np.nan, 4.0])
    assert b.columns["s"] == ["a", None]
    assert b.columns["flag"] == [None, True]
    assert list(iter_records(p))[4] == (5, {"n": 5, "s": "c", "flag": True})


def test_parquet_not_parquet(tmp_path: Path) -> None:
    p = write(tmp_path / "t.parquet", "a,b\n1,2\n")
    with pytest.raises(InputError, match=r"t\.parquet: not a readable Parquet file: "):
        list(iter_batches(p))
