"""What the live page holds per model: its window results, the drift events and the
incident lifecycle events of the alerts topic. Pure: documents in, views out.

A window result seen twice (a worker's at-least-once delivery, a replay run again) is kept
once, the last one read winning, as in the report. Each model keeps its latest
``max_windows`` windows (by window start), so a long-running page stays small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from app.report.incidents import find_incidents

WINDOW_RESULT: Final = "window_result"
DRIFT_EVENT: Final = "drift_event"
INCIDENT: Final = "incident"
MAX_WINDOWS: Final = 1000


def _start(doc: Mapping[str, Any]) -> tuple[int, int]:
    return int(doc["window"]["start_ms"]), int(doc["window"]["end_ms"])


@dataclass
class ModelState:
    model_id: str
    windows: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # by window id
    events: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # by window id
    incidents: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # latest, by id

    def ordered(self) -> list[Mapping[str, Any]]:
        """The windows, oldest first."""
        return sorted(self.windows.values(), key=_start)


@dataclass(frozen=True)
class OpenIncident:
    """An incident not resolved: from its lifecycle events when the alerts topic carries
    them (replay, analyze), else the run of drifted windows that reaches the latest one."""

    incident_id: str | None
    since: str  # start of its first window
    until: str  # end of its latest drifted window
    n_windows: int
    severity: str | None
    features: tuple[str, ...]


class LiveState:
    """Every model's documents; ``version`` grows with each change, so a page that polls
    it knows when to fetch again."""

    def __init__(self, max_windows: int = MAX_WINDOWS) -> None:
        self.max_windows = max_windows
        self.models: dict[str, ModelState] = {}
        self.version = 0
        self.skipped = 0  # documents of another kind, or not documents

    def add(self, doc: object) -> bool:
        """Take one decoded document; True when the state changed."""
        if not isinstance(doc, dict) or not isinstance(doc.get("model_id"), str):
            self.skipped += 1
            return False
        kind = doc.get("kind")
        try:
            changed = self._add(kind, doc)
        except (KeyError, TypeError, ValueError):
            changed = None  # a document missing what the page needs
        if changed is None:
            self.skipped += 1
            return False
        if changed:
            self.version += 1
        return changed

    def _add(self, kind: object, doc: dict[str, Any]) -> bool | None:
        if kind == WINDOW_RESULT:
            _start(doc)  # raises on a window without its times
            if not isinstance(doc["features"], list):
                return None
            model = self._model(doc["model_id"])
            if model.windows.get(doc["window_id"]) == doc:
                return False
            model.windows[doc["window_id"]] = doc
            self._trim(model)
            return doc["window_id"] in model.windows
        if kind == DRIFT_EVENT:
            model = self._model(doc["model_id"])
            model.events[str(doc["window_id"])] = doc
            return True
        if kind == INCIDENT:
            model = self._model(doc["model_id"])
            held = model.incidents.get(doc["incident_id"])
            if held is not None and int(held["sequence"]) >= int(doc["sequence"]):
                return False  # an older (or the same) event of it arrived late
            model.incidents[str(doc["incident_id"])] = doc
            return True
        return None

    def _model(self, model_id: str) -> ModelState:
        return self.models.setdefault(model_id, ModelState(model_id))

    def _trim(self, model: ModelState) -> None:
        if len(model.windows) <= self.max_windows:
            return
        for doc in model.ordered()[: len(model.windows) - self.max_windows]:
            del model.windows[doc["window_id"]]
            model.events.pop(doc["window_id"], None)

    def model_ids(self) -> list[str]:
        return sorted(m for m, s in self.models.items() if s.windows)

    def windows(self, model_id: str) -> list[Mapping[str, Any]]:
        model = self.models.get(model_id)
        return model.ordered() if model else []

    def window(self, model_id: str, window_id: str) -> Mapping[str, Any] | None:
        model = self.models.get(model_id)
        return model.windows.get(window_id) if model else None

    def event(self, model_id: str, window_id: str) -> Mapping[str, Any] | None:
        model = self.models.get(model_id)
        return model.events.get(window_id) if model else None

    def open_incidents(self, model_id: str) -> list[OpenIncident]:
        model = self.models.get(model_id)
        if model is None:
            return []
        if model.incidents:
            return [
                OpenIncident(
                    incident_id=doc["incident_id"],
                    since=doc["opened_window"]["start"],
                    until=doc["window"]["end"],
                    n_windows=int(doc["drifted_windows"]),
                    severity=doc.get("peak_severity"),
                    features=tuple(f["name"] for f in doc["drifted_features"]),
                )
                for doc in sorted(model.incidents.values(), key=_start)
                if doc["event"] != "resolved"
            ]
        return _derived_open(model.ordered())

    def summary(self) -> list[dict[str, Any]]:
        """The models list: per model its window count, drifted count, latest window and
        open incidents."""
        rows = []
        for model_id in self.model_ids():
            windows = self.windows(model_id)
            latest = windows[-1]
            rows.append(
                {
                    "model_id": model_id,
                    "n_windows": len(windows),
                    "n_drifted": sum(1 for w in windows if w["status"] == "drift"),
                    "latest_start": latest["window"]["start"],
                    "latest_status": latest["status"],
                    "open_incidents": len(self.open_incidents(model_id)),
                }
            )
        return rows


def _derived_open(windows: Sequence[Mapping[str, Any]]) -> list[OpenIncident]:
    incidents = find_incidents(windows)
    if not incidents or incidents[-1].last != len(windows) - 1:
        return []
    last = incidents[-1]
    return [
        OpenIncident(
            incident_id=None,
            since=last.start,
            until=last.end,
            n_windows=last.n_windows,
            severity=last.max_severity,
            features=last.features,
        )
    ]
