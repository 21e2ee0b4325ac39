"""``driftline evaluate``: a file as one window, against a baseline built by the real builder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from app.baseline.model import Baseline
from app.cli import cli
from app.codecs.window_result import span_document
from app.contracts.schemas import validate
from app.pipeline.evaluate import evaluate_file, span_of
from app.windows.spec import WindowSpan
from tests.factories import TrainBaseline, write_csv_records, write_jsonl

REPO = Path(__file__).resolve().parents[3]
EMITTED = "2026-11-27T08:00:00Z"
START_MS = 1_795_762_800_000


def _rows(seed: int, n: int, shift: float = 0.0) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    out: list[dict[str, object]] = []
    for _ in range(n):
        out.append(
            {
                "age": int(rng.integers(18, 90) + shift * 10),
                "income": None if rng.random() < 0.02 else round(float(rng.lognormal(10, 1)), 2),
                "country": str(rng.choice(["DE", "FR", "US", "NL"], p=[0.4, 0.3, 0.2, 0.1])),
                "is_new": bool(rng.random() < 0.3),
                "score": round(float(rng.random()), 4),
            }
        )
    return out


def _events(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """The rows as prediction events of model "fraud", 700 ms apart."""
    return [
        {
            "model_id": "fraud",
            "timestamp": START_MS + 250 + i * 700,
            "features": {k: v for k, v in r.items() if k != "score"},
            "prediction": r["score"],
        }
        for i, r in enumerate(rows)
    ]


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, train_baseline: TrainBaseline
) -> tuple[Path, Baseline, Path]:
    train = write_csv_records(tmp_path_factory.mktemp("evaluate") / "train.csv", _rows(0, 20_000))
    baseline, path = train_baseline(train, "fraud", "score")
    return train, baseline, path


def test_the_training_file_against_its_own_baseline_is_exactly_calm(
    trained: tuple[Path, Baseline, Path],
) -> None:
    train, baseline, _ = trained
    result = evaluate_file(baseline, train, emitted_at=EMITTED, prediction_column="score")
    doc = result.document
    validate("window-result", doc)
    assert (doc["status"], doc["n_events"], result.records) == ("ok", 20_000, 20_000)
    assert doc["window"]["start_ms"] == 0 and doc["window"]["size_seconds"] == 1
    for f in doc["features"]:
        # Same values, same binning rules as the builder: identical histograms.
        assert f["stats"]["psi"] == 0.0 and f["stats"]["js"] == 0.0, f["name"]
        assert f["stats"]["null_rate_change"] == 0.0
        assert f["stats"].get("ks", 0.0) == 0.0 and f["stats"].get("chi2", 0.0) == 0.0
    assert [f["name"] for f in doc["features"]] == [
        "__prediction__",
        "age",
        "country",
        "income",
        "is_new",
    ]


def test_a_parquet_copy_gives_byte_identical_results(
    trained: tuple[Path, Baseline, Path], tmp_path: Path
) -> None:
    _, baseline, _ = trained
    rows = _rows(5, 3000, shift=0.5)
    write_csv_records(tmp_path / "w.csv", rows)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "w.parquet")
    a = evaluate_file(baseline, tmp_path / "w.csv", emitted_at=EMITTED, prediction_column="score")
    b = evaluate_file(
        baseline, tmp_path / "w.parquet", emitted_at=EMITTED, prediction_column="score"
    )
    assert orjson.dumps(a.document) == orjson.dumps(b.document)
    assert a.document["status"] == "drift"


def test_cli_json_and_table_on_drifted_events(
    trained: tuple[Path, Baseline, Path], tmp_path: Path
) -> None:
    _, _, baseline_path = trained
    events = tmp_path / "events.jsonl"
    write_jsonl(events, _events(_rows(7, 5000, shift=1.0)))
    run = CliRunner().invoke(
        cli, ["evaluate", "--baseline", str(baseline_path), "--input", str(events)]
    )
    assert run.exit_code == 0, run.output
    doc = orjson.loads(run.stdout)
    validate("window-result", doc)
    assert doc["status"] == "drift"
    assert doc["window"] == span_document(
        WindowSpan(START_MS, 3500)
    )  # 07:00:00.250 .. 07:58:19.550
    age = next(f for f in doc["features"] if f["name"] == "age")
    assert age["drifted"] and age["test"] == "ks"
    table = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--baseline",
            str(baseline_path),
            "--input",
            str(events),
            "--format",
            "table",
            "--fail-on-drift",
        ],
    )
    assert table.exit_code == 1
    lines = table.stdout.splitlines()
    assert lines[2].startswith("status    drift  severity ")
    header = next(line for line in lines if line.startswith("feature "))
    assert header.split() == [
        "feature",
        "type",
        "n",
        "test",
        "p",
        "p_adj",
        "effect",
        "status",
        "flagged",
        "by",
    ]
    age_row = next(line for line in lines if line.startswith("age "))
    assert age_row.split()[1:4] == ["numeric", "5,000", "ks"] and age_row.split()[-2:] == [
        "drift",
        "distribution",
    ]
    # Why, one line per drifted feature: the drift event's summaries.
    why = [line.removeprefix("why       ") for line in lines if line.startswith("why ")]
    event = orjson.loads(run.stdout)
    drifted = [f["name"] for f in event["features"] if f["drifted"]]
    assert [w.split(":")[0] for w in why] == drifted and "age" in drifted
    assert next(w for w in why if w.startswith("age: ")).startswith(
        "age: distribution shifted, PSI "
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "nope.csv: no such file"),
        (["--config", "CONFIG"], "alpha must be in (0, 1)"),
    ],
)
def test_cli_errors_are_one_line_without_traceback(
    trained: tuple[Path, Baseline, Path], tmp_path: Path, extra: list[str], message: str
) -> None:
    _, _, baseline_path = trained
    config = tmp_path / "drift.toml"
    config.write_text("[defaults]\nalpha = 2\n")
    args = ["evaluate", "--baseline", str(baseline_path), "--input", str(tmp_path / "nope.csv")]
    args += [str(config) if a == "CONFIG" else a for a in extra]
    proc = subprocess.run(
        [sys.executable, "-m", "app", *args], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_span_of() -> None:
    assert span_of(None, None) == WindowSpan(0, 1)
    assert span_of(1_500, 1_500) == WindowSpan(1_000, 1)
    assert span_of(1_500, 2_000) == WindowSpan(1_000, 2)
    assert span_of(1_000, 1_999) == WindowSpan(1_000, 1)
