"""A fetch's record values as spans of its bytes (``split_records``): a value becomes a
``bytes`` object only when Python asks for it (a record the extension left to the Python
path, a dead letter); the extension's fold reads the spans directly."""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import Final, overload

NULL: Final = 0xFFFF_FFFF  # both ends of a null value's span
_SPAN: Final = struct.Struct("<II")


class SpanValues(Sequence[bytes | None]):
    """``raw[start:end]`` for each little-endian u32 pair in ``spans`` (None for null)."""

    __slots__ = ("raw", "spans")

    def __init__(self, raw: bytes, spans: bytes) -> None:
        self.raw = raw
        self.spans = spans

    def __len__(self) -> int:
        return len(self.spans) // _SPAN.size

    @overload
    def __getitem__(self, i: int) -> bytes | None: ...

    @overload
    def __getitem__(self, i: slice) -> SpanValues: ...

    def __getitem__(self, i: int | slice) -> bytes | SpanValues | None:
        n = len(self)
        if isinstance(i, slice):
            start, stop, step = i.indices(n)
            if step != 1:
                raise ValueError("SpanValues slices are contiguous")
            stop = max(start, stop)
            return SpanValues(self.raw, self.spans[start * _SPAN.size : stop * _SPAN.size])
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        start, end = _SPAN.unpack_from(self.spans, i * _SPAN.size)
        return None if start == NULL else self.raw[start:end]

    def __iter__(self) -> Iterator[bytes | None]:
        raw = self.raw
        for start, end in _SPAN.iter_unpack(self.spans):
            yield None if start == NULL else raw[start:end]

    @property
    def packed(self) -> tuple[bytes, bytes]:
        """What the extension's fold takes: (the fetch's bytes, the spans)."""
        return self.raw, self.spans
