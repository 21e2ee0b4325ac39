"""``driftline report``: the figures carry exactly the results' numbers, incidents are the
runs of consecutive drifted windows, the page is offline, bad input is one line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from app.report.figures import histogram_cells, histogram_figure, timeline_figure
from app.report.incidents import find_incidents
from app.report.load import load_report_input
from app.report.page import detailed_windows, render_page
from tests.unit.report.conftest import GOLDEN, Run, golden_docs, shifted, write_jsonl

WINDOWS = [d for d in golden_docs() if d["kind"] == "window_result"]
EVENTS = [d for d in golden_docs() if d["kind"] == "drift_event"]


def test_the_golden_file_loads_as_one_model_with_its_windows_and_events() -> None:
    data = load_report_input(str(GOLDEN))
    assert list(data.models) == ["fraud-scorer"]
    model = data.models["fraud-scorer"]
    assert [w["window"]["start"] for w in model.windows] == [
        "2026-11-27T07:00:00Z",
        "2026-11-27T07:01:00Z",
        "2026-11-27T07:02:00Z",
    ]
    assert [w["status"] for w in model.windows] == ["drift", "drift", "insufficient_data"]
    assert sorted(model.events) == sorted(e["window_id"] for e in EVENTS)
    assert (data.n_windows, data.n_events, data.n_skipped) == (3, 2, 0)


def test_the_heatmap_is_each_features_effect_over_its_threshold() -> None:
    fig = timeline_figure(WINDOWS, find_incidents(WINDOWS))
    heatmap = next(t for t in fig.data if t.type == "heatmap")
    names = list(heatmap.y)
    assert names == [f["name"] for f in WINDOWS[0]["features"]]
    for row, name in enumerate(names):
        for col, doc in enumerate(WINDOWS):
            feature = next(f for f in doc["features"] if f["name"] == name)
            effect = feature["effect"]
            value, threshold, status = heatmap.customdata[row][col]
            assert status == feature["status"]
            if effect is None or not effect.get("threshold"):
                assert heatmap.z[row][col] is None
                continue
            assert (value, threshold) == (effect["value"], effect["threshold"])
            assert heatmap.z[row][col] == effect["value"] / effect["threshold"]
            # Drifted cells are marked: a null-rate or unseen finding can flag a feature whose
            # effect stays under its bar, and the colour would not show it.
            assert heatmap.text[row][col] == ("drift" if feature["drifted"] else "")
    marked = sum(row.count("drift") for row in heatmap.text)
    assert marked == sum(f["drifted"] for d in WINDOWS for f in d["features"]) > 0


def test_the_status_markers_are_the_windows_event_counts_by_status() -> None:
    fig = timeline_figure(WINDOWS, [])
    markers = {t.name: t for t in fig.data if t.type == "scatter"}
    assert sorted(markers) == ["drift", "insufficient_data"]
    assert list(markers["drift"].y) == [WINDOWS[0]["n_events"], WINDOWS[1]["n_events"]]
    assert list(markers["insufficient_data"].y) == [WINDOWS[2]["n_events"]]
    assert [c[0] for c in markers["drift"].customdata] == [w["window_id"] for w in WINDOWS[:2]]
    # Drawn at each window's middle: 07:00:30 for the 07:00-07:01 window.
    assert list(markers["drift"].x) == ["2026-11-27 07:00:30.000", "2026-11-27 07:01:30.000"]


@pytest.mark.parametrize("window", range(len(WINDOWS)))
def test_each_histogram_is_the_results_counts_and_their_shares(window: int) -> None:
    for feature in WINDOWS[window]["features"]:
        histogram = feature["histogram"]
        fig = histogram_figure(feature)
        if histogram is None:
            assert fig is None
            continue
        assert fig is not None
        base, current = fig.data
        assert (base.name, current.name) == ("baseline", "window")
        counts = list(histogram["counts"])
        baseline = list(histogram["baseline_counts"])
        if histogram["kind"] == "categorical" and histogram["unseen"]:
            counts.append(histogram["unseen"])
            baseline.append(0)
        window_nulls = histogram["nulls"] + histogram["missing"] + histogram["mismatched"]
        if window_nulls or histogram["baseline_nulls"]:
            counts.append(window_nulls)
            baseline.append(histogram["baseline_nulls"])
        assert list(current.customdata) == counts
        assert list(base.customdata) == baseline
        assert list(current.y) == [c / sum(counts) if sum(counts) else 0.0 for c in counts]
        assert list(base.y) == [c / sum(baseline) for c in baseline]
        assert list(current.x) == list(base.x)
        assert len(current.x) == len(counts)


def test_numeric_cells_are_labelled_by_the_baseline_edges() -> None:
    labels, counts, base = histogram_cells(
        {
            "kind": "numeric",
            "edges": [0.5, 12.4, 9800.0],
            "counts": [1, 2, 3, 4],
            "baseline_counts": [0, 5, 5, 0],
            "nulls": 1,
            "missing": 2,
            "mismatched": 0,
            "baseline_nulls": 0,
        }
    )
    assert labels == ["< 0.5", "[0.5, 12.4)", "[12.4, 9800)", ">= 9800", "(null)"]
    assert (counts, base) == ([1, 2, 3, 4, 3], [0, 5, 5, 0, 0])


def test_categorical_cells_add_other_and_unseen() -> None:
    labels, counts, base = histogram_cells(
        {
            "kind": "categorical",
            "categories": ["DE", "FR"],
            "counts": [10, 5, 1],
            "baseline_counts": [60, 30, 10],
            "unseen": 4,
            "unseen_values": [{"value": "BR", "count": 4}],
            "nulls": 0,
            "missing": 0,
            "mismatched": 0,
            "baseline_nulls": 0,
        }
    )
    assert labels == ["DE", "FR", "(other)", "(unseen)"]
    assert (counts, base) == ([10, 5, 1, 4], [60, 30, 10, 0])


def _docs(statuses: str, gap_after: int | None = None) -> list[dict[str, Any]]:
    """Windows of the given statuses (d drift, o ok, i insufficient), one minute each, made
    from the golden drifted windows in turn (even: income drifted, low; odd: age and
    country, medium)."""
    kinds = {"d": "drift", "o": "ok", "i": "insufficient_data"}
    out = []
    for i, s in enumerate(statuses):
        index = i + (1 if gap_after is not None and i > gap_after else 0)
        out.append(shifted(WINDOWS[i % 2], index, status=kinds[s]))
    return out


def test_incidents_are_runs_of_consecutive_drifted_windows() -> None:
    windows = _docs("oddoddd" + "i" + "d")
    found = [(i.first, i.last, i.start, i.end) for i in find_incidents(windows)]
    assert found == [
        (1, 2, "2026-11-27T07:01:00Z", "2026-11-27T07:03:00Z"),
        (4, 6, "2026-11-27T07:04:00Z", "2026-11-27T07:07:00Z"),
        (8, 8, "2026-11-27T07:08:00Z", "2026-11-27T07:09:00Z"),
    ]
    first, _, last = find_incidents(windows)
    assert (first.features, first.max_severity) == (("age", "country", "income"), "medium")
    assert (last.features, last.max_severity) == (("income",), "low")  # window 8: even


def test_a_gap_between_drifted_windows_splits_the_incident() -> None:
    windows = _docs("ddd", gap_after=0)  # 07:00, then 07:02 and 07:03: nothing for 07:01
    assert [(i.first, i.last) for i in find_incidents(windows)] == [(0, 0), (1, 2)]


def test_many_windows_detail_the_drifted_ones_and_the_latest() -> None:
    windows = _docs("o" * 10 + "dd" + "o" * 10 + "d" + "ooo")
    assert detailed_windows(windows) == [10, 11, 22, 25]
    assert detailed_windows(windows[:12]) == list(range(12))  # few: every window


def _page(tmp_path: Path) -> tuple[str, list[dict[str, Any]]]:
    data = load_report_input(str(GOLDEN))
    page, _ = render_page(data, title="t")
    return page, WINDOWS


def test_the_page_loads_no_script_from_the_network_and_holds_plotly_once(
    tmp_path: Path,
) -> None:
    page, _ = _page(tmp_path)
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert all("src=" not in tag for tag in scripts), scripts
    assert not re.search(r"""\bsrc\s*=\s*["']?(https?:)?//""", page)
    assert not re.search(r"""<link\b[^>]*href\s*=\s*["']?(https?:)?//""", page)
    # plotly.js's own banner, once: the bundle is inlined a single time.
    assert page.count("plotly.js v") == 1


