"""``driftline report --from/--to``: a time range of the real windows topic (and the drift
events on the alerts topic) into the HTML page, exactly the windows starting in range."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

import orjson

from tests.integration.conftest import DriftlineCLI
from tests.integration.streamkit import produce
from tests.unit.report.conftest import golden_docs, shifted

GOLDEN = golden_docs()
WINDOW = next(d for d in GOLDEN if d["kind"] == "window_result" and d["status"] == "drift")
EVENT = next(d for d in GOLDEN if d["kind"] == "drift_event")
STATUSES = ["ok", "drift", "ok", "drift", "ok", "ok"]


def _window_ids(html: str) -> list[str]:
    return re.findall(r'data-window-id="(win-[0-9a-f]{16})"', html)


async def test_the_report_holds_exactly_the_windows_starting_in_the_range(
    driftline: DriftlineCLI, topic_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    created = driftline.run(["topics", "create"], topic_env)
    assert created.returncode == 0, created.stderr
    windows = [shifted(WINDOW, i, status=s) for i, s in enumerate(STATUSES)]
    # A drift event for window 3 (in range) and one for window 1 (before it).
    events = []
    for i in (1, 3):
        event = dict(EVENT, window_id=windows[i]["window_id"], window=windows[i]["window"])
        events.append(event)
    # Written out of window order, over partitions, as several workers would.
    order = [4, 0, 2, 5, 1, 3]
    await produce(
        kafka_bootstrap,
        topic_env["DRIFTLINE_TOPIC_WINDOWS"],
        [orjson.dumps(windows[i]) for i in order],
        partitions=[i % 4 for i in order],
    )
    await produce(
        kafka_bootstrap, topic_env["DRIFTLINE_TOPIC_ALERTS"], [orjson.dumps(e) for e in events]
    )
    out = tmp_path / "range.html"
    run = driftline.run(
        [
            "report", "--from", windows[2]["window"]["start"],
            "--to", windows[5]["window"]["start"], "-o", str(out),
        ],
        topic_env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    html = out.read_text()
    # Each window detailed once, in time order: windows 2, 3 and 4 (5 starts at --to).
    assert _window_ids(html) == [windows[i]["window_id"] for i in (2, 3, 4)]
    # Window 3's drift event is in: its features' summaries are shown.
    summary = next(f["summary"] for f in EVENT["drifted_features"] if f.get("summary"))
    assert html.count(f'<p class="summary">{escape(summary)}</p>') == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last == (
        "report: 1 model, 3 windows (1 drifted, 1 incident, 3 detailed), 1 drift event, "
        f"4 other documents left out -> {out}"
    )
    assert f"report: reading {topic_env['DRIFTLINE_TOPIC_WINDOWS']}" in run.stderr


def test_a_topic_that_does_not_exist_is_one_line(
    driftline: DriftlineCLI, topic_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "none.html"
    missing = topic_env["DRIFTLINE_TOPIC_WINDOWS"] + "-missing"
    run = driftline.run(
        ["report", "--from", "earliest", "--topic", missing, "-o", str(out), "--no-progress"],
        topic_env,
    )
    assert run.returncode == 2
    assert run.stderr == (
        f"driftline: error: topic {missing!r} does not exist; run `driftline topics create`\n"
    )
    assert not out.exists()
