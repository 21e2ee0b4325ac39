"""Drift incidents: the lifecycle a pager acts on, derived from a model's window results.

Per-window drift events say "this window drifted"; a drift that lasts an hour gives one
per window. An incident groups them: ``opened`` on the first drifted window, ``updated``
only when the set of drifted features or the severity changes, ``resolved`` after
``resolve_after`` consecutive ok windows. Each model has at most one open incident.

Which windows count (fed in event-time order, one model's results at a time):

* ``drift``: opens an incident, or continues the open one (an ``updated`` event when its
  drifted features or severity differ from the incident's last event), and resets the run
  of ok windows;
* ``ok``: adds one to the run of ok windows; the ``resolve_after``-th resolves;
* ``insufficient_data`` and partial windows (a replay's edges) are not evidence either way:
  they neither open, update nor resolve, and neither add to nor break the run of ok
  windows. A model that stops sending events closes no windows, so its incident stays open.

Ids and determinism. The incident id is ``inc-`` and 16 hex digits of
sha256("incident|model_id|opened_window_id"): the same records give the same incident,
live, in replay and in analyze. Each event has a ``sequence`` (0 for opened); together
with the incident id it identifies the event, so a consumer can drop redelivered copies.

Redelivery. A result for a window the state has seen already (a window closed again after
a restart) gives the event that window gave, again, with the same sequence (the state keeps
the last ``RECENT_EVENTS`` events for this), or nothing when it gave none. The state
(``IncidentState``) is plain data and serialised by ``app.codecs.incident_state``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Literal

from app.pipeline.results import WindowResult
from app.stats.decision import Severity, WindowStatus
from app.windows.spec import WindowSpan

IncidentEventKind = Literal["opened", "updated", "resolved"]
DriftSeverity = Literal["low", "medium", "high"]
_RANK: dict[str, int] = {"low": 1, "medium": 2, "high": 3}
RECENT_EVENTS = 16  # events kept to send again when their window is closed again


def incident_id(model_id: str, opened_window_id: str) -> str:
    text = f"incident|{model_id}|{opened_window_id}"
    return "inc-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class DriftedFeature:
    name: str
    summary: str


@dataclass(frozen=True)
class OpenIncident:
    """An open incident: what its last event said, and the run of ok windows since."""

    incident_id: str
    opened_window_id: str
    opened_span: WindowSpan
    last_drift_window_id: str
    severity: DriftSeverity
    peak_severity: DriftSeverity
    features: tuple[DriftedFeature, ...]  # of the latest drifted window, sorted by name
    drifted_windows: int
    ok_windows: int
    sequence: int  # of the incident's last event


@dataclass(frozen=True)
class IncidentEvent:
    """One lifecycle event: the incident after the window ``span`` / ``window_id``."""

    event: IncidentEventKind
    model_id: str
    model_version: str | None
    baseline_id: str
    window_id: str
    span: WindowSpan
    emitted_at: str
    incident: OpenIncident  # as it stands after this event (resolved: as it was closed)

    @property
    def incident_id(self) -> str:
        return self.incident.incident_id

    @property
    def sequence(self) -> int:
        return self.incident.sequence


@dataclass(frozen=True)
class IncidentState:
    """One model's incident state: the open incident (if any), the last window seen and
    the most recent events, oldest first (for redelivery)."""

    incident: OpenIncident | None = None
    last_window_start_ms: int | None = None
    recent: tuple[IncidentEvent, ...] = ()


@dataclass(frozen=True)
class ClosedWindow:
    """What the lifecycle needs of a window result: a live worker's stage 2 sends this to
    the stage that keeps the incidents (app.stream.incident_stage), not the whole result."""

    model_id: str
    model_version: str | None
    baseline_id: str
    window_id: str
    span: WindowSpan
    emitted_at: str
    status: WindowStatus
    severity: Severity
    drifted_features: tuple[DriftedFeature, ...]  # sorted by name; empty unless drift
    partial: bool = False

    @classmethod
    def of(cls, result: WindowResult) -> ClosedWindow:
        features = tuple(
            sorted(
                (DriftedFeature(f.name, f.summary) for f in result.findings()),
                key=lambda f: f.name,
            )
        )
        return cls(
            result.model_id,
            result.model_version,
            result.baseline_id,
            result.window_id,
            result.span,
            result.emitted_at,
            result.status,
            result.severity,
            features,
            result.partial,
        )


def _severity(window: ClosedWindow) -> DriftSeverity:
    s = window.severity
    if s == "none":  # a drifted window always has one; keep the type honest
        raise ValueError(f"drifted window {window.window_id} without severity")
    return s


def step(
    state: IncidentState, window: WindowResult | ClosedWindow, resolve_after: int
) -> tuple[IncidentState, IncidentEvent | None]:
    """The state after ``window`` (the model's next window in event-time order) and the
    lifecycle event it gives, if any."""
    result = window if isinstance(window, ClosedWindow) else ClosedWindow.of(window)
    if resolve_after < 1:
        raise ValueError(f"resolve_after must be at least 1, got {resolve_after}")
    start = result.span.start_ms
    last = state.last_window_start_ms
    if last is not None and start <= last:
        # Seen already: a window closed again (restart) gives its event again.
        return state, next((e for e in state.recent if e.span.start_ms == start), None)
    incident, kind = _next(state.incident, result, resolve_after)
    event = None
    if kind is not None:
        assert incident is not None
        event = IncidentEvent(
            kind,
            result.model_id,
            result.model_version,
            result.baseline_id,
            result.window_id,
            result.span,
            result.emitted_at,
            incident,
        )
    if kind == "resolved":
        incident = None
    recent = state.recent if event is None else (*state.recent, event)[-RECENT_EVENTS:]
    return IncidentState(incident, start, recent), event


def _next(
    incident: OpenIncident | None, result: ClosedWindow, resolve_after: int
) -> tuple[OpenIncident | None, IncidentEventKind | None]:
    if result.partial or result.status == "insufficient_data":
        return incident, None
    if result.status == "ok":
        if incident is None:
            return None, None
        incident = replace(incident, ok_windows=incident.ok_windows + 1)
        if incident.ok_windows >= resolve_after:
            return replace(incident, sequence=incident.sequence + 1), "resolved"
        return incident, None
    severity = _severity(result)
    features = result.drifted_features
    if incident is None:
        wid = result.window_id
        opened = OpenIncident(
            incident_id(result.model_id, wid),
            wid,
            result.span,
            wid,
            severity,
            severity,
            features,
            drifted_windows=1,
            ok_windows=0,
            sequence=0,
        )
        return opened, "opened"
    changed = severity != incident.severity or [f.name for f in features] != [
        f.name for f in incident.features
    ]
    peak = severity if _RANK[severity] > _RANK[incident.peak_severity] else incident.peak_severity
    incident = replace(
        incident,
        last_drift_window_id=result.window_id,
        severity=severity,
        peak_severity=peak,
        features=features,
        drifted_windows=incident.drifted_windows + 1,
        ok_windows=0,
        sequence=incident.sequence + (1 if changed else 0),
    )
    return incident, "updated" if changed else None


class IncidentTracker:
    """Every model's incident state, for a driver that closes windows of many models
    (analyze, replay): feed each result in close order. A live worker closes a model's
    windows out of order and puts them back in order first (app.pipeline.live_incidents)."""

    def __init__(self, resolve_after: int) -> None:
        if resolve_after < 1:
            raise ValueError(f"resolve_after must be at least 1, got {resolve_after}")
        self.resolve_after = resolve_after
        self.states: dict[str, IncidentState] = {}

    def on_result(self, result: WindowResult) -> IncidentEvent | None:
        state = self.states.get(result.model_id, IncidentState())
        state, event = step(state, result, self.resolve_after)
        self.states[result.model_id] = state
        return event
