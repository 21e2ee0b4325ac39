"""Baseline documents: to and from JSON, the content id, and validation.

A baseline is accepted only if it passes ``schemas/baseline.schema.json`` and the checks a
schema cannot express: edges strictly increasing (except [v, v]), ``counts`` one longer
than ``edges`` or ``categories``, ``count`` equal to the sum of ``counts``, finite
numbers, content that can mean something (``app.baseline.meaning``: no feature without
values, no categorical feature without categories, one row count for every feature, mean
within [min, max]), and a ``baseline_id`` that matches the content. A rejection names the field by
its JSON path (``$.features.age.edges[3]``) and, for a file, the line it is on.

The id is ``"bl-"`` and the first 16 hex digits of the SHA-256 of the canonical JSON
(orjson, sorted keys) of the document without ``baseline_id``, ``created_at``, ``source``
and ``prediction_column``: two builds of the same data have the same id, wherever and
whenever built.

``prediction_column`` is optional: written only when the prediction came from a column
with another name than ``__prediction__``, so documents without it (older ones included)
read and write back unchanged.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson
from jsonschema.exceptions import best_match

from app.baseline.meaning import problem
from app.baseline.model import (
    BASELINE_SCHEMA_VERSION,
    BASELINE_SCHEMA_VERSION_KS_GRID,
    Baseline,
    CategoricalProfile,
    FeatureBaseline,
    NumericProfile,
    coarse_index,
)
from app.contracts.events import PREDICTION_FEATURE, json_path
from app.contracts.schemas import validator
from app.errors import InputError

# ``prediction_column`` is left out of the id, like ``source``: it says how the training
# file was laid out, not what the baseline holds. The stream never reads it (events carry
# their prediction), the profiles and every statistic are the same whatever the column was
# called, and leaving it out keeps two promises: CSV, JSONL and Parquet copies of the same
# data give the same id (an event file has no such column), and baselines built before the
# field existed keep their ids, and with them the window and alert ids derived from them.
ID_EXCLUDED_KEYS: Final = ("baseline_id", "created_at", "source", "prediction_column")

PathParts = list[str | int]


class _FieldError(Exception):
    def __init__(self, parts: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.parts: PathParts = list(parts)
        self.message = message


# -- to JSON ----------------------------------------------------------------------------------


def _feature_to_dict(f: FeatureBaseline) -> dict[str, Any]:
    if f.numeric is not None:
        n = f.numeric
        return {
            "type": f.type,
            "role": f.role,
            "edges": list(n.edges),
            "counts": list(n.counts),
            "null_count": n.null_count,
            "count": n.count,
            "min": n.min,
            "max": n.max,
            "mean": n.mean,
            "std": n.std,
            **(
                {}
                if n.ks_edges is None or n.ks_counts is None
                else {"ks_edges": list(n.ks_edges), "ks_counts": list(n.ks_counts)}
            ),
        }
    assert f.categorical is not None
    c = f.categorical
    return {
        "type": f.type,
        "role": f.role,
        "categories": list(c.categories),
        "counts": list(c.counts),
        "null_count": c.null_count,
        "count": c.count,
    }


def baseline_to_dict(b: Baseline) -> dict[str, Any]:
    """The baseline document (``schemas/baseline.schema.json``), features in the
    baseline's order."""
    grid = any(f.numeric is not None and f.numeric.ks_edges is not None for f in b.features)
    doc: dict[str, Any] = {
        "schema_version": BASELINE_SCHEMA_VERSION_KS_GRID if grid else BASELINE_SCHEMA_VERSION,
        "kind": "baseline",
        "baseline_id": b.baseline_id,
        "model_id": b.model_id,
        "model_version": b.model_version,
        "created_at": b.created_at,
        "source": dict(b.source),
    }
    if b.prediction_column is not None:
        doc["prediction_column"] = b.prediction_column
    doc["features"] = {f.name: _feature_to_dict(f) for f in b.features}
    return doc


