"""The CLI's table layout and ``driftline tail``'s one-line summaries, on the schema examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.cli.output import table
from app.cli.tail import describe_alert, describe_dead_letter, describe_window

EXAMPLES = Path(__file__).resolve().parents[3] / "schemas" / "examples"


def _example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return doc


def test_table_pads_columns_right_aligns_numbers_and_marks_missing_values() -> None:
    text = table(
        ("topic", "exists", "partitions", "messages"),
        [("predictions", True, 4, 12345), ("driftline-stage1-state", False, None, None)],
    )
    assert text.splitlines() == [
        "topic                   exists  partitions  messages",
        "predictions             yes              4    12,345",
        "driftline-stage1-state  no               -         -",
    ]


def test_table_without_rows_is_its_header() -> None:
    assert table(("client", "host"), []) == "client  host"


def test_window_line_names_model_start_events_status_and_drifted_features() -> None:
    assert describe_window(_example("window-result.drift.json")) == (
        "fraud-scorer  2026-11-27T07:00:00Z  n=5000  drift  drifted: amount, is_new_customer"
    )
    assert describe_window(_example("window-result.version-1.json")) == (
        "fraud-scorer  2026-11-27T07:00:00Z  n=5000  drift  drifted: amount"
    )
    assert describe_window(_example("window-result.insufficient.json")) == (
        "fraud-scorer  2026-11-27T07:05:00Z  n=12  insufficient_data (partial)  drifted: -"
    )


def test_alert_line_gives_each_feature_its_summary() -> None:
    assert describe_alert(_example("drift-event.stopped-feature.json")) == (
        "fraud-scorer  2026-11-27T07:00:00Z..2026-11-27T07:05:00Z  severity=low  "
        "amount: distribution shifted, PSI 0.54 > 0.032; median 75.5 -> 123; 5.1% of values "
        "outside the training range [0.5, 9,800] (5.1% above) | "
        "is_new_customer: no usable value in any event (null rate 0% -> 100%)"
    )
    assert describe_alert(_example("drift-event.unseen-categories.json")) == (
        "fraud-scorer  2026-11-27T07:00:00Z..2026-11-27T07:05:00Z  severity=low  "
        "country: 2.5% of values are categories never seen in training (BR 2.1%, XX 0.4%)"
    )


def test_alert_line_of_version_1_gives_each_feature_its_effect_or_null_rate() -> None:
    assert describe_alert(_example("drift-event.version-1.json")) == (
        "fraud-scorer  2026-11-27T07:00:00Z..2026-11-27T07:05:00Z  severity=medium  "
        "amount psi 0.2874 > 0.1"
    )
    doc = _example("drift-event.version-1.json")
    doc["drifted_features"].append(
        {"name": "is_new_customer", "role": "feature", "type": "boolean", "test": None,
         "p_value_adjusted": None, "effect": None}
    )  # fmt: skip
    assert describe_alert(doc) == (
        "fraud-scorer  2026-11-27T07:00:00Z..2026-11-27T07:05:00Z  severity=medium  "
        "amount psi 0.2874 > 0.1; is_new_customer null rate"
    )


def test_dead_letter_line_gives_reason_source_position_and_error() -> None:
    assert describe_dead_letter(_example("dead-letter.invalid-json.json")) == (
        "invalid_json  predictions[2]@1201944  "
        "not UTF-8 JSON: unexpected end of data: line 1 column 96 (char 95)"
    )


def test_alert_line_of_an_incident_event_names_the_incident_and_its_event() -> None:
    assert describe_alert(_example("incident-event.resolved.json")) == (
        "fraud-scorer  incident inc-ec76bed5ea18282f resolved #3  "
        "2026-11-27T07:50:00Z..2026-11-27T07:55:00Z  severity=low  amount"
    )
