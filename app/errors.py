"""Errors that mean "the user gave us something wrong": printed as one line, no traceback."""

from __future__ import annotations


class DriftlineError(Exception):
    """A user-facing error. ``str(err)`` is the whole message an operator sees."""


class InputError(DriftlineError):
    """Bad input data: names the file, the line or row, and the column or field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")
