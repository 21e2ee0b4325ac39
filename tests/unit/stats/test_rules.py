"""drift.toml: defaults, per-model and per-feature overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.stats.rules import ConfigError, DriftConfig, FeatureRules, load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "drift.example.toml"


def test_builtin_defaults() -> None:
    rules = DriftConfig().for_model("any")
    assert (rules.n_min, rules.drift_share, rules.smoothing_epsilon, rules.size_adjusted) == (
        1000,
        0.5,
        0.5,
        True,
    )
    assert rules.for_feature("x", numeric=True) == FeatureRules()
    assert rules.for_feature("c", numeric=False).effect == "psi"


def test_the_example_file_loads_and_its_defaults_are_the_builtin_ones() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.defaults == DriftConfig().defaults
    fraud = cfg.for_model("fraud-scorer")
    assert fraud.n_min == 2000 and fraud.rules.alpha == 0.05  # inherits [defaults]
    amount = fraud.for_feature("amount", numeric=True)
    assert (amount.effect, amount.threshold, amount.alpha) == ("js", 0.1, 0.05)
    assert not fraud.for_feature("session_id_hash", numeric=False).enabled
    assert cfg.for_model("other").n_min == 1000


def test_layers_override_in_order(tmp_path: Path) -> None:
    path = tmp_path / "drift.toml"
    path.write_text(
        '[defaults]\nalpha = 0.01\nnumeric_threshold = 0.05\ncategorical_effect = "js"\n'
        "[models.m]\nnumeric_threshold = 0.07\n"
        "[models.m.features.age]\nalpha = 0.001\nthreshold = 0.2\n"
    )
    cfg = load_config(path)
    m = cfg.for_model("m")
    assert m.for_feature("age", numeric=True).alpha == 0.001
    assert m.for_feature("age", numeric=True).threshold == 0.2
    assert m.for_feature("height", numeric=True).threshold == 0.07
    assert m.for_feature("height", numeric=True).alpha == 0.01
    assert m.for_feature("country", numeric=False).effect == "js"
    assert cfg.for_model("z").for_feature("h", numeric=True).threshold == 0.05


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"defaults": {"alpah": 0.1}}, "unknown key 'alpah'"),
        ({"defaults": {"alpha": 1.0}}, "alpha must be in \\(0, 1\\)"),
        ({"defaults": {"n_min": 0}}, "n_min must be an integer >= 1"),
        ({"defaults": {"n_min": 10.5}}, "n_min must be an integer"),
        ({"defaults": {"numeric_effect": "kl"}}, "must be one of psi, js"),
        ({"defaults": {"smoothing_epsilon": 0}}, "smoothing_epsilon must be in"),
        ({"models": {"m": {"features": {"a": {"n_min": 5}}}}}, "unknown key 'n_min'"),
        (
            {"models": {"m": {"features": {"a": {"enabled": "no"}}}}},
            "enabled must be true or false",
        ),
        ({"models": {"m": 3}}, "expected a table"),
        ({"model": {}}, "unknown key 'model'"),
        ({"defaults": {"null_rate_change": -0.1}}, "finite number >= 0"),
    ],
)
def test_bad_settings_name_the_key(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(doc)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[defaults\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)
