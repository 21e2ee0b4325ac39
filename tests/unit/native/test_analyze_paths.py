"""``driftline analyze`` over JSONL gives the same documents, summary and invalid-line
reports with the native path as with the pure-Python one."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

import app.pipeline.analyze as analyze_module
from app.native.loader import load
from app.pipeline.analyze import AnalyzeOptions, analyze
from app.windows.spec import WindowSpec
from tests.unit.native.test_same_outcomes import MODEL, START_MS, _baseline, _typical

pytestmark = pytest.mark.skipif(load() is None, reason="the native extension is not built")


Outcome = tuple[list[bytes], list[tuple[int, str, str]], tuple[object, ...]]


def _run(path: Path, native: bool, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    reports: list[tuple[int, str, str]] = []
    with monkeypatch.context() as patch:
        # The wall clock "when read" (in the future bound's message) is pinned.
        patch.setattr(time, "time_ns", lambda: (START_MS + 3_600_000) * 10**6)
        if not native:
            patch.setattr(analyze_module, "load", lambda: None)
        result = analyze(
            path,
            _baseline(),
            AnalyzeOptions(WindowSpec(60_000, 10_000), emitted_at_ms=START_MS + 10**8),
            on_invalid=lambda line, reason, message: reports.append((line, reason, message)),
        )
    s = result.summary
    return (
        [d.data for d in result.documents],
        reports,
        (s.records, s.events, s.windows, s.alerts, s.late_events, s.first_event_ms,
         s.last_event_ms, dict(s.invalid), dict(s.skipped)),
    )  # fmt: skip


def test_analyze_jsonl_is_the_same_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [_typical(i) for i in range(1500)]
    lines[3] = b"   "  # blank: not a record
    lines[10] = b'{"model_id": "' + MODEL.encode() + b'"'  # invalid
    lines[11] = _typical(11, model_id="someone-else")  # skipped
    lines[12] = _typical(12, timestamp=START_MS - 3_600_000)  # late
    lines[13] = _typical(13, timestamp=START_MS + 10**10)  # in the future
    lines[900] = _typical(900, features={"amount": "1.5", "brand_new": 1})
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\r\n")
    fast = _run(path, True, monkeypatch)
    slow = _run(path, False, monkeypatch)
    assert fast == slow
    documents, reports, summary = fast
    assert [(line, reason) for line, reason, _ in reports] == [
        (11, "invalid_json"),
        (14, "timestamp_in_future"),
    ]
    # records (the blank line is none); events (the invalid, future and other model's not)
    assert summary[:2] == (1499, 1496)
    assert sum(orjson.loads(d)["n_events"] for d in documents if b'"window_result"' in d) > 0


def test_lines_cut_across_chunks_are_the_same_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The extension splits a chunk of lines itself: chunks of ~1 kB cut every few lines,
    # with CRLF and LF endings, an empty line, an invalid one and no final newline.
    import app.native.jsonl as jsonl
    from app.native.folder import NativeFolder, NativeRun

    lines = [_typical(i) + (b"\r\n" if i % 3 == 0 else b"\n") for i in range(600)]
    lines[5] = b"\n"
    lines[7] = b"{not json}\n"
    lines[-1] = lines[-1].rstrip()
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(lines))
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 1000)
    taken: list[int] = []
    fold = NativeFolder.fold

    def counting(self: NativeFolder, *args: object, **kwargs: object) -> NativeRun | None:
        run = fold(self, *args, **kwargs)  # type: ignore[arg-type]
        if run is not None:
            taken.append(run.stop - run.begin)
        return run

    monkeypatch.setattr(NativeFolder, "fold", counting)
    fast = _run(path, True, monkeypatch)
    assert sum(taken) > 500  # the extension took most lines, in many chunks
    slow = _run(path, False, monkeypatch)
    assert fast == slow
    assert [(line, reason) for line, reason, _ in fast[1]] == [(8, "invalid_json")]
    assert fast[2][:2] == (599, 598)
