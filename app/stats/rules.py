"""Drift decision settings: global defaults, per-model and per-(model, feature) overrides.

``drift.toml`` (every key optional; ``deploy/drift.example.toml`` documents each one)::

    [defaults]
    alpha = 0.05
    [models."fraud-scorer"]
    n_min = 2000
    [models."fraud-scorer".features.age]
    threshold = 0.05

Window-level keys (defaults and models): ``n_min``, ``drift_share``, ``smoothing_epsilon``,
``size_adjusted``.
Feature-level keys (defaults, models and features): ``alpha``, ``feature_n_min``, the
effect (``numeric_effect``/``numeric_threshold``, ``categorical_effect``/
``categorical_threshold``; in a feature table just ``effect``/``threshold``),
``null_rate_change``, ``unseen_share``, ``type_change_share``; feature tables also take
``enabled = false`` to leave a feature untested.

Why these defaults (checked by the seeded calibration in
tests/unit/stats/test_calibration.py: 20 features, baselines of 100k rows):

* ``alpha = 0.05`` on Benjamini-Hochberg-adjusted p-values: the false discovery rate
  among a window's flagged tests. Per-feature alphas compare that feature's adjusted p
  (BH adjusted p-values do not depend on alpha, so mixing levels is well defined).
* ``n_min = 1000`` events per window: below it every result is ``insufficient_data``.
  At 1,000 events a decile histogram expects 100 per cell (chi-square and asymptotic KS
  approximations hold), a 0.25-std shift is still detected in >95% of windows, and
  Evidently's tiny-batch false alarms (#509) cannot happen. 500 would leave the no-drift
  PSI of a 20-bin feature (99.9th percentile ~0.09) above the effect threshold, so only
  the p-value would guard; 1,000 halves that noise.
* ``feature_n_min = 100`` usable values before a feature's distribution is tested (a
  mostly-null feature can still be flagged by its null rate).
* Effect: PSI for both types, threshold 0.03 (not the conventional 0.1). A 0.25-std
  location shift of a normal feature has PSI ~0.06 on 5-20 quantile bins and a category
  share 10% -> 20% has PSI ~0.08; the conventional 0.1 (~0.32 std) misses both, and the
  brief requires catching both. 0.03 is about a 0.17-std shift or a share 10% -> 16%,
  and sits above the no-drift PSI of a 5,000-event window (99.9th percentile <= 0.009
  for up to 20 cells). PSI rather than JS for categories: its sampling noise grows like
  (cells - 1)/n while the JS distance's grows like its square root, so one threshold
  separates drift from noise across category counts.
* ``size_adjusted = true``: the effect bar is the threshold plus the statistic's expected
  value under pure sampling noise at the window's n (see decision.effect_threshold). At
  5,000 events it adds ~0.002 to a 10-cell PSI; at 1,000 events of a 20-cell feature
  ~0.02, which cut the seeded no-drift false-alarm rate of 1,000-event windows from
  ~0.7% to ~0.1%, keeping 99% power for a 0.25-std shift.
* ``null_rate_change = 0.02`` (absolute) with the two-proportion test: 2 percentage
  points of events losing a usable value is a pipeline change; 1% -> 10% is flagged.
* ``unseen_share = 0.01``: 1% of values never seen in training (NannyML alerts on any;
  a few stray values should not page anyone).
* ``type_change_share = 0.5``: a feature is labelled ``type_changed`` when at least half
  of its non-null values have the wrong JSON type (fewer show up in the null rate).
* ``drift_share = 0.5``: the dataset is drifted when half the tested features drift
  (Evidently's default, so reports compare) or the prediction drifts. Each flag is
  already FDR-controlled, so this is a breadth measure used for severity.
* ``smoothing_epsilon = 0.5``: see app/stats/divergence.py.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from app.errors import DriftlineError

EffectName = Literal["psi", "js"]
_EFFECTS = ("psi", "js")


class ConfigError(DriftlineError):
    """drift.toml is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Rules:
    """Defaults for every feature of a model (and, in ``[defaults]``, of every model)."""

    alpha: float = 0.05
    n_min: int = 1000
    feature_n_min: int = 100
    drift_share: float = 0.5
    smoothing_epsilon: float = 0.5
    numeric_effect: EffectName = "psi"
    numeric_threshold: float = 0.03
    categorical_effect: EffectName = "psi"
    categorical_threshold: float = 0.03
    null_rate_change: float = 0.02
    unseen_share: float = 0.01
    type_change_share: float = 0.5
    size_adjusted: bool = True


@dataclass(frozen=True)
class FeatureRules:
    """The rules one feature is judged by. Its defaults are Rules' (one place to change)."""

    alpha: float = Rules.alpha
    feature_n_min: int = Rules.feature_n_min
    effect: EffectName = Rules.numeric_effect
    threshold: float = Rules.numeric_threshold
    null_rate_change: float = Rules.null_rate_change
    unseen_share: float = Rules.unseen_share
    type_change_share: float = Rules.type_change_share
    enabled: bool = True


