"""``baseline publish``: effective times from the window spec, said in RFC 3339 with the
window size used; a baseline too large for the producer says so in one line."""

from __future__ import annotations

import pytest

from app.cli.publish import effective_from_ms, effective_text
from app.config import Settings
from app.errors import DriftlineError
from app.stream.admin import MAX_BASELINE_REQUEST_BYTES
from app.stream.publish import too_large_message
from app.windows.spec import WindowSpec

NOW = 1_796_104_923_456  # 2026-12-01T06:02:03.456Z
SPEC = WindowSpec.from_seconds(300, 60)


def test_next_window_and_now_follow_the_window_spec() -> None:
    assert effective_from_ms("next-window", SPEC, NOW) == 1_796_105_100_000
    assert effective_from_ms("now", SPEC, NOW) == 1_796_104_800_000
    hourly = WindowSpec.from_seconds(3600, 0)
    assert effective_from_ms("next-window", hourly, NOW) == 1_796_108_400_000


def test_explicit_times_are_taken_as_given() -> None:
    assert effective_from_ms("2026-12-01T07:00:00Z", SPEC, NOW) == 1_796_108_400_000
    assert effective_from_ms("1796104800123", SPEC, NOW) == 1_796_104_800_123
    with pytest.raises(DriftlineError, match="--effective-from 'tomorrow': expected"):
        effective_from_ms("tomorrow", SPEC, NOW)


def test_the_message_is_rfc3339_and_names_the_window_size_when_it_used_one() -> None:
    assert effective_text(1_796_105_100_000, "next-window", 300) == (
        "effective from 2026-12-01T06:05:00Z (next-window for 300 s windows, from "
        "--window-seconds or DRIFTLINE_WINDOW_SECONDS; the workers' must be the same)"
    )
    assert effective_text(1_796_108_400_000, "2026-12-01T07:00:00Z", 300) == (
        "effective from 2026-12-01T07:00:00Z"
    )


def test_settings_build_the_window_spec() -> None:
    spec = Settings(window_seconds=120, allowed_lateness_seconds=7).window_spec()
    assert spec == WindowSpec(size_ms=120_000, lateness_ms=7_000)


def test_a_baseline_over_the_producer_limit_cannot_be_helped_by_the_topic() -> None:
    settings = Settings(topic_baselines="bl")
    text = too_large_message(settings, "bl-0123456789abcdef", 20_000_000, 1_048_588)
    assert text == (
        "baseline bl-0123456789abcdef is 20.0 MB (20,000,000 bytes), too large to publish: "
        f"the producer's max_request_size is {MAX_BASELINE_REQUEST_BYTES:,} bytes, topic bl's "
        "max.message.bytes is 1,048,588 bytes; build a smaller baseline (fewer features: "
        "--exclude or --feature-spec; fewer categories: --top-k; fewer bins: --bins)"
    )
    assert "\n" not in text