def test_the_statistics_tables_hold_the_results_exact_numbers(tmp_path: Path) -> None:
    page, windows = _page(tmp_path)
    for doc in windows:
        section = page.split(f'data-window-id="{doc["window_id"]}"', 1)[1].split("</section>")[0]
        for feature in doc["features"]:
            block = section.split(f'data-feature="{feature["name"]}"', 1)[1]
            block = block.split('<div class="feature"', 1)[0]
            for key, value in feature["stats"].items():
                cell = re.search(rf'<tr data-stat="{key}"><th>{key}</th><td[^>]*>', block)
                assert cell is not None, (feature["name"], key)
                shown = re.search(r'data-value="([^"]*)"', cell.group(0))
                assert shown is not None and float(shown.group(1)) == value
            p = re.search(r'<tr data-stat="p_value_adjusted"><th>[^<]*</th><td[^>]*>', block)
            assert p is not None
            if feature["p_value_adjusted"] is None:
                assert p.group(0).endswith('<td class="num">')
            else:
                assert f'data-value="{feature["p_value_adjusted"]!r}"' in p.group(0)


def test_the_drift_events_summaries_are_shown_on_their_features(tmp_path: Path) -> None:
    page, _ = _page(tmp_path)
    summaries = [f["summary"] for e in EVENTS for f in e["drifted_features"]]
    assert summaries
    for summary in summaries:
        escaped = summary.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
        assert f'<p class="summary">{escaped}</p>' in page