def compute_baseline_id(doc: Mapping[str, Any]) -> str:
    """``bl-`` + 16 hex of sha256 over the canonical JSON of ``doc`` without
    ``ID_EXCLUDED_KEYS`` (``baseline_id``, ``created_at``, ``source``, ``prediction_column``)."""
    content = {k: v for k, v in doc.items() if k not in ID_EXCLUDED_KEYS}
    return (
        "bl-" + hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    )


def dump_baseline(b: Baseline, path: str | os.PathLike[str]) -> None:
    """Write ``b`` as indented JSON (one array item a line, so errors can name lines).
    The file is replaced atomically: a reader never sees half a baseline."""
    data = orjson.dumps(baseline_to_dict(b), option=orjson.OPT_INDENT_2) + b"\n"
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".baseline-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as err:
        raise InputError(f"cannot write the baseline: {err.strerror}", path=target) from None


# -- from JSON --------------------------------------------------------------------------------


def load_baseline(path: str | os.PathLike[str]) -> Baseline:
    """Read and validate a baseline file; ``InputError`` names the line and field."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            data = f.read()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=p) from None
    return parse_baseline(data, path=p)


def parse_baseline(data: bytes, *, path: str = "<baseline>") -> Baseline:
    """Validate a baseline document given as JSON bytes (a file's or a message's)."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise InputError(
            f"malformed JSON: {err.msg} (column {err.colno})", path=path, line=err.lineno
        ) from None
    try:
        return _parse(doc)
    except _FieldError as err:
        line = _line_of(data.decode("utf-8", errors="replace"), err.parts)
        raise InputError(err.message, path=path, line=line, field=json_path(err.parts)) from None


def baseline_from_dict(doc: object) -> Baseline:
    """Validate a parsed baseline document; ``InputError`` names the field's JSON path."""
    try:
        return _parse(doc)
    except _FieldError as err:
        raise InputError(err.message, field=json_path(err.parts)) from None


def _parse(doc: object) -> Baseline:
    error = best_match(validator("baseline").iter_errors(doc))
    if error is not None:
        message = str(error.message)
        raise _FieldError(
            list(error.absolute_path), message[:300] + ("..." if len(message) > 300 else "")
        )
    # The checks below repeat what the schema says about types, so that the typed model is
    # built safely, and add what it cannot say.
    d = _obj(doc, [])
    feats = _obj(d.get("features"), ["features"])
    if not feats:
        raise _FieldError(["features"], "a baseline needs at least one feature")
    features = tuple(_feature(name, raw, ["features", name]) for name, raw in feats.items())
    grid = any(f.numeric is not None and f.numeric.ks_edges is not None for f in features)
    if grid != (d.get("schema_version") == BASELINE_SCHEMA_VERSION_KS_GRID):
        raise _FieldError(
            ["schema_version"],
            "is 2 exactly when a numeric feature has a KS grid (ks_edges, ks_counts)",
        )
    version = d.get("model_version")
    column = d.get("prediction_column")
    if column is not None:
        column = _str(column, ["prediction_column"])
        if not any(f.role == "prediction" for f in features):
            raise _FieldError(
                ["prediction_column"],
                f"names a prediction column, but there is no {PREDICTION_FEATURE}",
            )
    baseline = Baseline(
        model_id=_str(d.get("model_id"), ["model_id"]),
        model_version=None if version is None else _str(version, ["model_version"]),
        baseline_id=_str(d.get("baseline_id"), ["baseline_id"]),
        created_at=_str(d.get("created_at"), ["created_at"]),
        features=features,
        source=dict(_obj(d.get("source", {}), ["source"])),
        prediction_column=column,
    )
    # Before the id: a forged document carries a recomputed id, and its problem is the content.
    nonsense = problem(baseline)
    if nonsense is not None:
        raise _FieldError(*nonsense)
    # Hand-written files may spell 18.0 as 18: the normalised document counts as well.
    expected = compute_baseline_id(baseline_to_dict(baseline))
    if baseline.baseline_id not in (expected, compute_baseline_id(d)):
        raise _FieldError(
            ["baseline_id"],
            f"does not match the content (the content hashes to {expected}): the file was "
            f"changed after it was built; rebuild it",
        )
    return baseline


