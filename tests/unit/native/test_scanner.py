"""The extension's own readings against the references: every JSON number it reads is the
value orjson reads (its fast decimal path included), and a numeric feature with a KS
grid's thousands of edges (binned through a bucket table) lands in ``bisect_right``'s
cell for every value, edges and their neighbouring floats included."""

from __future__ import annotations

import math
import random
from bisect import bisect_right

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.native.loader import load

NATIVE = load()
pytestmark = pytest.mark.skipif(
    NATIVE is None, reason="the native extension is not built (make setup builds it)"
)

EDGE_TEXTS = [
    "0", "-0", "0.0", "-0.0", "1", "-1", "0.1", "0.5", "1e0", "1E+2", "1e-2", "2.5e-3",
    "9007199254740991", "9007199254740992", "9007199254740993", "9007199254740993.0",
    "900719925474099.3", "1e22", "1e23", "1e-22", "1e-23", "123456789012345678",
    "1234567890123456789", "12345678901234567890", "9223372036854775807",
    "-9223372036854775808", "9223372036854775808", "0.1234567890123456789",
    "0.30000000000000004", "1.7976931348623157e308", "5e-324", "2.2250738585072014e-308",
    "1e400", "-1e400", "1e-400", "1.0e00001", "1e0022", "123.456e-10", "4.35", "0.0001",
]  # fmt: skip


def _native(text: str) -> float | int | None:
    assert NATIVE is not None
    got = NATIVE.number(text.encode())
    if got is None:
        return None
    is_float, f, i = got
    return f if is_float else i


def _check(text: str) -> None:
    got = _native(text)
    try:
        expected = orjson.loads(text)
    except orjson.JSONDecodeError:  # an overflowing float: orjson rejects it
        assert got is None, text
        return
    if got is None:  # deferred to the Python path: only ever the unusual texts
        assert not (isinstance(expected, float) and math.isfinite(expected)
                    and len(text) < 18 and "e" not in text.lower()), text  # fmt: skip
        return
    assert type(got) is type(expected), text
    assert got == expected, text
    if isinstance(got, float) and isinstance(expected, float):
        assert math.copysign(1.0, got) == math.copysign(1.0, expected), text
        assert got.hex() == expected.hex(), text


@pytest.mark.parametrize("text", EDGE_TEXTS)
def test_boundary_numbers_read_as_orjson_reads_them(text: str) -> None:
    _check(text)


def test_int_beyond_i64_and_overflowing_floats_are_deferred() -> None:
    assert _native("9223372036854775808") is None  # orjson: a float; Python decides
    assert _native("1e400") is None
    assert _native("1.0.0") is None and _native("01") is None and _native("-") is None


@settings(max_examples=3000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_float_repr_reads_as_orjson_reads_it(value: float) -> None:
    _check(repr(value))
    _check(orjson.dumps(value).decode())


@settings(max_examples=3000, deadline=None)
@given(
    st.booleans(),
    st.text("0123456789", min_size=1, max_size=22).filter(lambda s: s == "0" or s[0] != "0"),
    st.none() | st.text("0123456789", min_size=1, max_size=22),
    st.none() | st.tuples(st.sampled_from(["e", "E", "e+", "e-", "E-"]), st.integers(0, 400)),
)
def test_generated_decimal_texts_read_as_orjson_reads_them(
    neg: bool, whole: str, frac: str | None, exp: tuple[str, int] | None
) -> None:
    text = ("-" if neg else "") + whole
    if frac is not None:
        text += "." + frac
    if exp is not None:
        text += f"{exp[0]}{exp[1]}"
    _check(text)


def _grid_counts(edges: list[float], values: list[float]) -> list[int]:
    """The extension's counts of ``values`` as one numeric feature with ``edges``."""
    assert NATIVE is not None
    size = 3 + len(edges) + 1
    plan = NATIVE.Plan(size, [("x", (0, edges, None, 0, True, False, False))], None)
    start = 1_795_762_800_000
    records = [
        orjson.dumps({"model_id": "m", "timestamp": start + i % 1000, "features": {"x": v},
                      "prediction": 0.5})
        for i, v in enumerate(values)
    ]  # fmt: skip
    counts = np.zeros(size, dtype=np.int64)
    stop, *_ = NATIVE.fold(
        records,
        0,
        (1 << 20, 1000, 0, 1 << 62),
        (60_000, 0, 1 << 40, start),
        [("m", start + 59_999, start)],
        [(0, start, plan, counts)],
    )
    assert stop == len(records)  # every value binned here, none deferred
    return counts.tolist()


@pytest.mark.parametrize("shape", ["normal", "lognormal", "outlier", "clustered"])
def test_a_ks_grid_bins_every_value_in_bisect_rights_cell(shape: str) -> None:
    rng = np.random.default_rng(7)
    sample = {
        "normal": rng.normal(size=50_000),
        "lognormal": rng.lognormal(sigma=3.0, size=50_000),
        # One far edge squeezes the others into one bucket of the table.
        "outlier": np.append(rng.normal(size=50_000), 1e12),
        "clustered": np.round(rng.normal(size=50_000), 2),
    }[shape]
    edges = sorted(set(np.quantile(sample, np.linspace(0, 1, 2001)).tolist()))
    assert len(edges) >= 64  # the table is built from 64 edges on
    rnd = random.Random(3)
    values = [float(v) for v in rng.choice(sample, 3000)]
    for e in [*rnd.sample(edges, 300), edges[0], edges[-1]]:
        values += [e, math.nextafter(e, math.inf), math.nextafter(e, -math.inf)]
    values += [-1e300, 1e300, edges[0] - 1.0, edges[-1] + 1.0, 0.0, -0.0]
    expected = [0] * (len(edges) + 1)
    for v in values:
        expected[bisect_right(edges, v)] += 1
    assert _grid_counts(edges, values)[3:] == expected
