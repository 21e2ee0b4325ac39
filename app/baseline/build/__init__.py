"""Build a training baseline from a file (CSV, JSONL, Parquet) in one streaming pass.

The build, by job (each module's docstring states its rules):

* ``columns``: each column's values accumulated batch by batch (float chunks, exact
  counts by text), and the memory that costs;
* ``inference``: a column's type, declared or inferred, and the mixed-type error;
* ``profiles``: numeric edges (midpoints or deduplicated quantiles), top-K categories,
  booleans;
* ``spec``: the ``--feature-spec`` JSON file;
* ``driver``: ``build_baseline``, which reads the file once and puts it all together.
"""

from app.baseline.build.driver import (
    DEFAULT_BINS,
    DEFAULT_KS_CELLS,
    DEFAULT_TOLERANCE,
    DEFAULT_TOP_K,
    BuildOptions,
    BuildResult,
    build_baseline,
)
from app.baseline.build.profiles import categorical_profile, numeric_edges, numeric_profile
from app.baseline.build.spec import FeatureSpec, load_feature_spec

__all__ = [
    "DEFAULT_BINS",
    "DEFAULT_KS_CELLS",
    "DEFAULT_TOLERANCE",
    "DEFAULT_TOP_K",
    "BuildOptions",
    "BuildResult",
    "FeatureSpec",
    "build_baseline",
    "categorical_profile",
    "load_feature_spec",
    "numeric_edges",
    "numeric_profile",
]
