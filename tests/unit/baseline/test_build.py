"""Building baselines: exact edges and counts, type inference, the prediction, the errors
users see, format independence of the id, and the CLI."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from app.baseline.build import BuildOptions, FeatureSpec, build_baseline, load_feature_spec
from app.baseline.codec import dump_baseline, load_baseline
from app.baseline.model import Baseline, FeatureBaseline
from app.cli import cli
from app.errors import InputError
from tests.factories import write_csv, write_jsonl

REPO = Path(__file__).resolve().parents[3]


def build(path: str | Path, **options: Any) -> Baseline:
    """The baseline of model "m" built from ``path`` with these BuildOptions."""
    return build_baseline(path, BuildOptions(model_id="m", **options)).baseline


def feat(b: Baseline, name: str) -> FeatureBaseline:
    f = b.feature(name)
    assert f is not None, name
    return f


# -- numeric ----------------------------------------------------------------------------------


def test_edges_are_numpy_quantiles_and_counts_follow_the_bin_rule(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    x = np.round(rng.normal(10.0, 3.0, 2000), 3)
    p = write_csv(tmp_path / "a.csv", ["x"], [[float(v)] for v in x])
    n = feat(build(p, bins=10), "x").numeric
    assert n is not None
    expected = np.unique(np.quantile(x, np.linspace(0, 1, 11)))
    assert n.edges == tuple(float(e) for e in expected)
    assert len(n.edges) == 11
    idx = np.searchsorted(expected, x, side="right")  # e_{i-1} <= x < e_i -> i
    idx[x == expected[-1]] = len(expected) - 1  # the last inner bin is closed
    assert n.counts == tuple(np.bincount(idx, minlength=len(expected) + 1).tolist())
    assert (n.counts[0], n.counts[-1]) == (0, 0)
    assert (n.count, n.null_count) == (2000, 0)
    assert (n.min, n.max) == (float(x.min()), float(x.max()))
    assert n.mean == float(np.sort(x).mean())
    assert n.std == float(np.sort(x).std())


def test_tied_quantiles_are_deduplicated(tmp_path: Path) -> None:
    x = np.array([0.0] * 600 + [float(i) for i in range(1, 401)])  # 60% zeros, then 1..400
    p = write_csv(tmp_path / "a.csv", ["x"], [[float(v)] for v in x])
    n = feat(build(p, bins=10), "x").numeric
    assert n is not None
    quantiles = np.quantile(x, np.linspace(0, 1, 11))
    assert list(quantiles[:6]) == [0.0] * 6  # six tied quantiles ...
    assert n.edges == (0.0, *quantiles[6:].tolist())  # ... became one edge
    assert n.edges[1:3] == (0.40000000000009095, 100.30000000000007)
    assert n.counts == (0, 600, 100, 100, 100, 100, 0)


def test_few_distinct_values_get_one_bin_each(tmp_path: Path) -> None:
    p = write_csv(tmp_path / "a.csv", ["level", "other"], [[i % 4, "x"] for i in range(12)])
    level = feat(build(p), "level").numeric
    assert level is not None
    assert level.edges == (0.0, 0.5, 1.5, 2.5, 3.0)
    assert level.counts == (0, 3, 3, 3, 3, 0)


def test_zero_one_numbers_split_at_the_midpoint(tmp_path: Path) -> None:
    p = write_csv(tmp_path / "a.csv", ["y"], [[1]] * 3 + [[0]] * 7)
    n = feat(build(p), "y").numeric
    assert n is not None
    assert (n.edges, n.counts) == ((0.0, 0.5, 1.0), (0, 7, 3, 0))


def test_single_valued_column(tmp_path: Path) -> None:
    p = write_csv(tmp_path / "a.csv", ["v"], [[7.5]] * 4 + [[None]])
    n = feat(build(p), "v").numeric
    assert n is not None
    assert (n.edges, n.counts, n.count, n.null_count) == ((7.5, 7.5), (0, 4, 0), 4, 1)
    assert (n.min, n.max, n.mean, n.std) == (7.5, 7.5, 7.5, 0.0)


def test_nan_is_null_and_infinities_go_to_the_outer_cells(tmp_path: Path) -> None:
    p = write_csv(
        tmp_path / "a.csv", ["v"], [["1"], ["2"], ["nan"], ["inf"], ["-Infinity"], ["3"], [""]]
    )
    n = feat(build(p), "v").numeric
    assert n is not None
    assert n.edges == (1.0, 1.5, 2.5, 3.0)
    assert n.counts == (1, 1, 1, 1, 1)
    assert (n.count, n.null_count, n.min, n.max, n.mean) == (5, 2, 1.0, 3.0, 2.0)


# -- categorical and boolean ------------------------------------------------------------------


def test_top_k_and_other_with_exact_counts(tmp_path: Path) -> None:
    values = ["a"] * 5 + ["c"] * 4 + ["b"] * 4 + ["d"] * 2 + ["e"] + [None] * 3
    p = write_csv(tmp_path / "a.csv", ["c"], [[v] for v in values])
    c = feat(build(p, top_k=3), "c").categorical
    assert c is not None
    assert c.categories == ("a", "b", "c")  # b and c tie at 4: by text
    assert (c.counts, c.count, c.null_count) == ((5, 4, 4, 3), 16, 3)
    full = feat(build(p), "c").categorical
    assert full is not None
    assert (full.categories, full.counts) == (("a", "b", "c", "d", "e"), (5, 4, 4, 2, 1, 0))


def test_top_k_per_feature_from_the_spec(tmp_path: Path) -> None:
    p = write_csv(tmp_path / "a.csv", ["c", "d"], [["x", "p"], ["y", "q"], ["x", "q"]])
    b = build(p, features={"c": FeatureSpec(top_k=1)})
    assert feat(b, "c").categorical == feat(b, "c").categorical
    c, d = feat(b, "c").categorical, feat(b, "d").categorical
    assert c is not None and d is not None
    assert (c.categories, c.counts, d.categories, d.counts) == (
        ("x",),
        (2, 1),
        ("q", "p"),
        (2, 1, 0),
    )


def test_type_inference(tmp_path: Path) -> None:
    rows = [
        [i, f"k{i % 3}", ["true", "FALSE", "True"][i % 3], i * 0.5, "007" if i else "x1"]
        for i in range(150)
    ]
    p = write_csv(tmp_path / "a.csv", ["int", "cat", "flag", "num", "codes"], rows)
    result = build_baseline(p, BuildOptions(model_id="m"))
    b = result.baseline
    assert [(f.name, f.type, f.role) for f in b.features] == [
        ("int", "numeric", "feature"),
        ("cat", "categorical", "feature"),
        ("flag", "boolean", "feature"),
        ("num", "numeric", "feature"),
        ("codes", "numeric", "feature"),
    ]
    flag = feat(b, "flag").categorical
    assert flag is not None
    assert (flag.categories, flag.counts) == (("false", "true"), (50, 100, 0))
    # "codes" is 149 x "007" and 1 x "x1": 0.67% text is within the 1% tolerance.
    codes = feat(b, "codes").numeric
    assert codes is not None
    assert (codes.count, codes.null_count, codes.edges) == (149, 1, (7.0, 7.0))
    assert result.warnings == ("column 'codes' (numeric): 1 text counted as nulls",)
    # With no tolerance the same column is an error.
    with pytest.raises(InputError, match=r"line 2, field 'codes': mixed types: 1 of 150 values"):
        build(p, tolerance=0.0)


def test_declared_types(tmp_path: Path) -> None:
    p = write_csv(
        tmp_path / "a.csv",
        ["zip", "b", "n"],
        [["02139", 1, "1"], ["10115", 0, "2"], ["02139", 1, "x"]],
    )
    b = build(
        p,
        tolerance=0.4,
        features={
            "zip": FeatureSpec(type="categorical"),
            "b": FeatureSpec(type="boolean"),
            "n": FeatureSpec(type="numeric", bins=5),
        },
    )
    z, flag, n = feat(b, "zip").categorical, feat(b, "b").categorical, feat(b, "n").numeric
    assert z is not None and flag is not None and n is not None
    assert (z.categories, z.counts) == (("02139", "10115"), (2, 1, 0))
    assert (feat(b, "b").type, flag.categories, flag.counts) == (
        "boolean",
        ("false", "true"),
        (1, 2, 0),
    )
    assert (n.count, n.null_count, n.edges) == (2, 1, (1.0, 1.5, 2.0))


def test_jsonl_nulls_missing_keys_and_typed_values(tmp_path: Path) -> None:
    p = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"x": 1, "s": "a", "t": True},
            {"x": 2.5, "s": None},
            {"s": "a", "t": False, "late": 3},
            {"x": None, "s": "41", "t": True},
        ],
    )
    b = build(p)
    x, s, t, late = (feat(b, n) for n in ("x", "s", "t", "late"))
    assert x.numeric is not None and (x.numeric.count, x.numeric.null_count) == (2, 2)
    assert s.categorical is not None and (s.categorical.categories, s.categorical.null_count) == (
        ("a", "41"),
        1,
    )
    assert t.type == "boolean" and t.categorical is not None and t.categorical.counts == (1, 2, 0)
    assert late.numeric is not None and (late.numeric.count, late.numeric.null_count) == (1, 3)


def test_text_column_that_turns_numeric_is_switched(tmp_path: Path) -> None:
    # The first batch is text, the rest 20,000 distinct numbers: the column must end up
    # numeric with exact quantiles, the text counted as invalid.
    records: list[dict[str, object]] = [{"v": "n/a"} for _ in range(100)]
    records += [{"v": i * 0.25} for i in range(20_000)]
    p = write_jsonl(tmp_path / "a.jsonl", records)
    result = build_baseline(p, BuildOptions(model_id="m", batch_rows=100))
    n = feat(result.baseline, "v").numeric
    assert n is not None
    values = np.arange(20_000) * 0.25
    assert n.edges == tuple(np.quantile(values, np.linspace(0, 1, 21)).tolist())
    assert (n.count, n.null_count) == (20_000, 100)
    assert result.warnings == ("column 'v' (numeric): 100 text counted as nulls",)


# -- prediction and exclusions ----------------------------------------------------------------


def test_event_jsonl_prediction_and_timestamp(tmp_path: Path) -> None:
    events = [
        {
            "model_id": "m",
            "timestamp": 1795762801250 + i,
            "features": {"age": 20 + i},
            "prediction": probs,
        }
        for i, probs in enumerate(
            [{"yes": 0.9, "no": 0.1}, {"yes": 0.5, "no": 0.5}, {"no": 0.2, "yes": 0.8}]
        )
    ]
    b = build(write_jsonl(tmp_path / "e.jsonl", events))
    assert [(f.name, f.type, f.role) for f in b.features] == [
        ("age", "numeric", "feature"),
        ("__prediction__", "categorical", "prediction"),
    ]
    pred = feat(b, "__prediction__").categorical
    assert pred is not None
    assert (pred.categories, pred.counts) == (("yes", "no"), (2, 1, 0))  # the tie goes to "no"


def test_prediction_column_of_a_flat_file(tmp_path: Path) -> None:
    p = write_csv(
        tmp_path / "a.csv",
        ["x", "score", "label", "id"],
        [[i, i / 10, i % 2, i] for i in range(10)],
    )
    b = build(p, prediction_column="score", exclude=frozenset({"label", "id"}))
    assert [(f.name, f.type, f.role) for f in b.features] == [
        ("x", "numeric", "feature"),
        ("__prediction__", "numeric", "prediction"),
    ]
    without = build(p, exclude=frozenset({"label", "id"}))
    assert [f.name for f in without.features] == ["x", "score"]
    with pytest.raises(InputError) as err:
        build(p, prediction_column="proba")
    assert str(err.value) == (
        f"{p}, field 'proba': prediction column not found; the columns are: x, score, label, id"
    )


# -- identity ---------------------------------------------------------------------------------


def sample_rows(n: int = 300) -> list[dict[str, object]]:
    rng = np.random.default_rng(3)
    rows: list[dict[str, object]] = []
    for i in range(n):
        rows.append(
            {
                "income": None if i % 17 == 0 else float(np.round(rng.lognormal(10, 1), 2)),
                "age": int(rng.integers(18, 90)),
                "country": None
                if i % 23 == 0
                else ["DE", "FR", "US", "PL"][int(rng.integers(0, 4))],
                "is_new": bool(rng.integers(0, 2)),
                "score": float(rng.random()),
            }
        )
    return rows


def test_csv_jsonl_parquet_give_the_same_baseline_id(tmp_path: Path) -> None:
    rows = sample_rows()
    names = list(rows[0])
    p_csv = write_csv(tmp_path / "d.csv", names, [[r[n] for n in names] for r in rows])
    p_jsonl = write_jsonl(tmp_path / "d.jsonl", rows)
    p_pq = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(rows), p_pq, row_group_size=64)
    built = [
        build(p, prediction_column="score", bins=8, top_k=3) for p in (p_csv, p_jsonl, str(p_pq))
    ]
    ids = {b.baseline_id for b in built}
    assert len(ids) == 1, ids
    assert built[0].features == built[1].features == built[2].features
    assert [(f.name, f.type) for f in built[0].features] == [
        ("income", "numeric"),
        ("age", "numeric"),
        ("country", "categorical"),
        ("is_new", "boolean"),
        ("__prediction__", "numeric"),
    ]
    # Row order does not matter either (sorted before summing).
    p_rev = write_jsonl(tmp_path / "r.jsonl", rows[::-1])
    assert build(p_rev, prediction_column="score", bins=8, top_k=3).baseline_id in ids


def test_baseline_id_is_deterministic_and_follows_content(tmp_path: Path) -> None:
    rows = sample_rows(50)
    names = list(rows[0])
    p = write_csv(tmp_path / "d.csv", names, [[r[n] for n in names] for r in rows])
    first, second = build(p), build(p)
    assert first.baseline_id == second.baseline_id
    assert first.baseline_id.startswith("bl-") and len(first.baseline_id) == 19
    rows[7]["age"] = 1000
    q = write_csv(tmp_path / "e.csv", names, [[r[n] for n in names] for r in rows])
    assert build(q).baseline_id != first.baseline_id
    assert build(p, model_version="2").baseline_id != first.baseline_id
    assert build(p, bins=5).baseline_id != first.baseline_id


# -- user mistakes ----------------------------------------------------------------------------


def test_mixed_column_names_column_and_first_line(tmp_path: Path) -> None:
    rows: list[list[object]] = [[i, i] for i in range(97)]
    rows[40][1] = "abc"
    rows[60][1] = "n/a"
    rows[70][1] = "abc"
    p = write_csv(tmp_path / "a.csv", ["ok", "age"], rows)
    with pytest.raises(InputError) as err:
        build(p)
    assert str(err.value) == (
        f"{p}, line 42, field 'age': mixed types: 3 of 97 values (3.09%) are not numbers, more "
        f"than the 1.00% allowed; the first is 'abc' at line 42. Name the column's type in "
        f"--feature-spec, --exclude it, or fix the data"
    )
    assert build(p, tolerance=0.05).feature("age") is not None


def test_numbers_in_a_text_column(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "a.jsonl", [{"c": "x"}] * 8 + [{"c": 5}, {"c": "y"}])
    with pytest.raises(InputError) as err:
        build(p)
    assert str(err.value).startswith(
        f"{p}, line 9, field 'c': mixed types: 1 of 10 values (10.00%) are numbers in a text "
        f"column, more than the 1.00% allowed; the first is 5 at line 9."
    )


def test_declared_numeric_with_text(tmp_path: Path) -> None:
    p = tmp_path / "a.parquet"
    pq.write_table(pa.table({"v": ["1", "2", "three"]}), p)
    with pytest.raises(InputError) as err:
        build(str(p), features={"v": FeatureSpec(type="numeric")})
    assert str(err.value).startswith(
        f"{p}, row 1, field 'v': mixed types: 3 of 3 values (100.00%) are not numbers"
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "a.csv",
            "x,y\n1,\n2,\n",
            "{p}, field 'y': the column has no values (every row is null); --exclude it",
        ),
        ("a.csv", "x,y\n", "{p}: no rows: the file holds no records"),
        ("a.jsonl", "", "{p}: no rows: the file holds no records"),
        ("a.csv", "x,y\n1,2\n3\n", "{p}, line 3: expected 2 fields, found 1"),
        ("a.jsonl", '{"x": 1}\n{"x": 2\n', "{p}, line 2: malformed JSON: "),
        (
            "a.jsonl",
            '{"x": {"nested": 1}}\n',
            "{p}, line 1, field 'x': unsupported value {{\"nested\":1}}",
        ),
        ("a.txt", "x\n1\n", "{p}: cannot tell the format from the extension '.txt'"),
    ],
)
def test_user_mistakes(tmp_path: Path, name: str, content: str, message: str) -> None:
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(InputError) as err:
        build(str(p))
    assert str(err.value).startswith(message.format(p=p))


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.parquet: no such file$"):
        build(str(tmp_path / "nope.parquet"))


def test_feature_spec_file(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text('{"features": {"zip": {"type": "categorical", "top_k": 5}}, "exclude": ["id"]}')
    assert load_feature_spec(spec) == (
        {"zip": FeatureSpec("categorical", None, 5)},
        frozenset({"id"}),
    )
    spec.write_text('{"features": {"zip": {"type": "text"}}}')
    with pytest.raises(InputError) as err:
        load_feature_spec(spec)
    assert (
        str(err.value)
        == f"{spec}, field '$.features.zip.type': must be numeric, categorical or boolean"
    )
    spec.write_text('{"feature": {}}')
    with pytest.raises(InputError, match=r"field '\$\.feature': unknown key"):
        load_feature_spec(spec)
    p = write_csv(tmp_path / "a.csv", ["x"], [[1]])
    with pytest.raises(
        InputError, match="the feature spec names columns the input does not have: zip"
    ):
        build(p, features={"zip": FeatureSpec(type="categorical")})


# -- CLI --------------------------------------------------------------------------------------


def test_cli_build_and_show(tmp_path: Path) -> None:
    rows = sample_rows(40)
    names = list(rows[0])
    p = write_csv(tmp_path / "d.csv", names, [[r[n] for n in names] for r in rows])
    spec = tmp_path / "spec.json"
    spec.write_text('{"features": {"age": {"bins": 4}}}')
    out = tmp_path / "b.json"
    args = ["baseline", "build", "--input", str(p), "--model-id", "fraud", "--model-version", "3",
            "--prediction-column", "score", "--exclude", "income", "--feature-spec", str(spec),
            "--no-progress", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    b = load_baseline(out)
    assert (b.model_id, b.model_version, b.source) == (
        "fraud",
        "3",
        {"path": str(p), "rows": 40, "format": "csv"},
    )
    age = feat(b, "age").numeric
    assert age is not None and len(age.edges) == 5
    assert result.stderr.startswith(
        f"{b.baseline_id}: 1 numeric, 1 categorical, 1 boolean features + numeric prediction "
        f"from 40 rows in "
    )
    shown = CliRunner().invoke(cli, ["baseline", "show", str(out)])
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    assert lines[0] == f"baseline    {b.baseline_id}"
    assert lines[1] == "model       fraud 3"
    assert any(
        line.strip().startswith("__prediction__  numeric")
        and line.endswith("(prediction, from column 'score')")
        for line in lines
    )


def test_cli_user_mistake_is_one_line_without_traceback(tmp_path: Path) -> None:
    p = write_csv(tmp_path / "a.csv", ["x", "y"], [[1, None], [2, None]])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "baseline",
            "build",
            "--input",
            p,
            "--model-id",
            "m",
            "--no-progress",
            "--out",
            str(tmp_path / "b.json"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        f"driftline: error: {p}, field 'y': the column has no values (every row is null); "
        f"--exclude it\n"
    )
    assert not (tmp_path / "b.json").exists()


# -- huge numbers and wide files ----------------------------------------------------------------


def test_values_near_the_float64_limit_give_a_finite_mean_and_std(tmp_path: Path) -> None:
    values = [1e308, -1e308, 1.7e308]
    p = write_csv(tmp_path / "big.csv", ["x"], [[v] for v in values])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warnings reached the user's stderr
        b = build(p)
    x = feat(b, "x").numeric
    assert x is not None
    scaled = np.array(values) / 1e308
    assert x.mean == pytest.approx(float(scaled.mean()) * 1e308, rel=1e-12)
    assert x.std == pytest.approx(float(scaled.std()) * 1e308, rel=1e-12)
    assert (x.min, x.max, x.count) == (-1e308, 1.7e308, 3)
    assert x.edges == (-1e308, 0.0, 1.35e308, 1.7e308)  # midpoints of the three values
    out = tmp_path / "big.json"
    dump_baseline(b, out)
    shown = CliRunner().invoke(cli, ["baseline", "show", str(out)])
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[-1] == (
        "  x  numeric     n=3 nulls=0 bins=3 min=-1e+308 max=1.7e+308 mean=5.66667e+307 "
        "std=1.14407e+308"
    )


def test_quantile_edges_across_the_float64_range_are_finite(tmp_path: Path) -> None:
    # More distinct values than bins: quantile edges, the middle one interpolated between
    # -1.7e308 + 11e300 and 1.7e308, whose difference overflows unscaled.
    values = [-1.7e308 + i * 1e300 for i in range(12)] + [1.7e308 - i * 1e300 for i in range(12)]
    p = write_csv(tmp_path / "big.csv", ["x"], [[v] for v in values])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = feat(build(p, bins=4), "x").numeric
    assert x is not None
    scaled = np.ldexp(np.sort(np.array(values)), -1024)
    expected = np.ldexp(np.quantile(scaled, np.linspace(0.0, 1.0, 5)), 1024)
    assert x.edges == tuple(expected.tolist())
    assert all(np.isfinite(x.edges)) and abs(x.edges[2]) < 1e300
    assert x.counts == (0, 6, 6, 6, 6, 0)
    assert x.mean == pytest.approx(math.ldexp(float(scaled.mean()), 1024), rel=1e-12, abs=1e-300)
    assert x.std == pytest.approx(math.ldexp(float(scaled.std()), 1024), rel=1e-12)


def test_ordinary_columns_keep_numpys_plain_mean_and_std(tmp_path: Path) -> None:
    # The scaled path is a fallback only: columns that never overflowed keep their bits, so
    # existing baselines keep their ids.
    values = [0.1, 0.2, 0.3, 1e-300, 12345.678]
    x = feat(build(write_csv(tmp_path / "a.csv", ["x"], [[v] for v in values])), "x").numeric
    assert x is not None
    assert (x.mean, x.std) == (float(np.mean(values)), float(np.std(values)))


def test_wider_than_an_event_may_be_is_refused(tmp_path: Path) -> None:
    names = [f"f{i}" for i in range(1001)]
    p = write_csv(tmp_path / "wide.csv", [*names, "score"], [list(range(1002))] * 2)
    with pytest.raises(InputError) as err:
        build(p, prediction_column="score")
    assert str(err.value) == (
        f"{p}: 1,001 feature columns, more than the 1,000 features a prediction event may "
        f"carry, so no event with all of them would decode; --exclude columns or split the model"
    )
    # The limit itself is fine, and the prediction is not a feature.
    b = build(p, prediction_column="score", exclude=frozenset({"f0"}))
    assert sum(f.role == "feature" for f in b.features) == 1000
    assert feat(b, "__prediction__").role == "prediction"


def test_statistics_that_do_not_fit_refuse_the_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Scaling keeps every mean, std and edge of finite values finite (each is at most the
    # largest magnitude), so the guard cannot be reached from a file: force it, to check
    # that the refusal is one line naming the file and the column.
    from app.baseline.build import profiles

    def overflowing(values: object, bins: int) -> tuple[object, float, float]:
        return np.array([0.0, 1.0]), 0.5, math.inf

    monkeypatch.setattr(profiles, "_moments_and_edges", overflowing)
    p = write_csv(tmp_path / "a.csv", ["x"], [[1e308], [-1e308]])
    with pytest.raises(InputError) as err:
        build(p)
    assert str(err.value) == (
        f"{p}, field 'x': the values (from -1e+308 to 1e+308) are too large for a float64 "
        f"mean, std or bin edge; rescale the column or --exclude it"
    )