@dataclass(frozen=True)
class ModelRules:
    """One model's window-level rules and per-feature overrides."""

    rules: Rules = field(default_factory=Rules)
    features: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def n_min(self) -> int:
        return self.rules.n_min

    @property
    def drift_share(self) -> float:
        return self.rules.drift_share

    @property
    def smoothing_epsilon(self) -> float:
        return self.rules.smoothing_epsilon

    @property
    def size_adjusted(self) -> bool:
        return self.rules.size_adjusted

    def for_feature(self, name: str, numeric: bool) -> FeatureRules:
        r = self.rules
        base = FeatureRules(
            alpha=r.alpha,
            feature_n_min=r.feature_n_min,
            effect=r.numeric_effect if numeric else r.categorical_effect,
            threshold=r.numeric_threshold if numeric else r.categorical_threshold,
            null_rate_change=r.null_rate_change,
            unseen_share=r.unseen_share,
            type_change_share=r.type_change_share,
        )
        override = self.features.get(name)
        return replace(base, **override) if override else base


@dataclass(frozen=True)
class DriftConfig:
    """Global defaults plus per-model rules, as loaded from drift.toml."""

    defaults: Rules = field(default_factory=Rules)
    models: Mapping[str, ModelRules] = field(default_factory=dict)

    def for_model(self, model_id: str) -> ModelRules:
        return self.models.get(model_id) or ModelRules(self.defaults)


def load_config(path: str | Path) -> DriftConfig:
    """Read and validate a drift.toml; ConfigError names the bad key."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read drift config: {err.strerror or err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from err
    return parse_config(raw, str(path))


def parse_config(raw: Mapping[str, Any], where: str = "drift.toml") -> DriftConfig:
    """Validate an already-parsed drift config (the TOML document as a mapping)."""
    _only(raw, {"defaults", "models"}, where)
    defaults = _rules(Rules(), _table(raw.get("defaults", {}), f"{where}: [defaults]"), where)
    models: dict[str, ModelRules] = {}
    for model_id, table in _table(raw.get("models", {}), f"{where}: [models]").items():
        at = f'{where}: [models."{model_id}"]'
        body = dict(_table(table, at))
        feats = _table(body.pop("features", {}), f"{at}.features")
        rules = _rules(defaults, body, at)
        models[model_id] = ModelRules(
            rules,
            {
                name: _feature_override(
                    _table(t, f'{at}.features."{name}"'), f'{at}.features."{name}"'
                )
                for name, t in feats.items()
            },
        )
    return DriftConfig(defaults, models)


_FEATURE_KEYS = {f.name for f in fields(FeatureRules)}


def _rules(start: Rules, table: Mapping[str, Any], where: str) -> Rules:
    _only(table, {f.name for f in fields(Rules)}, where)
    values: dict[str, Any] = {k: _check(k, v, where) for k, v in table.items()}
    return replace(start, **values)


def _feature_override(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    _only(table, _FEATURE_KEYS, where)
    return {k: _check(k, v, where) for k, v in table.items()}


def _table(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a table")
    return value


def _only(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        allowed_keys = ", ".join(sorted(allowed))
        raise ConfigError(f"{where}: unknown key {extra[0]!r}; allowed: {allowed_keys}")


def _check(key: str, value: object, where: str) -> object:
    """Type and range of one setting."""
    at = f"{where}: {key}"
    if key in ("numeric_effect", "categorical_effect", "effect"):
        if value not in _EFFECTS:
            raise ConfigError(f"{at} must be one of {', '.join(_EFFECTS)}, got {value!r}")
        return value
    if key in ("enabled", "size_adjusted"):
        if type(value) is not bool:
            raise ConfigError(f"{at} must be true or false")
        return value
    if key in ("n_min", "feature_n_min"):
        if type(value) is not int or value < 1:
            raise ConfigError(f"{at} must be an integer >= 1, got {value!r}")
        return value
    if type(value) not in (int, float):
        raise ConfigError(f"{at} must be a number, got {value!r}")
    number = float(value)  # type: ignore[arg-type]
    if key in ("alpha", "drift_share", "type_change_share"):
        ok = 0.0 < number <= 1.0 if key != "alpha" else 0.0 < number < 1.0
        if not ok:
            raise ConfigError(f"{at} must be in {'(0, 1)' if key == 'alpha' else '(0, 1]'}")
    elif key == "smoothing_epsilon":
        if not 0.0 < number <= 10.0:
            raise ConfigError(f"{at} must be in (0, 10]")
    elif not 0.0 <= number < float("inf"):
        raise ConfigError(f"{at} must be a finite number >= 0")
    return number