# --- the command ------------------------------------------------------------------------


def test_report_writes_the_page_and_one_summary_line(run_cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = run_cli(["report", str(GOLDEN), "-o", str(out)], {})
    assert (result.code, result.stdout) == (0, "")
    assert result.stderr == (
        f"report: 1 model, 3 windows (2 drifted, 1 incident, 3 detailed), 2 drift events -> {out}\n"
    )
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('class="plotly-graph-div"') == 1 + sum(
        1 for w in WINDOWS for f in w["features"] if f["histogram"] is not None
    )


def test_other_kinds_of_document_are_counted_and_left_out(run_cli: Run, tmp_path: Path) -> None:
    lines = GOLDEN.read_bytes() + b'{"kind": "dead_letter"}\n\n'
    source = tmp_path / "mixed.jsonl"
    source.write_bytes(lines)
    result = run_cli(["report", str(source), "-o", str(tmp_path / "r.html")], {})
    assert result.code == 0
    assert result.stderr.endswith(
        "2 drift events, 1 other documents left out -> " + str(tmp_path / "r.html") + "\n"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json\n", "line 3: not JSON: "),
        (b"[1, 2]\n", "line 3: expected a JSON object, got list"),
        (b'{"kind": "window_result", "model_id": "m"}\n', "line 3: window-result: $: "),
    ],
    ids=["not-json", "not-an-object", "breaks-the-schema"],
)
def test_a_bad_line_is_one_error_naming_it(
    run_cli: Run, tmp_path: Path, content: bytes, message: str
) -> None:
    first_two = b"".join(GOLDEN.read_bytes().splitlines(keepends=True)[:2])
    source = tmp_path / "bad.jsonl"
    source.write_bytes(first_two + content)
    out = tmp_path / "r.html"
    result = run_cli(["report", str(source), "-o", str(out)], {})
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"driftline: error: {source}, {message}")
    assert result.stderr.count("\n") == 1
    assert not out.exists()


def test_a_missing_or_empty_input_is_one_error(run_cli: Run, tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    result = run_cli(["report", str(missing), "-o", str(tmp_path / "r.html")], {})
    assert (result.code, result.stderr) == (
        2,
        f"driftline: error: {missing}: cannot read: No such file or directory\n",
    )
    empty = write_jsonl(tmp_path / "empty.jsonl", [])
    result = run_cli(["report", str(empty), "-o", str(tmp_path / "r.html")], {})
    assert (result.code, result.stderr) == (
        2,
        f"driftline: error: {empty}: holds no window results (expected JSON Lines with "
        '"kind": "window_result", as `driftline analyze` writes)\n',
    )


def test_an_unwritable_output_is_one_error(run_cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "no-such-dir" / "r.html"
    result = run_cli(["report", str(GOLDEN), "-o", str(out)], {})
    assert (result.code, result.stderr) == (
        2,
        f"driftline: error: {out}: cannot write: No such file or directory\n",
    )


def test_version_1_results_have_no_histograms_but_still_a_page() -> None:
    v1 = GOLDEN.with_name("analyze_v1.jsonl")
    data = load_report_input(str(v1))
    page, stats = render_page(data, title="v1")
    n_features = sum(len(w["features"]) for w in data.models["fraud-scorer"].windows)
    assert page.count("<p>No histogram in this result.</p>") == n_features
    assert page.count('class="plotly-graph-div"') == 1  # the timeline only
    assert (stats.n_windows, stats.n_drifted, stats.n_incidents) == (3, 2, 1)
