"""Finding the extension: loaded once, unless ``DRIFTLINE_NATIVE=0`` turns it off."""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from typing import Any, Final, Protocol, cast

ENV: Final = "DRIFTLINE_NATIVE"
ABI: Final = 7  # the extension's ``ABI``: the call shapes this wrapper expects

FoldResult = tuple[
    int,
    list[int],
    list[tuple[int, int, int] | None],
    tuple[int, int, int, int] | None,
    list[tuple[str, int]],
    int,
]


class NativeModule(Protocol):
    """What ``driftline_native`` offers (``app/native/src/lib.rs`` documents each)."""

    ABI: int

    def Plan(
        self,
        size: int,
        features: Sequence[tuple[str, tuple[Any, ...]]],
        prediction: tuple[Any, ...] | None,
    ) -> object: ...

    def fold(
        self,
        values: Sequence[bytes | None] | bytes | tuple[bytes, bytes],
        begin: int,
        limits: tuple[int, int, int, int],
        spec: tuple[int, int, int, int],
        models: Sequence[tuple[str, int, int | None]],
        windows: Sequence[tuple[int, int, object, object]],
        only: Sequence[str] | None = None,
        line0: int = 0,
        split_from: int = ...,
    ) -> FoldResult: ...

    def check(self, raw: bytes) -> tuple[str, int] | None: ...

    def number(self, raw: bytes) -> tuple[bool, float, int] | None: ...

    def split_records(
        self, data: bytes, fetch_offset: int, check_crc: bool = True
    ) -> tuple[int, list[int], list[int], list[bytes | None], bytes] | None: ...

    def crc32c(self, data: bytes) -> int: ...

    def sparse_cells(self, data: list[object], n_cells: int) -> bytes | None: ...


_state: dict[str, tuple[NativeModule | None, str]] = {}


def _find() -> tuple[NativeModule | None, str]:
    if os.environ.get(ENV, "1").strip() == "0":
        return None, "off (DRIFTLINE_NATIVE=0): the pure-Python decode-and-bin path"
    try:
        module = importlib.import_module("driftline_native")
    except ImportError:
        return None, (
            "off: the native extension is not built (make setup builds it with cargo); "
            "using the pure-Python decode-and-bin path"
        )
    if getattr(module, "ABI", None) != ABI:
        return None, (
            "off: the native extension is out of date (run make setup); "
            "using the pure-Python decode-and-bin path"
        )
    return cast(NativeModule, module), "on: the native decode-and-bin path (app/native)"


def load() -> NativeModule | None:
    """The extension, or None when it is off or missing (read once per process; tests
    may clear ``_state`` after changing ``DRIFTLINE_NATIVE``)."""
    if "state" not in _state:
        _state["state"] = _find()
    return _state["state"][0]


def status_line() -> str:
    """One line saying whether the native path is used, and why not."""
    load()
    return _state["state"][1]
