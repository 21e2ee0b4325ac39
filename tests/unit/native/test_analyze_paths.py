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


def _runs_taken(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """From now on, (begin, stop) of every run the extension takes, in order."""
    from app.native.folder import NativeFolder, NativeRun

    taken: list[tuple[int, int]] = []
    fold = NativeFolder.fold

    def counting(self: NativeFolder, *args: object, **kwargs: object) -> NativeRun | None:
        run = fold(self, *args, **kwargs)  # type: ignore[arg-type]
        if run is not None:
            taken.append((run.begin, run.stop))
        return run

    monkeypatch.setattr(NativeFolder, "fold", counting)
    return taken


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

    lines = [_typical(i) + (b"\r\n" if i % 3 == 0 else b"\n") for i in range(600)]
    lines[5] = b"\n"
    lines[7] = b"{not json}\n"
    lines[-1] = lines[-1].rstrip()
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(lines))
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 1000)
    taken = _runs_taken(monkeypatch)
    fast = _run(path, True, monkeypatch)
    assert sum(stop - begin for begin, stop in taken) > 500  # most lines, in many chunks
    slow = _run(path, False, monkeypatch)
    assert fast == slow
    assert [(line, reason) for line, reason, _ in fast[1]] == [(8, "invalid_json")]
    assert fast[2][:2] == (599, 598)


@pytest.mark.parametrize("seed", range(6))
def test_chunks_folded_on_two_threads_are_the_same_as_one_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # Every chunk of lines is split between two threads (SPLIT_BYTES 1): the helper's half
    # must count only when the first half ran through. Windows close in the middle of
    # chunks, events come late, out of order, from the future and from other models, and
    # blank and invalid lines cut the first half short.
    import random

    import app.native.jsonl as jsonl

    rng = random.Random(seed)
    lines, ts = [], START_MS
    for i in range(2_000):
        ts += rng.choice([0, 250, 250, 250, 1_000, 20_000])  # 60 s windows close now and then
        roll = rng.random()
        if roll < 0.01:
            lines.append(b"")
        elif roll < 0.02:
            lines.append(b"{broken")
        elif roll < 0.04:
            lines.append(_typical(i, timestamp=ts - rng.choice([5_000, 30_000, 300_000])))
        elif roll < 0.05:
            lines.append(_typical(i, model_id="someone-else", timestamp=ts))
        elif roll < 0.055:
            lines.append(_typical(i, timestamp=ts + 10**10))
        else:
            lines.append(_typical(i, timestamp=ts))
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", rng.choice([3_000, 20_000, 200_000]))
    monkeypatch.setattr(jsonl, "SPLIT_BYTES", 1)
    taken = _runs_taken(monkeypatch)
    fast = _run(path, True, monkeypatch)
    slow = _run(path, False, monkeypatch)
    assert fast == slow
    assert sum(stop - begin for begin, stop in taken) > 500  # its share, around the stops
    late = fast[2][4]
    assert isinstance(late, int) and late > 0  # late events reached the Python path


def test_a_helper_threads_half_is_kept_when_the_first_half_runs_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In-order events whose windows close every 240 lines: with chunks split between two
    # threads, the extension's runs are exactly those of one thread (a discarded half
    # would show as a run cut at the middle of a chunk).
    import app.native.jsonl as jsonl

    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(_typical(i) + b"\n" for i in range(3_000)))
    # Lines of 178-198 bytes: a chunk holds at most 282, so a run of more than 145 lines
    # crossed the middle of the lines its call was given.
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 50_000)
    runs: dict[int, list[tuple[int, int]]] = {}
    outcomes = {}
    for split in (1, 1 << 40):
        monkeypatch.setattr(jsonl, "SPLIT_BYTES", split)
        with monkeypatch.context() as patch:
            runs[split] = _runs_taken(patch)
            outcomes[split] = _run(path, True, monkeypatch)
    assert runs[1] == runs[1 << 40]
    assert max(stop - begin for begin, stop in runs[1]) > 145
    assert outcomes[1] == outcomes[1 << 40] == _run(path, False, monkeypatch)


def test_the_command_exits_at_once_with_everything_written(tmp_path: Path) -> None:
    # analyze ends its process without the interpreter's teardown (app.cli.EXIT_NOW): the
    # documents on stdout and in --out, and the summary on stderr, are whole all the same.
    import subprocess
    import sys
    from dataclasses import replace

    import numpy as np

    from app.baseline.codec import baseline_to_dict, compute_baseline_id, dump_baseline
    from tests.factories import MODEL_ID, make_baseline, numeric_from_values

    rng = np.random.default_rng(3)
    base = make_baseline(numeric_from_values("x", rng.normal(size=5_000), ks_cells=200))
    base = replace(base, baseline_id=compute_baseline_id(baseline_to_dict(base)))
    dump_baseline(base, tmp_path / "baseline.json")
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(
        orjson.dumps({"model_id": MODEL_ID, "timestamp": START_MS + i * 250,
                      "features": {"x": float(x)}, "prediction": 0.5}) + b"\n"
        for i, x in enumerate(rng.normal(size=2_000))
    ))  # fmt: skip
    args = [sys.executable, "-m", "app", "analyze", "--input", str(events), "--baseline",
            str(tmp_path / "baseline.json"), "--no-progress", "--emitted-at",
            "2026-12-01T00:00:00Z"]  # fmt: skip
    piped = subprocess.run(args, capture_output=True)
    written = subprocess.run([*args, "--out", str(tmp_path / "out.jsonl")], capture_output=True)
    assert piped.returncode == written.returncode == 0, piped.stderr
    assert piped.stdout == (tmp_path / "out.jsonl").read_bytes() != b""
    assert piped.stdout.count(b"\n") >= 2 and piped.stdout.endswith(b"\n")  # 2 windows
    assert written.stderr.startswith(b"analyze: 2,000 records, 2,000 events")
