"""The baseline remembers the training file's prediction column, so ``evaluate`` and
``analyze`` read a file shaped like the training file without ``--prediction-column``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from click.testing import CliRunner

from app.baseline.build import BuildOptions, build_baseline
from app.baseline.codec import baseline_to_dict, dump_baseline, load_baseline, parse_baseline
from app.cli import cli
from app.contracts.schemas import validate
from app.errors import InputError

ROWS = 3000
BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
EMITTED = "2026-11-27T08:00:00Z"


def _training_csv(path: Path, prediction: str = "score") -> Path:
    """ROWS records in the first 300 s window of 2026-01-01, a model score in ``prediction``."""
    rng = np.random.default_rng(11)
    lines = [f"timestamp,amount,country,{prediction}"]
    for i in range(ROWS):
        ts = f"2026-01-01T00:0{i // 600}:{(i // 10) % 60:02d}Z"
        country = ("DE", "FR", "NL")[int(rng.integers(3))]
        lines.append(f"{ts},{rng.normal(50, 10):.3f},{country},{rng.random():.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    """(training CSV, baseline built with --prediction-column score) through the CLI."""
    train = _training_csv(tmp_path / "train.csv")
    out = tmp_path / "baseline.json"
    run = CliRunner().invoke(
        cli,
        ["baseline", "build", "--input", str(train), "--model-id", "m", "--prediction-column",
         "score", "--exclude", "timestamp", "--no-progress", "--out", str(out)],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    return train, out


def _prediction(doc: dict[str, Any]) -> dict[str, Any]:
    (pred,) = [f for f in doc["features"] if f["name"] == "__prediction__"]
    assert isinstance(pred, dict)
    return pred


def test_the_baseline_stores_the_column(built: tuple[Path, Path]) -> None:
    _, out = built
    doc = orjson.loads(out.read_bytes())
    assert doc["prediction_column"] == "score"
    validate("baseline", doc)
    assert load_baseline(out).prediction_column == "score"
    shown = CliRunner().invoke(cli, ["baseline", "show", str(out)])
    assert shown.exit_code == 0
    assert shown.output.splitlines()[-1].endswith("  (prediction, from column 'score')")


def test_evaluate_without_the_flag_reads_the_prediction(built: tuple[Path, Path]) -> None:
    train, out = built
    run = CliRunner().invoke(
        cli, ["evaluate", "--baseline", str(out), "--input", str(train), "--exclude", "timestamp"]
    )
    assert run.exit_code == 0, run.output
    doc = orjson.loads(run.stdout)
    pred = _prediction(doc)
    assert (pred["status"], pred["n"], pred["null_count"]) == ("ok", ROWS, 0)
    assert doc["contract"] == {
        "unavailable": [],
        "unknown": [],
        "unknown_truncated": False,
        "type_changed": [],
    }
    assert (doc["status"], doc["severity"], doc["dataset"]["prediction_drift"]) == (
        "ok",
        "none",
        False,
    )


def test_analyze_without_the_flag_reads_the_prediction(built: tuple[Path, Path]) -> None:
    train, out = built
    run = CliRunner().invoke(
        cli,
        ["analyze", "--baseline", str(out), "--input", str(train), "--window-seconds", "300",
         "--emitted-at", EMITTED, "--no-progress"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    (doc,) = [orjson.loads(line) for line in run.stdout.splitlines()]
    assert doc["kind"] == "window_result"
    assert (doc["window"]["start_ms"], doc["n_events"]) == (BASE_MS, ROWS)
    pred = _prediction(doc)
    assert (pred["status"], pred["n"], pred["null_count"]) == ("ok", ROWS, 0)
    assert doc["contract"] == {
        "unavailable": [],
        "unknown": [],
        "unknown_truncated": False,
        "type_changed": [],
    }
    assert (doc["status"], doc["dataset"]["prediction_drift"]) == ("ok", False)


def test_an_explicit_flag_still_wins(built: tuple[Path, Path]) -> None:
    # amount (about 50) read as the prediction of a baseline whose prediction is in [0, 1):
    # the prediction drifts, and score, no longer the prediction, is an unknown feature.
    train, out = built
    for args in (
        ["evaluate", "--exclude", "timestamp"],
        ["analyze", "--window-seconds", "300", "--emitted-at", EMITTED, "--no-progress"],
    ):
        run = CliRunner().invoke(
            cli,
            [*args, "--baseline", str(out), "--input", str(train), "--prediction-column", "amount"],
        )
        assert run.exit_code == 0, run.output
        doc = orjson.loads(run.stdout.splitlines()[0])
        assert doc["dataset"]["prediction_drift"] is True, args[0]
        assert _prediction(doc)["n"] == ROWS
        assert doc["contract"]["unknown"] == ["score"]
        assert doc["contract"]["unavailable"] == ["amount"]


def test_an_event_keeps_its_own_prediction(built: tuple[Path, Path], tmp_path: Path) -> None:
    # A prediction event's prediction wins over a feature named like the training column.
    _, out = built
    events = tmp_path / "events.jsonl"
    events.write_bytes(
        b"".join(
            orjson.dumps(
                {
                    "model_id": "m",
                    "timestamp": BASE_MS + i,
                    "features": {"amount": 50.0, "country": "DE", "score": 7.0},
                    "prediction": 0.5,
                }
            )
            + b"\n"
            for i in range(3)
        )
    )
    run = CliRunner().invoke(cli, ["evaluate", "--baseline", str(out), "--input", str(events)])
    assert run.exit_code == 0, run.output
    doc = orjson.loads(run.stdout)
    assert (_prediction(doc)["n"], doc["contract"]["unknown"]) == (3, ["score"])


def test_the_column_is_not_part_of_the_id(tmp_path: Path) -> None:
    # Same data, prediction column named score or __prediction__: one id (the stream never
    # reads the column, and CSV/JSONL copies of the same data must share an id).
    named = build_baseline(
        str(_training_csv(tmp_path / "a.csv")),
        BuildOptions(model_id="m", prediction_column="score", exclude=frozenset({"timestamp"})),
    ).baseline
    default = build_baseline(
        str(_training_csv(tmp_path / "b.csv", prediction="__prediction__")),
        BuildOptions(model_id="m", exclude=frozenset({"timestamp"})),
    ).baseline
    assert (named.prediction_column, default.prediction_column) == ("score", None)
    assert named.baseline_id == default.baseline_id
    assert named.features == default.features
    assert "prediction_column" not in baseline_to_dict(default)


def test_an_older_document_without_the_field_loads(built: tuple[Path, Path]) -> None:
    _, out = built
    doc = orjson.loads(out.read_bytes())
    del doc["prediction_column"]
    older = orjson.dumps(doc)
    b = parse_baseline(older)
    assert b.prediction_column is None
    assert b.baseline_id == doc["baseline_id"]
    assert orjson.dumps(baseline_to_dict(b)) == older  # written back as it was


def test_a_prediction_column_needs_a_prediction(built: tuple[Path, Path], tmp_path: Path) -> None:
    _, out = built
    doc = orjson.loads(out.read_bytes())
    del doc["features"]["__prediction__"]
    with pytest.raises(InputError) as err:
        parse_baseline(orjson.dumps(doc), path="b.json")
    assert str(err.value) == (
        "b.json, line 1, field '$.features': '__prediction__' is a required property"
    )


def test_the_column_survives_dump_and_load(built: tuple[Path, Path], tmp_path: Path) -> None:
    _, out = built
    b = load_baseline(out)
    again = tmp_path / "again.json"
    dump_baseline(b, again)
    assert again.read_bytes() == out.read_bytes()
