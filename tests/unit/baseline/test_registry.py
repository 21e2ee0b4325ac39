from app.baseline.registry import BaselineRegistry
from tests.factories import make_baseline


def test_window_uses_latest_effective_baseline_else_earliest() -> None:
    reg = BaselineRegistry()
    v1 = make_baseline(model_id="m", baseline_id="bl-1")
    v2 = make_baseline(model_id="m", baseline_id="bl-2")
    assert reg.choose("m", 0) is None
    assert reg.add(v2, effective_from_ms=600_000)
    assert reg.add(v1, effective_from_ms=0)
    assert not reg.add(v1, effective_from_ms=0)
    assert reg.choose("m", -300_000) is v1  # before every version: the earliest
    assert reg.choose("m", 300_000) is v1
    assert reg.choose("m", 600_000) is v2  # effective from the window that starts at it
    assert reg.choose("m", 900_000) is v2
    assert reg.choose("other", 0) is None
    assert reg.by_id("bl-2") is v2 and len(reg) == 2
