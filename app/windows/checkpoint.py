"""Stage 1's checkpoint decisions, without the Kafka I/O that carries them out.

Why a module of its own: these few rules decide exactness (what a snapshot covers, where
a new owner resumes, when a write would overtake a new owner, when a quiet model's clock
may advance by elapsed wall time), yet in ``app.stream.bin_stage`` they sat between
aiokafka calls and could only be exercised against a broker. Here they are plain functions of plain
values, tested exhaustively in ``tests/unit/windows/test_checkpoint.py``; stage 1 asks
them and does the sending, committing and seeking.
"""

from __future__ import annotations

from typing import Final

# Why a due checkpoint is not written (None: write it).
TORN: Final = "last batch was cut short"


def checkpoint_due(
    *,
    pending: int,
    closed: bool,
    since_checkpoint_s: float,
    due_only: bool,
    flush_events: int,
    flush_seconds: float,
) -> bool:
    """Whether a source partition's snapshot is to be written now.

    ``pending``: records folded since its last checkpoint; ``closed``: partials or a
    watermark went out since then. A partition with neither has nothing a snapshot would
    add. Otherwise a forced checkpoint (``due_only`` False: revoke, shutdown) always
    writes; a routine one writes once outputs went out (the next owner must not emit them
    again), enough records piled up, or enough time passed.
    """
    if not (pending or closed):
        return False
    return not due_only or closed or pending >= flush_events or since_checkpoint_s >= flush_seconds


def checkpoint_refusal(*, torn: bool, joined: int | None, current: int | None) -> str | None:
    """Why due snapshots must not be written now, or None when they may.

    ``torn``: a batch was cut short (error, cancellation) and a binner may have advanced
    past outputs it never sent; a snapshot of it would lose them, so the next owner resumes
    from the last whole snapshot instead. ``joined`` is the consumer-group generation the
    partitions came with and ``current`` the consumer's generation now: when they differ
    this worker was dropped from the group (e.g. stalled past the session timeout), its
    partitions may already have a new owner that restored the last snapshot, and a write
    now would overtake it (fencing).
    """
    if torn:
        return TORN
    if current != joined:
        return f"no longer in group generation {joined}"
    return None


def next_offset(applied_offset: int | None) -> int | None:
    """The first input offset a snapshot does not cover: one past its applied offset.

    Both where a restored partition is sought to and what a checkpoint commits (the commit
    only informs lag monitoring), so the two can never disagree. None when nothing was
    applied yet (no snapshot, or an empty one): no seek and no commit, the consumer
    starts where the group's offset reset puts it.
    """
    return None if applied_offset is None else applied_offset + 1


def idle_tick_due(*, idle_for_s: float, idle_seconds: float) -> bool:
    """Whether ``idle_for_s`` seconds without (records, or a check) reach ``idle_seconds``."""
    return idle_for_s >= idle_seconds


def caught_up(position: int | None, high_watermark: int | None) -> bool:
    """Whether a partition's quiet models may advance by elapsed wall time (idleness): only
    when its position is known to be at the end, since a backlog must never be overtaken
    (its events would all turn late)."""
    return position is not None and high_watermark is not None and position >= high_watermark


def input_lag(position: int, high_watermark: int) -> int:
    """Records of a partition not yet read (never negative: the high watermark a consumer
    knows may be older than its position)."""
    return max(0, high_watermark - position)
