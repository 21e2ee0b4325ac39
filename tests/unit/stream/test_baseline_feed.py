"""The baseline feed: every version registered whatever its key; a message that is not a
valid baseline is logged as invalid_baseline (where and why, one line) and changes nothing;
tombstones change nothing."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

from app.baseline.codec import compute_baseline_id
from app.baseline.registry import BaselineRegistry
from app.baseline.topic_key import encode_key
from app.config import Settings
from app.stream.baseline_feed import BaselineFeed
from tests.unit.baseline.test_codec import sample_doc

MODEL = "fraud-scorer"


def v1() -> dict[str, Any]:
    return sample_doc()


def v2() -> dict[str, Any]:
    doc = sample_doc()
    doc["features"]["age"]["counts"] = [1, 40, 34, 22, 0]  # one training value moved
    doc["baseline_id"] = compute_baseline_id(doc)
    return doc


def value(doc: dict[str, Any], effective: int) -> bytes:
    return orjson.dumps({**doc, "effective_from_ms": effective})


def forged() -> dict[str, Any]:
    doc = sample_doc()
    for f in doc["features"].values():
        f.update(counts=[0] * len(f["counts"]), count=0, null_count=100)
    doc["baseline_id"] = compute_baseline_id(doc)
    return doc


def feed() -> BaselineFeed:
    return BaselineFeed(Settings(topic_baselines="bl"), BaselineRegistry())


def test_versions_under_either_key_are_registered_once_each() -> None:
    f = feed()
    one, two = v1(), v2()
    f._apply(MODEL.encode(), value(one, 0), "bl", 0, 0)  # legacy key
    f._apply(encode_key(MODEL, two["baseline_id"], 60_000), value(two, 60_000), "bl", 1, 0)
    f._apply(encode_key(MODEL, one["baseline_id"], 0), value(one, 0), "bl", 2, 0)  # migrated
    assert f.registry.versions(MODEL) == [(0, one["baseline_id"]), (60_000, two["baseline_id"])]
    assert f.registry.choose(MODEL, 59_999).baseline_id == one["baseline_id"]  # type: ignore[union-attr]
    assert f.registry.choose(MODEL, 60_000).baseline_id == two["baseline_id"]  # type: ignore[union-attr]
    assert f.rejected == 0


def test_a_forged_empty_baseline_is_logged_and_the_model_keeps_its_version(
    caplog: pytest.LogCaptureFixture,
) -> None:
    f = feed()
    one = v1()
    f._apply(MODEL.encode(), value(one, 0), "bl", 0, 3)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="app.stream.baseline_feed"):
        f._apply(MODEL.encode(), value(forged(), 120_000), "bl", 0, 4)
    assert caplog.messages == [
        "invalid_baseline: rejected baseline at bl[0]@4 (key 'fraud-scorer'): field "
        "'$.features.age.counts': every count is 0: the feature has no training values, so "
        "every window would be compared with nothing; the model keeps the versions already "
        "loaded"
    ]
    assert f.rejected == 1
    assert f.registry.versions(MODEL) == [(0, one["baseline_id"])]
    assert f.registry.choose(MODEL, 10**13).baseline_id == one["baseline_id"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\x00garbage", "malformed JSON: unexpected character, expected a JSON value (column 1)"),
        (b"[1, 2]", "baseline message is not a JSON object"),
        (b'{"effective_from_ms": "soon"}', "effective_from_ms must be an integer (epoch ms)"),
    ],
)
def test_garbage_is_one_line_naming_where_it_is(
    caplog: pytest.LogCaptureFixture, raw: bytes, why: str
) -> None:
    f = feed()
    with caplog.at_level(logging.ERROR, logger="app.stream.baseline_feed"):
        f._apply(b"k\nx", raw, "bl", 2, 9)
    assert caplog.messages == [
        f"invalid_baseline: rejected baseline at bl[2]@9 (key 'k\\nx'): {why}; the model keeps "
        "the versions already loaded"
    ]


def test_a_tombstone_changes_nothing() -> None:
    f = feed()
    one = v1()
    key = encode_key(MODEL, one["baseline_id"], 0)
    f._apply(key, value(one, 0), "bl", 0, 0)
    f._apply(key, None, "bl", 0, 1)
    f._apply(MODEL.encode(), None, "bl", 0, 2)
    assert f.registry.versions(MODEL) == [(0, one["baseline_id"])]
    assert f.rejected == 0


class Seen:
    def __init__(self) -> None:
        self.added: list[str] = []
        self.withdrawn: list[str] = []

    def baseline_added(self, baseline: Any) -> None:
        self.added.append(baseline.baseline_id)

    def baseline_withdrawn(self, model: str) -> None:
        self.withdrawn.append(model)


def test_only_a_tombstone_under_a_bare_model_id_withdraws_the_model_from_the_metrics() -> None:
    seen = Seen()
    f = BaselineFeed(Settings(topic_baselines="bl"), BaselineRegistry(), listener=seen)
    one = v1()
    key = encode_key(MODEL, one["baseline_id"], 0)
    f._apply(key, value(one, 0), "bl", 0, 0)
    f._apply(key, None, "bl", 0, 1)  # a version key: versions are never withdrawn
    f._apply(None, None, "bl", 0, 2)  # no key: nothing to name
    assert (seen.added, seen.withdrawn) == ([one["baseline_id"]], [])
    f._apply(MODEL.encode(), None, "bl", 0, 3)
    assert seen.withdrawn == [MODEL]
    assert f.registry.versions(MODEL) == [(0, one["baseline_id"])]  # still judged, replayable
