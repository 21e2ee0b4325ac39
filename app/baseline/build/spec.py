"""The feature spec (``--feature-spec``): per-column type, bins and top-K, and exclusions."""

from __future__ import annotations

import os
from dataclasses import dataclass

import orjson

from app.baseline.model import FeatureType
from app.contracts.decode import json_path
from app.errors import InputError


@dataclass(frozen=True)
class FeatureSpec:
    """Per-column settings from ``--feature-spec`` (None: inferred / the default)."""

    type: FeatureType | None = None
    bins: int | None = None
    top_k: int | None = None


def load_feature_spec(
    path: str | os.PathLike[str],
) -> tuple[dict[str, FeatureSpec], frozenset[str]]:
    """Read a feature spec: ``{"features": {"col": {"type": "numeric" | "categorical" |
    "boolean", "bins": 30, "top_k": 20}}, "exclude": ["col", ...]}``, every key optional.
    Returns (specs by column, excluded columns)."""
    p = str(path)
    try:
        with open(p, "rb") as f:
            doc = orjson.loads(f.read())
    except OSError as err:
        raise InputError(f"cannot read the feature spec: {err.strerror}", path=p) from None
    except orjson.JSONDecodeError as err:
        raise InputError(f"malformed JSON: {err.msg}", path=p, line=err.lineno) from None
    if not isinstance(doc, dict):
        raise InputError("a feature spec is a JSON object", path=p)
    for key in doc:
        if key not in ("features", "exclude"):
            raise InputError(
                "unknown key (known: features, exclude)", path=p, field=json_path([key])
            )
    exclude = doc.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(x, str) for x in exclude):
        raise InputError("must be a list of column names", path=p, field=json_path(["exclude"]))
    feats = doc.get("features", {})
    if not isinstance(feats, dict):
        raise InputError("must map column names to settings", path=p, field=json_path(["features"]))
    specs = {name: _feature_spec(s, p, ["features", name]) for name, s in feats.items()}
    return specs, frozenset(exclude)


def _feature_spec(s: object, path: str, at: list[str | int]) -> FeatureSpec:
    if not isinstance(s, dict):
        raise InputError("must be an object", path=path, field=json_path(at))
    for key in s:
        if key not in ("type", "bins", "top_k"):
            raise InputError(
                "unknown key (known: type, bins, top_k)", path=path, field=json_path([*at, key])
            )
    typ = s.get("type")
    if typ is not None and typ not in ("numeric", "categorical", "boolean"):
        raise InputError(
            "must be numeric, categorical or boolean", path=path, field=json_path([*at, "type"])
        )
    for key in ("bins", "top_k"):
        v = s.get(key)
        if v is not None and (type(v) is not int or v < 1):
            raise InputError("must be an integer >= 1", path=path, field=json_path([*at, key]))
    return FeatureSpec(type=typ, bins=s.get("bins"), top_k=s.get("top_k"))
