"""Fixtures shared by the unit tests. The baseline factory and the file writers are plain
functions in tests/factories.py; a baseline built by the real builder is a fixture here,
because it needs a directory for its file."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.baseline.build import BuildOptions, build_baseline
from app.baseline.codec import dump_baseline
from app.baseline.model import Baseline
from tests.factories import TrainBaseline


@pytest.fixture(scope="session")
def train_baseline(tmp_path_factory: pytest.TempPathFactory) -> TrainBaseline:
    """train(training file, model id, prediction column): the baseline the real builder
    makes of it, and the JSON file it was written to (for the CLI)."""

    def train(path: Path, model_id: str, prediction_column: str) -> tuple[Baseline, Path]:
        options = BuildOptions(model_id=model_id, prediction_column=prediction_column)
        baseline = build_baseline(path, options).baseline
        out = tmp_path_factory.mktemp("baseline") / "baseline.json"
        dump_baseline(baseline, out)
        return baseline, out

    return train
