"""A live worker's drift incidents: one model's windows put back in event-time order.

Offline, ``analyze`` and ``replay`` close each model's windows in order and feed them to
``app.pipeline.incidents.step`` as they close. A live worker cannot: stage 2 merges each
(model, window) on the partials partition ``crc32(model|window start) % partitions``, so a
model's consecutive windows close on different stage-2 partitions, possibly on different
workers, in any order. Stage 3 (app.stream.incident_stage) puts them back in order with
this logic, per model, from two kinds of report each stage-2 partition q sends:

* ``closed``: q closed a window of the model (the parts of its result the lifecycle needs,
  ``ClosedWindow``);
* ``progress``: q will emit no more results of the model for windows ending at or before
  ``closed_through_ms`` (the merger's ``closed_through``). q sends it after the ``closed``
  reports of the windows it covers, on the same partition of the same topic, so when it
  arrives those reports have arrived.

A window of the model is final when every stage-2 partition's progress has passed its end:
its result, if it has one, has arrived, and no earlier window of the model can still come.
The windows that are final are applied to the model's ``IncidentState`` in start order,
each exactly once (the state's ``last_window_start_ms``), which is the order analyze and
replay use: the same records give the same incident ids, events and sequences.

Idempotence, for redelivery after a restart: progress is kept as the largest value seen
per stage-2 partition (a copy or an older value changes nothing); a ``closed`` report
replaces the one kept for its window (a stage 2 that closed a window again after a SIGKILL
sends a copy that differs only in ``emitted_at``), and one for a window already applied
is dropped (its lifecycle event went out when it was applied).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from app.pipeline.incidents import ClosedWindow, IncidentEvent, IncidentState, step


@dataclass(frozen=True)
class ModelLifecycle:
    """Stage 3's state of one model: each stage-2 partition's progress, the closed
    windows not yet final, and the incident state."""

    progress: dict[int, int] = field(default_factory=dict)  # stage-2 partition -> ms
    pending: dict[int, ClosedWindow] = field(default_factory=dict)  # window start -> window
    incidents: IncidentState = field(default_factory=IncidentState)

    def final_through(self, partitions: int) -> int | None:
        """Every window of the model ending at or before this is final (None until every
        stage-2 partition has reported progress)."""
        if any(q not in self.progress for q in range(partitions)):
            return None
        return min(self.progress[q] for q in range(partitions))


def on_closed(
    state: ModelLifecycle, window: ClosedWindow, partitions: int, resolve_after: int
) -> tuple[ModelLifecycle, list[IncidentEvent]]:
    """A stage-2 partition closed ``window``: keep it until it is final (or apply it now,
    with any other final ones, if the progress already covers it)."""
    last = state.incidents.last_window_start_ms
    if last is not None and window.span.start_ms <= last:
        return state, []  # applied already: a copy, redelivered or closed again
    pending = {**state.pending, window.span.start_ms: window}
    return _advance(replace(state, pending=pending), partitions, resolve_after)


def on_progress(
    state: ModelLifecycle,
    source: int,
    closed_through_ms: int,
    partitions: int,
    resolve_after: int,
) -> tuple[ModelLifecycle, list[IncidentEvent]]:
    """Stage-2 partition ``source`` has closed the model's windows ending at or before
    ``closed_through_ms``: apply the windows that are now final, in order."""
    if not 0 <= source < partitions:
        raise ValueError(f"progress from stage-2 partition {source}, expected < {partitions}")
    current = state.progress.get(source)
    if current is not None and closed_through_ms <= current:
        return state, []
    progress = {**state.progress, source: closed_through_ms}
    return _advance(replace(state, progress=progress), partitions, resolve_after)


def _advance(
    state: ModelLifecycle, partitions: int, resolve_after: int
) -> tuple[ModelLifecycle, list[IncidentEvent]]:
    final = state.final_through(partitions)
    if final is None:
        return state, []
    ready = sorted(s for s, w in state.pending.items() if w.span.end_ms <= final)
    if not ready:
        return state, []
    incidents = state.incidents
    events: list[IncidentEvent] = []
    for start in ready:
        incidents, event = step(incidents, state.pending[start], resolve_after)
        if event is not None:
            events.append(event)
    pending = {s: w for s, w in state.pending.items() if s not in ready}
    return replace(state, pending=pending, incidents=incidents), events
