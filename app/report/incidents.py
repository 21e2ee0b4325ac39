"""Incidents: runs of consecutive drifted windows of one model.

A window that is not ``drift`` (``ok`` or ``insufficient_data``) ends a run, and so does a
gap in time: the next result starting after the previous one ended (windows with no
events produce no result, so nothing is known about the gap)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Incident:
    first: int  # index of its first window in the model's (sorted) windows
    last: int  # index of its last window
    start: str  # RFC 3339 start of the first window
    end: str  # RFC 3339 end of the last window
    features: tuple[str, ...]  # every feature that drifted in any of its windows, by name
    max_severity: str | None

    @property
    def n_windows(self) -> int:
        return self.last - self.first + 1


_SEVERITY_ORDER = ("low", "medium", "high", "critical")


def _rank(severity: object) -> int:
    return _SEVERITY_ORDER.index(severity) if severity in _SEVERITY_ORDER else -1


def find_incidents(windows: Sequence[Mapping[str, Any]]) -> list[Incident]:
    """The incidents in ``windows`` (sorted by start), oldest first."""
    runs: list[tuple[int, int]] = []
    for i, doc in enumerate(windows):
        if doc["status"] != "drift":
            continue
        contiguous = (
            runs
            and runs[-1][1] == i - 1
            and windows[i - 1]["window"]["end_ms"] == doc["window"]["start_ms"]
        )
        if contiguous:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    incidents = []
    for first, last in runs:
        docs = windows[first : last + 1]
        names = sorted({f["name"] for d in docs for f in d["features"] if f["drifted"]})
        severities = [d.get("severity") for d in docs]
        worst = max(severities, key=_rank)
        incidents.append(
            Incident(
                first=first,
                last=last,
                start=docs[0]["window"]["start"],
                end=docs[-1]["window"]["end"],
                features=tuple(names),
                max_severity=worst if isinstance(worst, str) else None,
            )
        )
    return incidents
