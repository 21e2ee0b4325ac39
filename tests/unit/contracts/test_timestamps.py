"""Time as text outside events: command-line options take the flat-file rule (RFC 3339 or
epoch-ms digits), ASCII digits only, like the schema's [0-9]."""

from __future__ import annotations

import pytest

from app.cli.publish import effective_from_ms
from app.cli.replay import parse_time
from app.contracts.timestamps import cell_timestamp_ms, text_timestamp_ms
from app.errors import DriftlineError
from app.windows.spec import WindowSpec

MS = 1_795_762_801_250


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1795762801250", MS),
        ("0", 0),
        ("2026-11-27T07:00:01.250Z", MS),
        ("2026-11-27T08:00:01.250+01:00", MS),
        ("١٧٩٥٧٦٢٨٠١٢٥٠", None),  # Arabic-Indic digits: str.isdigit() and int() take them
        ("-1", None),
        ("1.5", None),
        ("", None),
    ],
)
def test_time_text(text: str, ms: int | None) -> None:
    assert text_timestamp_ms(text) == ms
    assert cell_timestamp_ms(text) == ms


def test_cli_times_refuse_non_ascii_digits() -> None:
    with pytest.raises(DriftlineError, match="expected an RFC 3339 time"):
        parse_time("١٧٩٥٧٦٢٨٠١٢٥٠", "--from")
    with pytest.raises(DriftlineError, match="expected next-window, now, an RFC 3339 time"):
        effective_from_ms("١٧٩٥٧٦٢٨٠١٢٥٠", WindowSpec.from_seconds(300, 0), MS)
    assert parse_time("1795762801250", "--from") == MS
