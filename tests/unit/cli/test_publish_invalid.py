"""``baseline publish`` and ``baseline show`` refuse a baseline that cannot mean anything in
one line naming file, line and field, before any broker is contacted."""

from __future__ import annotations

from pathlib import Path

import orjson

from app.baseline.codec import compute_baseline_id
from tests.unit.baseline.test_codec import sample_doc
from tests.unit.cli.conftest import Run


def _forged(tmp_path: Path) -> tuple[Path, int]:
    doc = sample_doc()
    doc["features"]["__prediction__"].update(counts=[0, 0], count=0, null_count=100)
    doc["baseline_id"] = compute_baseline_id(doc)
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    lines = data.decode().splitlines()
    start = lines.index('    "__prediction__": {')
    line = next(i for i in range(start, len(lines)) if '"counts"' in lines[i]) + 1
    path = tmp_path / "forged.json"
    path.write_bytes(data)
    return path, line


def test_publish_refuses_an_empty_prediction_profile(tmp_path: Path, run_cli: Run) -> None:
    path, line = _forged(tmp_path)
    # Port 1: nothing listens there, so any attempt to publish would fail differently.
    for args in (["baseline", "publish", str(path), "--bootstrap", "127.0.0.1:1"],
                 ["baseline", "show", str(path)]):  # fmt: skip
        out = run_cli(args, {})
        assert (out.code, out.stdout) == (2, "")
        assert out.stderr == (
            f"driftline: error: {path}, line {line}, field '$.features.__prediction__.counts': "
            "every count is 0: the prediction profile has no training values, so every window "
            "would be compared with nothing\n"
        )
