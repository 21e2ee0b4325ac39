"""The report in a real headless browser (Debian's chromium; `make setup` installs it
through deploy/chromium.sh): the page draws every chart, shows the results' numbers, has
no JavaScript error, and its screenshot is not blank.

Fails (never skips) without chromium: the report's promise is a page that works."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np

from app.report.figures import histogram_cells
from app.report.load import load_report_input
from app.report.page import render_page
from tests.browser import browse
from tests.unit.report.conftest import GOLDEN, golden_docs
from tests.unit.report.pngread import read_png

WINDOWS = [d for d in golden_docs() if d["kind"] == "window_result"]
# Set to a path to keep the screenshot (README's docs/report.png is made this way).
SCREENSHOT_ENV = "DRIFTLINE_REPORT_SCREENSHOT"


def _browse(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return browse(page.as_uri(), profile, *args)


def _console_errors(stderr: str) -> list[str]:
    # Chromium logs page console messages as ...:CONSOLE(line)] "text", source: ...
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class _Dom(HTMLParser):
    """Per chart div: how many plotly ``main-svg`` it holds and how many bar ``point``s;
    per statistics row: its exact ``data-value``; the error box's text."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []  # (tag, chart id it opens)
        self.chart: str | None = None
        self.charts: dict[str, dict[str, int]] = {}
        self.window: str | None = None
        self.feature: str | None = None
        self.values: dict[tuple[str, str, str], str | None] = {}
        self.stat: str | None = None
        self.in_errors = False
        self.errors = ""
        self.error_box_hidden: bool | None = None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if self.stack and self.stack[-1][0] == tag:
            self.handle_endtag(tag)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        opened: str | None = None
        if tag == "div" and "plotly-graph-div" in classes and a.get("id"):
            opened = self.chart = str(a["id"])
            self.charts[opened] = {"main-svg": 0, "point": 0, "heatmap": 0}
        if self.chart is not None:
            if "main-svg" in classes:
                self.charts[self.chart]["main-svg"] += 1
            if "point" in classes:
                self.charts[self.chart]["point"] += 1
            if "hm" in classes:
                self.charts[self.chart]["heatmap"] += 1
        if a.get("data-window-id"):
            self.window = a["data-window-id"]
        if a.get("data-feature"):
            self.feature = a["data-feature"]
        if tag == "tr" and a.get("data-stat"):
            self.stat = a["data-stat"]
        if tag == "td" and self.stat is not None and self.window and self.feature:
            self.values[(self.window, self.feature, self.stat)] = a.get("data-value")
            self.stat = None
        if a.get("id") == "report-errors":
            self.in_errors = True
            self.error_box_hidden = "hidden" in a
        if tag not in ("img", "br", "meta", "input", "link", "hr", "col", "wbr"):
            self.stack.append((tag, opened))

    def handle_endtag(self, tag: str) -> None:
        if all(open_tag != tag for open_tag, _ in self.stack):
            return  # a void or self-closed element: never pushed
        while self.stack:
            open_tag, opened = self.stack.pop()
            if opened is not None:
                self.chart = None
            if open_tag == "div" and self.in_errors and tag == "div":
                self.in_errors = False
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.in_errors:
            self.errors += data


def _report(tmp_path: Path) -> Path:
    page, _ = render_page(load_report_input(str(GOLDEN)), title="Driftline report: demo")
    path = tmp_path / "report.html"
    path.write_text(page)
    return path


def _expected_charts() -> dict[str, Any]:
    """Chart id -> the cells its bars stand for (None: the timeline)."""
    expected: dict[str, Any] = {"m0-timeline": None}
    for w, doc in enumerate(WINDOWS):
        for f, feature in enumerate(doc["features"]):
            if feature["histogram"] is not None:
                expected[f"m0-w{w}-f{f}"] = feature
    return expected


def test_every_chart_is_drawn_with_the_results_numbers_and_no_error(tmp_path: Path) -> None:
    page = _report(tmp_path)
    run = _browse(page, tmp_path / "profile", "--dump-dom")
    dom = _Dom()
    dom.feed(run.stdout)

    assert _console_errors(run.stderr) == []
    assert (dom.error_box_hidden, dom.errors) == (True, "")
    expected = _expected_charts()
    assert sorted(dom.charts) == sorted(expected)
    for chart, feature in expected.items():
        drawn = dom.charts[chart]
        assert drawn["main-svg"] >= 1, chart  # plotly drew it
        if feature is None:
            assert drawn["heatmap"] == 1, chart
            continue
        labels, _, _ = histogram_cells(feature["histogram"])
        # One bar per cell and side (plotly draws a zero-height bar as an empty point too).
        assert drawn["point"] == 2 * len(labels), chart
    for doc in WINDOWS:
        for feature in doc["features"]:
            for key, value in feature["stats"].items():
                shown = dom.values[(doc["window_id"], feature["name"], key)]
                assert shown is not None and float(shown) == value
            shown = dom.values[(doc["window_id"], feature["name"], "p_value_adjusted")]
            if feature["p_value_adjusted"] is None:
                assert shown is None
            else:
                assert shown is not None and float(shown) == feature["p_value_adjusted"]


def test_a_script_error_would_be_seen(tmp_path: Path) -> None:
    """The check above can fail: a page with a broken script shows the error in its error
    box and in chromium's console log."""
    page = _report(tmp_path)
    html = page.read_text().replace("</body>", "<script>notAFunction();</script></body>")
    page.write_text(html)
    run = _browse(page, tmp_path / "profile", "--dump-dom")
    dom = _Dom()
    dom.feed(run.stdout)
    assert dom.error_box_hidden is False
    assert "JavaScript error: " in dom.errors and "notAFunction" in dom.errors
    assert any("notAFunction" in line for line in _console_errors(run.stderr))


def test_the_screenshot_is_not_blank(tmp_path: Path) -> None:
    page = _report(tmp_path)
    shot = tmp_path / "report.png"
    _browse(page, tmp_path / "profile", f"--screenshot={shot}")
    pixels = read_png(shot.read_bytes())
    assert pixels.shape[:2] == (2000, 1200)
    colours = np.unique(pixels.reshape(-1, pixels.shape[2])[:, :3], axis=0)
    assert len(colours) > 50  # text, bars, heatmap: far from one background colour
    # The bar colours are on the page: the window's blue (#1565c0) and the baseline's grey.
    rgb = pixels[:, :, :3].reshape(-1, 3)
    for colour in ((0x15, 0x65, 0xC0), (0x90, 0xA4, 0xAE)):
        assert np.any(np.all(rgb == colour, axis=1)), colour
    keep = os.environ.get(SCREENSHOT_ENV)
    if keep:
        shutil.copyfile(shot, keep)
