"""The two functions of ``scipy.special`` the tests use, imported on first call.

Why: importing ``scipy.special`` takes about 0.16 s (its array-API layer imports much of
numpy), a tenth of a million-event ``analyze``, and nothing needs it before the first
window closes. ``analyze`` calls ``prefetch`` first, so the import runs on another thread
while the extension folds (it releases the GIL to do so).
"""

from __future__ import annotations

import importlib
import threading
from types import ModuleType


def _special() -> ModuleType:
    return importlib.import_module("scipy.special")  # then a lookup in sys.modules


def chdtrc(dof: float, x: float) -> float:
    """The chi-square survival function (``scipy.special.chdtrc``)."""
    return float(_special().chdtrc(dof, x))


def kolmogorov(x: float) -> float:
    """The Kolmogorov distribution's survival function (``scipy.special.kolmogorov``)."""
    return float(_special().kolmogorov(x))


def prefetch() -> threading.Thread:
    """Start importing ``scipy.special`` on another thread. Not a daemon: the interpreter
    waits for it at exit instead of stopping it mid-import."""
    thread = threading.Thread(target=_special, name="import-scipy-special")
    thread.start()
    return thread
