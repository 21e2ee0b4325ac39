"""Event time, one rule for every input: RFC 3339 text and epoch milliseconds, parsed,
bounded and formatted here and nowhere else.

The contract is ``schemas/prediction-event.schema.json``: a timestamp is RFC 3339 text
(``Z`` or a numeric offset, fraction truncated to milliseconds) or epoch milliseconds as a
non-negative integer. JSON Schema counts an integral float (``1.7e12``) as an integer, so
it is one here too. A flat file (CSV, Parquet) adds one form: epoch milliseconds written as
ASCII digits, because a CSV cell is always text. Parquet timestamp columns are converted
to epoch milliseconds by the file code before this rule sees them.

The accepted range is fixed (not relative to the wall clock) so that replaying a topic
gives the answers live processing gave; both bounds are inclusive.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

MIN_TIMESTAMP_MS: Final = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_TIMESTAMP_MS: Final = 4_102_444_800_000  # 2100-01-01T00:00:00Z

TIMESTAMP_EXPECTED: Final = (
    "RFC 3339 text (e.g. 2026-11-27T07:00:01.250Z or 2026-11-27T08:00:01+01:00) "
    "or epoch milliseconds (integer >= 0)"
)

# [0-9], not \d: Python's \d (and int()) accept any Unicode digit, RFC 3339 only ASCII.
# The date alternatives encode month lengths and Gregorian leap years, so that the pattern
# alone decides validity, exactly like the schema's pattern. No leap second (:60): datetime
# cannot hold one and epoch milliseconds have no way to express it.
# The text splits at a fixed place: the first 19 characters are date, "T" and hh:mm:ss; the
# rest is the optional fraction and the offset. Each half is valid or not on its own.
_HEAD: Final = re.compile(
    r"""
    (?:[0-9]{4}-(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])
      |[0-9]{4}-(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)
      |[0-9]{4}-02-(?:0[1-9]|1[0-9]|2[0-8])
      |(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)
    T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]
    """,
    re.VERBOSE,
)
_TAIL: Final = re.compile(r"(?:\.([0-9]+))?(?:Z|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))")
_EPOCH_NAIVE: Final = datetime(1970, 1, 1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS: Final = timedelta(milliseconds=1)
# The Gregorian calendar repeats every 400 years (146097 days): lets year 0000, which
# datetime cannot represent, be computed as year 0400 minus one cycle.
_CYCLE_MS: Final = 146_097 * 86_400_000
# A stream's timestamps share their second (and their fraction-and-offset tails repeat), so
# memoising both halves turns the usual parse into two dict lookups. Only valid halves are
# stored; the caches are cleared when full, which bounds memory and keeps results exact.
_HEAD_MS: Final[dict[str, int]] = {}
_TAIL_MS: Final[dict[str, int]] = {}
_CACHE_MAX: Final = 1 << 14


def _head_ms(head: str) -> int | None:
    if _HEAD.fullmatch(head) is None:
        return None
    if head.startswith("0000"):
        naive = datetime.fromisoformat("0400" + head[4:])
        return (naive - _EPOCH_NAIVE) // _ONE_MS - _CYCLE_MS
    return (datetime.fromisoformat(head) - _EPOCH_NAIVE) // _ONE_MS


def _tail_ms(tail: str) -> int | None:
    match = _TAIL.fullmatch(tail)
    if match is None:
        return None
    fraction, sign, hours, minutes = match.groups()
    # Truncate (not round) to milliseconds: rounding could carry into the next second.
    ms = int(fraction[:3].ljust(3, "0")) if fraction else 0
    if sign is not None:
        offset_ms = (int(hours) * 60 + int(minutes)) * 60_000
        ms += -offset_ms if sign == "+" else offset_ms
    return ms


def parse_rfc3339_ms(text: str) -> int | None:
    """Epoch milliseconds of an RFC 3339 date-time (fraction truncated toward the past), or
    None when ``text`` is not one. Stricter than ``datetime.fromisoformat``, which also
    takes dates alone, a space separator, week dates and offsets without a colon."""
    # The two cache lookups are written out, not shared through a helper: this runs once
    # per event, and a call costs about as much as the lookup.
    head = text[:19]
    base = _HEAD_MS.get(head)
    if base is None:
        base = _head_ms(head)
        if base is None:
            return None
        if len(_HEAD_MS) >= _CACHE_MAX:
            _HEAD_MS.clear()
        _HEAD_MS[head] = base
    tail = text[19:]
    adjust = _TAIL_MS.get(tail)
    if adjust is None:
        adjust = _tail_ms(tail)
        if adjust is None:
            return None
        if len(_TAIL_MS) >= _CACHE_MAX:
            _TAIL_MS.clear()
        _TAIL_MS[tail] = adjust
    return base + adjust


def format_rfc3339_ms(ms: int) -> str:
    """RFC 3339 UTC text of epoch milliseconds: ``2026-11-27T07:00:01.250Z``, without the
    fraction when it is zero (``2026-11-27T07:00:00Z``)."""
    seconds, millis = divmod(ms, 1000)
    text = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def json_timestamp_ms(value: object) -> int | None:
    """Epoch milliseconds of a JSON ``timestamp`` value, unbounded; None when the schema
    does not allow it (another type, not RFC 3339, negative, a fraction of a millisecond)."""
    # Exact types, not isinstance: a boolean is not a number in JSON (bool subclasses int),
    # and exact checks are the faster ones on the decoder's hot path.
    if type(value) is int:
        return value if value >= 0 else None
    if type(value) is str:
        return parse_rfc3339_ms(value)
    if type(value) is float and value >= 0 and value.is_integer():
        # JSON Schema counts 1.0 as an integer; so must we, to accept what it accepts.
        return int(value)
    return None


def text_timestamp_ms(text: str) -> int | None:
    """Epoch milliseconds of time as text: RFC 3339, or epoch milliseconds as ASCII digits
    (``str.isdigit`` alone would take any Unicode digit). For a CSV cell and a command-line
    option. Unbounded; None when neither."""
    if text.isascii() and text.isdigit():
        return int(text)
    return parse_rfc3339_ms(text)


def cell_timestamp_ms(value: object) -> int | None:
    """Epoch milliseconds of a flat record's timestamp cell: the JSON rule, plus epoch
    milliseconds as digits in text (all a CSV cell can say). Unbounded; None when invalid."""
    if type(value) is str:
        return text_timestamp_ms(value)
    return json_timestamp_ms(value)


def bounds_text(low: int = MIN_TIMESTAMP_MS, high: int = MAX_TIMESTAMP_MS) -> str:
    """``[2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z]``: the range, for error messages."""
    return f"[{format_rfc3339_ms(low)}, {format_rfc3339_ms(high)}]"