def _feature(name: str, raw: object, at: PathParts) -> FeatureBaseline:
    f = _obj(raw, at)
    typ = f.get("type")
    role = f.get("role")
    if role not in ("feature", "prediction"):
        raise _FieldError([*at, "role"], "must be feature or prediction")
    if (role == "prediction") != (name == PREDICTION_FEATURE):
        raise _FieldError(
            [*at, "role"], f"role prediction is for {PREDICTION_FEATURE} only, and it needs it"
        )
    null_count = _count(f.get("null_count"), [*at, "null_count"])
    count = _count(f.get("count"), [*at, "count"])
    counts = _counts(_list(f.get("counts"), [*at, "counts"]), [*at, "counts"])
    if count != sum(counts):
        raise _FieldError([*at, "count"], f"is {count}, but the counts add up to {sum(counts)}")
    if typ == "numeric":
        edges = _finites(_list(f.get("edges"), [*at, "edges"]), [*at, "edges"])
        if len(edges) < 2:
            raise _FieldError([*at, "edges"], "needs at least 2 edges")
        single = len(edges) == 2 and edges[0] == edges[1]
        for i in range(1, len(edges)):
            if not edges[i] > edges[i - 1] and not single:
                raise _FieldError(
                    [*at, "edges", i],
                    f"edges must be strictly increasing: {edges[i]!r} follows {edges[i - 1]!r}",
                )
        if len(counts) != len(edges) + 1:
            raise _FieldError(
                [*at, "counts"],
                f"has {len(counts)} counts; {len(edges)} edges need {len(edges) + 1}",
            )
        low, high = _finite(f.get("min"), [*at, "min"]), _finite(f.get("max"), [*at, "max"])
        if low > high:
            raise _FieldError([*at, "min"], f"min {low!r} is above max {high!r}")
        std = _finite(f.get("std"), [*at, "std"])
        if std < 0:
            raise _FieldError([*at, "std"], "must be >= 0")
        mean = _finite(f.get("mean"), [*at, "mean"])
        ks_edges, ks_counts = _ks_grid(f, edges, counts, at)
        prof = NumericProfile(
            edges, counts, null_count, count, low, high, mean, std, ks_edges, ks_counts
        )
        return FeatureBaseline(name, "numeric", role, numeric=prof)
    if typ not in ("categorical", "boolean"):
        raise _FieldError([*at, "type"], "must be numeric, categorical or boolean")
    raw_cats = _list(f.get("categories"), [*at, "categories"])
    cats = tuple(_str(c, [*at, "categories", i]) for i, c in enumerate(raw_cats))
    seen: set[str] = set()
    for i, c in enumerate(cats):
        if c in seen:
            raise _FieldError([*at, "categories", i], f"duplicate category {c!r}")
        if typ == "boolean" and c not in ("false", "true"):
            raise _FieldError([*at, "categories", i], 'a boolean category is "false" or "true"')
        seen.add(c)
    if len(counts) != len(cats) + 1:
        raise _FieldError(
            [*at, "counts"],
            f"has {len(counts)} counts; {len(cats)} categories need {len(cats) + 1} "
            f"(the last is other)",
        )
    prof_c = CategoricalProfile(cats, counts, null_count, count)
    return FeatureBaseline(name, typ, role, categorical=prof_c)


