"""The baselines topic's key: one per published version, readable, and told apart from the
legacy key (the bare model_id)."""

from __future__ import annotations

from app.baseline.topic_key import VersionKey, decode_key, encode_key


def test_the_key_names_model_version_and_effective_time_in_readable_json() -> None:
    key = encode_key("fraud-scorer", "bl-5464e2a2e084207b", 1_796_105_100_000)
    assert key == (
        b'{"model_id":"fraud-scorer","baseline_id":"bl-5464e2a2e084207b",'
        b'"effective_from_ms":1796105100000}'
    )
    assert decode_key(key) == VersionKey("fraud-scorer", "bl-5464e2a2e084207b", 1_796_105_100_000)


def test_a_rollback_to_an_earlier_baseline_is_another_key() -> None:
    assert encode_key("m", "bl-1", 0) != encode_key("m", "bl-1", 60_000)
    assert encode_key("m", "bl-1", 0) == encode_key("m", "bl-1", 0)


def test_other_keys_are_not_version_keys() -> None:
    for key in (
        None,
        b"",
        b"fraud-scorer",  # legacy: the model id
        b"{not json",
        b'{"model_id":"m","baseline_id":"bl-1"}',
        b'{"model_id":"m","baseline_id":"bl-1","effective_from_ms":"0"}',
        b'{"model_id":"m","baseline_id":"bl-1","effective_from_ms":true}',
        b'{"model_id":"m","baseline_id":"bl-1","effective_from_ms":0,"x":1}',
        b'["m","bl-1",0]',
    ):
        assert decode_key(key) is None, key
