"""``driftline ui`` on the real broker beside a real worker: the page loads in headless
chromium with no JavaScript error and every chart drawn, and a window that closes while
the page is open appears in it, with the numbers of its window result."""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import orjson

from app.demo.traffic import Drift, events
from app.report.figures import histogram_cells
from tests.browser import LivePage
from tests.integration.conftest import DriftlineCLI
from tests.integration.stream_scenario import (
    MODEL,
    PER_WINDOW,
    WINDOW_S,
    WINDOWS,
    closing_events,
    scenario_events,
    window_start,
)
from tests.integration.streamkit import docs, produce, read_topic, wait_http
from tests.integration.test_stream_e2e import prepare

# Set to a path to keep the screenshot (README's docs/ui.png is made this way).
SCREENSHOT_ENV = "DRIFTLINE_UI_SCREENSHOT"
# The window that closes while the page is open: a drifted one, two windows after the
# scenario's last (far enough ahead that the worker's idle clock cannot have passed it).
NEXT = WINDOWS + 2

# What the page shows, read from its DOM in one go.
READ_PAGE = """(() => {
  const rows = [...document.querySelectorAll("#windows tbody tr[data-window-id]")];
  const detail = document.getElementById("window");
  const features = [...detail.querySelectorAll(".feature")].map(f => ({
    name: f.dataset.feature,
    points: f.querySelectorAll(".histogram .point").length,
    drawn: f.querySelectorAll(".histogram .main-svg").length,
    stats: Object.fromEntries([...f.querySelectorAll("tr[data-stat]")].map(
      tr => [tr.dataset.stat, tr.querySelector("td").dataset.value ?? null])),
  }));
  return {
    rows: rows.map(tr => ({
      window_id: tr.dataset.windowId,
      status: tr.querySelector('[data-field="status"]').textContent,
      severity: tr.querySelector('[data-field="severity"]').textContent,
      n_events: tr.querySelector('[data-field="n_events"]').dataset.value,
    })),
    detail: detail.dataset.windowId || null,
    features: features,
    timeline: document.querySelectorAll("#timeline .main-svg").length,
    heatmap: document.querySelectorAll("#timeline .hm").length,
    incidents: document.querySelectorAll("#incidents tr.incident").length,
    errorBoxHidden: document.getElementById("ui-errors").hidden,
  };
})()"""


def _url(log: Path, timeout_s: float = 60.0) -> str:
    """The page's address, from the line `driftline ui` prints once it serves."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.search(r"^ui: (http://127\.0\.0\.1:\d+/) ", log.read_text(), re.M)
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise TimeoutError(f"driftline ui did not start: {log.read_text()}")


def _next_window_events() -> list[bytes]:
    drift = Drift(start_ms=window_start(NEXT), end_ms=window_start(NEXT + 1))
    spacing = WINDOW_S * 1000 / PER_WINDOW
    values = [
        orjson.dumps(e)
        for e in events(MODEL, window_start(NEXT), PER_WINDOW, spacing, seed=5, drift=drift)
    ]
    return values + closing_events(values, NEXT + 1)


def _check_shown(page: dict[str, Any], result: dict[str, Any]) -> None:
    """The page's row and detail of ``result`` hold exactly its numbers."""
    row = next(r for r in page["rows"] if r["window_id"] == result["window_id"])
    assert (row["status"], row["n_events"]) == (result["status"], str(result["n_events"]))
    assert row["severity"] == (result["severity"] if result["severity"] else "-")
    assert page["detail"] == result["window_id"]
    shown = {f["name"]: f for f in page["features"]}
    assert list(shown) == [f["name"] for f in result["features"]]
    for feature in result["features"]:
        on_page = shown[feature["name"]]
        if feature["histogram"] is not None:
            labels, _, _ = histogram_cells(feature["histogram"])
            assert on_page["drawn"] >= 1, feature["name"]
            assert on_page["points"] == 2 * len(labels), feature["name"]
        assert on_page["stats"]["n"] == str(feature["n"])
        for key, value in feature["stats"].items():
            assert on_page["stats"][key] is not None and float(on_page["stats"][key]) == value
        for key in ("p_value", "p_value_adjusted"):
            if feature[key] is None:
                assert on_page["stats"][key] is None
            else:
                assert float(on_page["stats"][key]) == feature[key]


