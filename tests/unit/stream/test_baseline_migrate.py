"""Migration of a baselines topic to per-version keys: which messages are copied, under which
key, and that running it again copies nothing."""

from __future__ import annotations

from app.baseline.topic_key import encode_key
from app.stream.baseline_migrate import plan_migration
from tests.unit.stream.test_baseline_feed import MODEL, forged, v1, v2, value


def test_every_legacy_version_still_on_the_topic_is_copied_once_value_for_value() -> None:
    one, two = v1(), v2()
    records: list[tuple[bytes | None, bytes | None]] = [
        (MODEL.encode(), value(one, 0)),  # not compacted yet: still there
        (MODEL.encode(), value(two, 60_000)),
        (MODEL.encode(), value(two, 60_000)),  # published twice
        (b"other-model", None),  # a tombstone
        (MODEL.encode(), b"garbage"),
    ]
    plan = plan_migration(records)
    assert plan.copies == [
        (encode_key(MODEL, one["baseline_id"], 0), value(one, 0)),
        (encode_key(MODEL, two["baseline_id"], 60_000), value(two, 60_000)),
    ]
    assert (plan.models, plan.keyed, plan.invalid) == ({MODEL}, 0, 1)
    # Run again over the topic with the copies on it: nothing more to do.
    again = plan_migration([*records, *plan.copies])
    assert (again.copies, again.keyed, again.invalid) == ([], 2, 1)


def test_a_version_key_that_no_longer_holds_its_version_gets_it_back() -> None:
    one, two = v1(), v2()
    key_one = encode_key(MODEL, one["baseline_id"], 0)
    key_two = encode_key(MODEL, two["baseline_id"], 60_000)
    records = [
        (MODEL.encode(), value(one, 0)),
        (MODEL.encode(), value(two, 60_000)),
        (key_one, value(one, 0)),
        (key_one, None),  # tombstoned after it was copied
        (key_two, value(two, 60_000)),
        (key_two, value(forged(), 60_000)),  # a valid key over a forged value
    ]
    plan = plan_migration(records)
    assert plan.copies == [(key_one, value(one, 0)), (key_two, value(two, 60_000))]
    assert (plan.keyed, plan.invalid) == (2, 1)
