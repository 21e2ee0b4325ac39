"""Metric families whose first label is the model, kept as plain numbers and rendered to
the Prometheus text format (0.0.4) without ``prometheus_client``'s collector.

Why not ``prometheus_client`` children: with 1,000 models its ``generate_latest`` built
~20,000 ``Sample`` tuples per scrape (130-180 ms of Python), and that many live tracked
objects set off a full garbage collection (60 ms with the GIL held) in the middle of it,
so the event loop stalled even with the render in a thread. Here a model's sample lines
are text cached until the model's next update, and a scrape joins bytes: nothing it
allocates is tracked by the garbage collector beyond one list per family.

The output is what ``prometheus_client`` writes for the same values (label names sorted,
values through its ``floatToGoString``, label values escaped alike); a unit test compares.
Used from the event loop only (updates and the scrape), so there is no lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from prometheus_client.utils import floatToGoString

Kind = Literal["counter", "gauge", "histogram"]


def go_float(value: float) -> str:
    """A sample value as ``prometheus_client`` writes it (Go's float format)."""
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]  # untyped upstream
    return text


def escape_label_value(value: str) -> str:
    """A label value as the text format quotes it (as ``prometheus_client`` escapes)."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


class ModelFamily:
    """One family, labelled ``model`` and ``labels``; values per model and label values."""

    def __init__(
        self,
        name: str,
        documentation: str,
        kind: Kind,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = (),
    ) -> None:
        self.kind = kind
        self.labels = tuple(labels)
        self.sample = f"{name}_total" if kind == "counter" else name
        help_text = documentation.replace("\\", r"\\").replace("\n", r"\n")
        self.header = f"# HELP {self.sample} {help_text}\n# TYPE {self.sample} {kind}\n".encode()
        self.buckets = (*buckets, float("inf")) if kind == "histogram" else ()
        self._le = [go_float(b) for b in self.buckets]
        # model -> label values after the model -> value (histogram: bucket counts, sum)
        self._values: dict[str, dict[tuple[str, ...], list[float]]] = {}
        self._text: dict[str, bytes] = {}  # model -> its sample lines, until it changes

    # -- updates -------------------------------------------------------------------------
    def _cell(self, model: str, rest: tuple[str, ...]) -> list[float]:
        self._text.pop(model, None)
        cells = self._values.setdefault(model, {})
        cell = cells.get(rest)
        if cell is None:
            if len(rest) != len(self.labels):
                raise ValueError(f"{self.sample}: labels {self.labels}, got {rest}")
            cell = cells[rest] = [0.0] * (len(self.buckets) + 1 if self.buckets else 1)
        return cell

    def inc(self, model: str, rest: tuple[str, ...] = (), n: float = 1.0) -> None:
        if n < 0:
            raise ValueError("counters only go up")
        self._cell(model, rest)[0] += n

    def set(self, model: str, rest: tuple[str, ...], value: float) -> None:
        self._cell(model, rest)[0] = value

    def observe(self, model: str, value: float, rest: tuple[str, ...] = ()) -> None:
        cell = self._cell(model, rest)
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                cell[i] += 1  # per bucket; made cumulative when rendered
                break
        cell[-1] += value

    def remove_model(self, model: str) -> None:
        self._values.pop(model, None)
        self._text.pop(model, None)

    def models(self) -> list[str]:
        return sorted(self._values)

    def __len__(self) -> int:
        """Models with a series."""
        return len(self._values)

    # -- exposition ----------------------------------------------------------------------
    def model_text(self, model: str) -> bytes:
        """The model's sample lines (cached until its next update)."""
        text = self._text.get(model)
        if text is None:
            text = self._text[model] = self._render(model)
        return text

    def _render(self, model: str) -> bytes:
        m = escape_label_value(model)
        out: list[str] = []
        for rest, cell in self._values.get(model, {}).items():
            pairs = sorted(
                [("model", m), *zip(self.labels, map(escape_label_value, rest), strict=True)]
            )
            if not self.buckets:
                out.append(f"{self.sample}{_labels(pairs)} {go_float(cell[0])}\n")
                continue
            total = 0.0
            for le, count in zip(self._le, cell, strict=False):
                total += count
                with_le = sorted([*pairs, ("le", le)])
                out.append(f"{self.sample}_bucket{_labels(with_le)} {go_float(total)}\n")
            out.append(f"{self.sample}_count{_labels(pairs)} {go_float(total)}\n")
            out.append(f"{self.sample}_sum{_labels(pairs)} {go_float(cell[-1])}\n")
        return "".join(out).encode()


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}"
