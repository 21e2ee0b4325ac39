"""The extension's reading of a partial's KS-grid cells (``sparse_cells``) against the
pure-Python reader it stands in front of (``app.binning.histogram._read_sparse``): the same
cells from every valid list, the same error from every invalid one, and the compiled pass
really taken for the valid ones (it declines everything else)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.binning import histogram
from app.native import load

native = load()
pytestmark = pytest.mark.skipif(native is None, reason="the native extension is not built")

N_CELLS = 50


@st.composite
def valid_lists(draw: st.DrawFn) -> list[object]:
    cells = sorted(draw(st.sets(st.integers(0, N_CELLS - 1), min_size=1, max_size=N_CELLS)))
    counts = draw(st.lists(st.integers(1, 2**63 - 1), min_size=len(cells), max_size=len(cells)))
    return [x for pair in zip(cells, counts, strict=True) for x in pair]


# Items that may replace one of a valid list's: all but the last two make it invalid
# wherever they stand; the last two are valid or not depending on where.
ODD_ITEMS: list[object] = [
    True,
    False,
    1.0,
    0.5,
    "3",
    None,
    [1],
    -1,
    2**63,
    2**64,
    -(2**63) - 1,
    N_CELLS,
    0,
    N_CELLS - 1,
]


def variants(data: list[object], at: int) -> list[list[object]]:
    """The list itself, and each one-item change of it near pair ``at``: every odd item in
    the cell's place and in the count's, the pair dropped or cut in half, an item
    appended, the pair swapped with the next (cells out of order)."""
    i = 2 * at
    out = [data, data[:i] + data[i + 2 :], data[: i + 1] + data[i + 2 :], [*data, 7]]
    for item in ODD_ITEMS:
        out.append([*data[:i], item, *data[i + 1 :]])
        out.append([*data[: i + 1], item, *data[i + 2 :]])
    if i + 3 < len(data):
        out.append([*data[:i], *data[i + 2 : i + 4], *data[i : i + 2], *data[i + 4 :]])
    return out


def _read(data: list[object], *, compiled: bool) -> object:
    """The cells ``_read_sparse`` fills, or its error; ``compiled`` False: as without the
    extension."""
    with pytest.MonkeyPatch.context() as m:
        if not compiled:
            m.setattr(histogram, "load", lambda: None)
        cells = np.zeros(N_CELLS, dtype=np.int64)
        try:
            histogram._read_sparse(cells, data, "amount")
        except ValueError as err:
            return ("error", str(err))
        return cells.tolist()


@settings(max_examples=100, deadline=None)
@given(data=valid_lists(), where=st.floats(0, 1, exclude_max=True))
def test_every_list_reads_as_without_the_extension(data: list[object], where: float) -> None:
    for variant in variants(data, int(where * len(data) // 2)):
        assert _read(variant, compiled=True) == _read(variant, compiled=False), variant


@settings(max_examples=200, deadline=None)
@given(data=valid_lists())
def test_a_valid_list_takes_the_compiled_pass_as_int64_pairs(data: list[object]) -> None:
    assert native is not None
    assert native.sparse_cells(data, N_CELLS) == np.array(data, dtype=np.int64).tobytes()


@pytest.mark.parametrize(
    "data",
    [
        [1],  # odd length
        [1, True],  # a bool is not a count
        [True, 1],
        [1, 1.0],
        [1, "1"],
        [1, None],
        [1, 0],  # zero count
        [1, -1],
        [-1, 1],
        [N_CELLS, 1],  # out of range
        [3, 1, 3, 1],  # not increasing
        [3, 1, 2, 1],
        [1, 2**63],  # beyond int64
        [2**64, 1],
    ],
)
def test_anything_doubtful_is_declined_for_the_python_reader(data: list[object]) -> None:
    assert native is not None
    assert native.sparse_cells(data, N_CELLS) is None


def test_a_subclass_of_int_is_declined() -> None:
    class Count(int):
        pass

    assert native is not None
    assert native.sparse_cells([1, Count(2)], N_CELLS) is None
    assert native.sparse_cells([1, 2], N_CELLS) == np.array([1, 2], dtype=np.int64).tobytes()
