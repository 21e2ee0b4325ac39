"""Errors that mean "the user gave us something wrong": printed as one line, no traceback."""

from __future__ import annotations


class DriftlineError(Exception):
    """A user-facing error. ``str(err)`` is the whole message an operator sees."""


class InputError(DriftlineError):
    """Bad input data: names the file, the line (text formats) or the 1-based row (Parquet,
    which has no lines), and the column or field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        if line is not None and row is not None:
            raise ValueError("an input error names a line or a row, not both")
        self.path = path
        self.line = line
        self.row = row
        self.field = field
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


class SettingsError(DriftlineError):
    """A ``DRIFTLINE_*`` variable (or the command-line option that overrides it) holds a value
    the setting cannot take. One line per command run, naming the variable and what it expects."""