def _ks_grid(
    f: Mapping[str, Any], edges: tuple[float, ...], counts: tuple[int, ...], at: PathParts
) -> tuple[tuple[float, ...] | None, tuple[int, ...] | None]:
    """The KS grid of a numeric profile (``app.baseline.model``), checked: strictly
    increasing, holding every coarse edge with the same ends, and fine counts that add up
    to the coarse ones."""
    if "ks_edges" not in f and "ks_counts" not in f:
        return None, None
    if "ks_edges" not in f or "ks_counts" not in f:
        raise _FieldError(at, "ks_edges and ks_counts go together")
    fine = _finites(_list(f.get("ks_edges"), [*at, "ks_edges"]), [*at, "ks_edges"])
    fine_counts = _counts(_list(f.get("ks_counts"), [*at, "ks_counts"]), [*at, "ks_counts"])
    if len(fine) < 2 or edges[0] == edges[-1]:
        raise _FieldError([*at, "ks_edges"], "needs at least 2 edges and a column of 2 values")
    for i in range(1, len(fine)):
        if not fine[i] > fine[i - 1]:
            raise _FieldError(
                [*at, "ks_edges", i],
                f"edges must be strictly increasing: {fine[i]!r} follows {fine[i - 1]!r}",
            )
    if fine[0] != edges[0] or fine[-1] != edges[-1] or not set(edges) <= set(fine):
        raise _FieldError([*at, "ks_edges"], "must hold every edge, with the same first and last")
    if len(fine_counts) != len(fine) + 1:
        raise _FieldError(
            [*at, "ks_counts"],
            f"has {len(fine_counts)} counts; {len(fine)} edges need {len(fine) + 1}",
        )
    added = [0] * len(counts)
    for c, n in zip(coarse_index(edges, fine), fine_counts, strict=True):
        added[c] += n
    if tuple(added) != counts:
        raise _FieldError([*at, "ks_counts"], "do not add up to counts")
    return fine, fine_counts


def _obj(value: object, at: PathParts) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _FieldError(at, "must be an object")
    return value


def _list(value: object, at: PathParts) -> list[Any]:
    if not isinstance(value, list):
        raise _FieldError(at, "must be an array")
    return value


def _str(value: object, at: PathParts) -> str:
    if not isinstance(value, str):
        raise _FieldError(at, "must be a string")
    return value


def _count(value: object, at: PathParts) -> int:
    if type(value) is not int or value < 0:
        raise _FieldError(at, "must be an integer >= 0")
    return value


def _finite(value: object, at: PathParts) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):  # type: ignore[arg-type]
        raise _FieldError(at, "must be a finite number")
    return float(value)  # type: ignore[arg-type]


# Arrays of a KS grid hold thousands of items: checked in one pass each, and item by item
# (to name the wrong one) only when that pass fails.


def _counts(values: list[Any], at: PathParts) -> tuple[int, ...]:
    if all(type(v) is int for v in values) and min(values, default=0) >= 0:
        return tuple(values)
    return tuple(_count(v, [*at, i]) for i, v in enumerate(values))


def _finites(values: list[Any], at: PathParts) -> tuple[float, ...]:
    if all(type(v) is float or type(v) is int for v in values):
        floats = tuple(map(float, values))
        if all(map(math.isfinite, floats)):
            return floats
    return tuple(_finite(v, [*at, i]) for i, v in enumerate(values))


# -- where a field is -------------------------------------------------------------------------

_WS: Final = re.compile(r"[ \t\n\r]*")
_DECODER: Final = json.JSONDecoder()


def _line_of(text: str, parts: Sequence[str | int]) -> int | None:
    """Line of the value at ``parts`` in the JSON ``text`` (of the deepest container found
    when the field is missing). Skips values with the stdlib decoder: baselines are small."""
    try:
        pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
        for part in parts:
            found = _step(text, pos, part)
            if found is None:
                break
            pos = found
        return text.count("\n", 0, pos) + 1
    except (ValueError, IndexError, AttributeError):
        return None


def _step(text: str, pos: int, part: str | int) -> int | None:
    """Offset of member ``part`` of the object or array at ``pos``, or None."""

    def ws(i: int) -> int:
        return _WS.match(text, i).end()  # type: ignore[union-attr]

    opener, closer = ("{", "}") if isinstance(part, str) else ("[", "]")
    if text[pos] != opener:
        return None
    pos = ws(pos + 1)
    index = 0
    while text[pos] != closer:
        if isinstance(part, str):
            key, end = _DECODER.raw_decode(text, pos)
            pos = ws(ws(end) + 1)  # past the colon
            if key == part:
                return pos
        elif index == part:
            return pos
        _, end = _DECODER.raw_decode(text, pos)
        pos = ws(end)
        if text[pos] == ",":
            pos = ws(pos + 1)
        index += 1
    return None