async def test_the_live_page_draws_the_windows_and_shows_one_that_closes_while_open(
    driftline: DriftlineCLI,
    stream_env: dict[str, str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    env = stream_env
    prepare(driftline, env, tmp_path)
    values = scenario_events()
    await produce(
        kafka_bootstrap,
        env["DRIFTLINE_TOPIC_PREDICTIONS"],
        values,
        partitions=[i % 4 for i in range(len(values))],
    )
    worker = driftline.start(["worker"], tmp_path / "worker", env)
    wait_http(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/ready", timeout_s=90)
    first = docs(
        await read_topic(
            kafka_bootstrap,
            env["DRIFTLINE_TOPIC_WINDOWS"],
            until=lambda recs: len(recs) >= WINDOWS,
            timeout_s=150,
        )
    )
    assert len(first) == WINDOWS
    first.sort(key=lambda r: r["window"]["start_ms"])

    ui = driftline.start(["ui", "--port", "0", "--since", "1h"], tmp_path / "ui", env)
    url = _url(tmp_path / "ui" / "stderr.log")
    page = LivePage(tmp_path / "profile")
    try:
        await page.open(url)
        await page.wait_for(
            f"document.querySelectorAll('#windows tbody tr').length === {WINDOWS} && "
            "document.querySelectorAll('#window .feature').length > 0 && "
            "document.querySelectorAll('#window .histogram .main-svg').length > 0 && "
            "document.querySelectorAll('#incidents tr.incident').length > 0"
        )
        shown = await page.evaluate(READ_PAGE)
        assert page.errors == []
        assert shown["errorBoxHidden"] is True
        assert (shown["timeline"] >= 1, shown["heatmap"]) == (True, 1)
        # Newest first, the latest window detailed.
        assert [r["window_id"] for r in shown["rows"]] == [r["window_id"] for r in first[::-1]]
        _check_shown(shown, first[-1])
        # The worker's incident, opened by the drifted window: one ok window after it does
        # not resolve it (DRIFTLINE_RESOLVE_AFTER_WINDOWS, default 3).
        assert shown["incidents"] == 1

        # One more window closes while the page is open.
        await produce(
            kafka_bootstrap,
            env["DRIFTLINE_TOPIC_PREDICTIONS"],
            (more := _next_window_events()),
            partitions=[i % 4 for i in range(len(more))],
        )
        results = docs(
            await read_topic(
                kafka_bootstrap,
                env["DRIFTLINE_TOPIC_WINDOWS"],
                until=lambda recs: len(recs) >= WINDOWS + 1,
                timeout_s=120,
            )
        )
        new = next(r for r in results if r["window"]["start_ms"] == window_start(NEXT))
        assert new["status"] == "drift"
        await page.wait_for(
            f"document.getElementById('window').dataset.windowId === '{new['window_id']}' && "
            "document.querySelectorAll('#window .histogram .main-svg').length > 0"
        )
        shown = await page.evaluate(READ_PAGE)
        assert [r["window_id"] for r in shown["rows"]] == [new["window_id"]] + [
            r["window_id"] for r in first[::-1]
        ]
        _check_shown(shown, new)
        assert shown["incidents"] == 1  # the same incident, still open
        assert page.errors == []
        assert (await page.evaluate("document.getElementById('ui-errors').hidden")) is True
        shot = tmp_path / "ui.png"
        await page.screenshot(shot)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        keep = os.environ.get(SCREENSHOT_ENV)
        if keep:
            shutil.copyfile(shot, keep)
    finally:
        await page.close()

    ui.send_signal(signal.SIGINT)
    assert ui.wait(timeout=30) == 0
    assert (tmp_path / "ui" / "stderr.log").read_text().splitlines()[-1] == "ui: stopped"
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
