"""Telling a restart from a second worker with the same instance id, from the member ids the
broker describes (static members are named ``<instance id>-<UUID>``)."""

from __future__ import annotations

from app.config import load_settings
from app.stream.membership import InstanceIdTaken, holder, taken_over

UUID_A = "c91c85af-73ca-477d-ad0b-f79c7edc3bd7"
UUID_B = "5ec606b1-a498-40af-86c1-d64e83312475"


def test_the_holder_of_an_instance_id_is_the_static_member_named_after_it() -> None:
    members = [f"w-2-{UUID_A}", f"w-1-{UUID_B}", f"driftline-stage1-{UUID_A}"]
    assert holder("w-1", members) == f"w-1-{UUID_B}"
    assert holder("w-2", members) == f"w-2-{UUID_A}"
    # "w" is a prefix of both, but neither is "w-<UUID>".
    assert holder("w", members) is None
    assert holder("w-3", members) is None


def test_an_id_with_regex_characters_matches_only_itself() -> None:
    assert holder("host.a-1", [f"hostXa-1-{UUID_A}"]) is None
    assert holder("host.a-1", [f"host.a-1-{UUID_A}"]) == f"host.a-1-{UUID_A}"


def test_another_member_with_our_instance_id_means_taken_over() -> None:
    ours = f"w-1-{UUID_A}"
    assert taken_over("w-1", ours, [f"w-1-{UUID_B}", f"w-2-{UUID_A}"])


def test_our_own_membership_or_none_at_all_is_not_taken_over() -> None:
    ours = f"w-1-{UUID_A}"
    # Still a member with our own id (a stale generation, say): an ordinary rejoin.
    assert not taken_over("w-1", ours, [ours, f"w-2-{UUID_B}"])
    # Our session expired and the broker removed us: rejoin as usual.
    assert not taken_over("w-1", ours, [f"w-2-{UUID_B}"])
    assert not taken_over("w-1", ours, [])


def test_the_message_names_the_group_the_id_and_the_setting() -> None:
    settings = load_settings(instance_id="worker-a")
    assert str(InstanceIdTaken(settings, "driftline-stage1")) == (
        "another worker joined group driftline-stage1 with this worker's instance id "
        "'worker-a', so this one stopped; give each worker its own DRIFTLINE_INSTANCE_ID "
        "(the default, <host name>-<web port>, is unique per host and port)"
    )
