import pytest

from app.windows.spec import END_OF_TIME_MS, WindowSpan, WindowSpec, route


def test_start_and_end_are_epoch_aligned() -> None:
    spec = WindowSpec.from_seconds(300, 60)
    assert spec.start_of(1_795_676_401_250) == 1_795_676_400_000
    assert spec.start_of(1_795_676_400_000) == 1_795_676_400_000
    assert spec.start_of(1_795_676_399_999) == 1_795_676_100_000
    assert spec.end_of(1_795_676_400_000) == 1_795_676_700_000
    assert spec.start_of(-1) == -300_000  # before 1970 still aligned


def test_closed_upto_is_the_last_window_end_at_or_before_the_watermark() -> None:
    spec = WindowSpec(size_ms=1000, lateness_ms=0)
    assert spec.closed_upto(None) is None
    assert spec.closed_upto(2999) == 2000
    assert spec.closed_upto(3000) == 3000
    assert spec.closed_upto(END_OF_TIME_MS + 5) == END_OF_TIME_MS


def test_route_is_stable_across_processes() -> None:
    # crc32 of b"m1|0" is 0x68f27933: fixed, independent of PYTHONHASHSEED
    assert route("m1", 0, 4) == 0x68F27933 % 4
    assert {route("m1", w * 1000, 4) for w in range(100)} == {0, 1, 2, 3}


def test_a_spec_makes_the_spans_results_and_ids_are_about() -> None:
    spec = WindowSpec.from_seconds(300, 60)
    assert spec.size_seconds == 300
    span = spec.span(spec.start_of(1_795_762_912_345))
    assert span == WindowSpan(1_795_762_800_000, 300)
    assert span.end_ms == spec.end_of(span.start_ms) == 1_795_763_100_000


def test_a_span_needs_a_whole_number_of_seconds() -> None:
    with pytest.raises(ValueError, match=r"^window size 1500 ms is not a whole number of seconds$"):
        WindowSpec(size_ms=1500, lateness_ms=0).span(0)
