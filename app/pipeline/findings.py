"""Why a feature drifted: the findings that fired, with their numbers, and one sentence.

A drifted feature has at least one test that fired (``app.stats.decision``); each fired
test becomes a finding that quotes the numbers the rule compared:

* ``distribution``: the test (KS or chi-square) and its statistic, p and adjusted p
  against alpha, the effect (PSI or JS) against its size-adjusted bar; for a numeric
  feature the median before and after (estimated from the binned histograms, linear
  inside a bin), for a categorical one the category whose share moved most;
* ``null_rate``: the share of events without a usable value, before and after, the
  change against its bar, the adjusted p, and where the window's went (null, absent,
  wrong type);
* ``unseen``: the share of values never seen in training against its bar, the adjusted
  p, and the most frequent unseen values named (at most five, from the window
  histogram; ``values_complete`` false when some unseen values were not kept);
* ``out_of_range``: not a test of its own, an explanation of a drifted numeric feature:
  reported when at least ``OUT_OF_RANGE_SHARE`` of its values lie outside the training
  range (below the baseline's first edge, the training min, or above its last).

``summary`` is one sentence a person reads first, e.g. ``amount: distribution shifted,
PSI 0.30 > 0.10; median 41 -> 66`` or ``country: 2.5% of values are categories never
seen in training (BR 2.1%, XX 0.4%)``. Numbers in the sentence are rounded (shares as
percentages, effects to two decimals or two significant digits); the findings keep them
exact.

Pure and deterministic: findings are a function of the window result alone (its feature
results and histograms), so live, replay and analyze give the same ones, and the alert
lifecycle can compare them from one window to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal

from app.pipeline.feature_histograms import FeatureHistogram, UnseenValue
from app.stats.decision import FeatureResult, TestName, TestOutcome

OUT_OF_RANGE_SHARE: Final = 0.01

FindingKind = Literal["distribution", "null_rate", "unseen", "out_of_range"]
Side = Literal["inside", "below", "above"]  # where a binned median fell


@dataclass(frozen=True)
class Quantile:
    """A median estimated from a binned histogram. Outside the training range (in the
    underflow or overflow cell) only the side is known: ``value`` is then that edge."""

    value: float
    side: Side = "inside"


@dataclass(frozen=True)
class DistributionFinding:
    test: TestName
    statistic: float | None  # KS D, or the chi-square statistic
    p_value: float
    p_value_adjusted: float
    alpha: float
    effect_name: str
    effect: float
    threshold: float
    baseline_median: Quantile | None = None  # numeric features
    median: Quantile | None = None
    category: str | None = None  # categorical: the category whose share moved most
    baseline_share: float | None = None
    share: float | None = None
    kind: FindingKind = "distribution"


@dataclass(frozen=True)
class NullRateFinding:
    baseline_null_rate: float
    null_rate: float
    change: float  # null_rate - baseline_null_rate
    threshold: float  # |change| had to reach this
    p_value_adjusted: float
    alpha: float
    nulls: int  # the window's events without a usable value: null or NaN,
    missing: int  # without the key,
    mismatched: int  # of the wrong JSON type
    kind: FindingKind = "null_rate"


@dataclass(frozen=True)
class UnseenShare:
    text: str
    count: int
    share: float  # of the feature's usable values in the window


@dataclass(frozen=True)
class UnseenFinding:
    share: float  # unseen values / usable values
    threshold: float
    p_value_adjusted: float
    alpha: float
    count: int
    values: tuple[UnseenShare, ...]  # the most frequent, at most 5
    values_complete: bool
    kind: FindingKind = "unseen"


@dataclass(frozen=True)
class OutOfRangeFinding:
    share: float  # (below + above) / usable values
    below: int  # values below the training min
    above: int  # values above the training max
    below_share: float
    above_share: float
    training_min: float
    training_max: float
    threshold: float = OUT_OF_RANGE_SHARE
    kind: FindingKind = "out_of_range"


Finding = DistributionFinding | NullRateFinding | UnseenFinding | OutOfRangeFinding


@dataclass(frozen=True)
class FeatureFindings:
    """A drifted feature's findings and its one-sentence summary. The tests' findings come
    in the decision's order (distribution, unseen, null_rate; ``FeatureResult.reasons``),
    then out_of_range."""

    name: str
    findings: tuple[Finding, ...]
    summary: str

    @property
    def kinds(self) -> tuple[FindingKind, ...]:
        return tuple(f.kind for f in self.findings)


def feature_findings(feature: FeatureResult, histogram: FeatureHistogram | None) -> FeatureFindings:
    """The findings of one feature: one per test that fired, plus out of range."""
    out: list[Finding] = []
    for t in feature.tests:
        if not t.fired:
            continue
        if t.reason == "distribution":
            out.append(_distribution(feature, t, histogram))
        elif t.reason == "unseen":
            out.append(_unseen(feature, t, histogram))
        else:
            out.append(_null_rate(feature, t, histogram))
    if feature.drifted and histogram is not None and histogram.kind == "numeric":
        oor = _out_of_range(histogram)
        if oor is not None:
            out.append(oor)
    findings = tuple(out)
    return FeatureFindings(feature.name, findings, summarize(feature.name, findings))


def binned_median(edges: Sequence[float], counts: Sequence[int]) -> Quantile | None:
    """The median of a binned sample (under, inner bins, over), linear inside a bin."""
    total = sum(counts)
    if total == 0:
        return None
    target = total / 2
    if counts[0] >= target:
        return Quantile(edges[0], "below")
    seen = counts[0]
    for i in range(1, len(edges)):
        c = counts[i]
        if c and seen + c >= target:
            lo, hi = edges[i - 1], edges[i]
            return Quantile(lo + (target - seen) / c * (hi - lo))
        seen += c
    return Quantile(edges[-1], "above")


# -- the findings ------------------------------------------------------------------------


def _distribution(
    f: FeatureResult, t: TestOutcome, h: FeatureHistogram | None
) -> DistributionFinding:
    assert f.test is not None and f.effect is not None and f.p_value is not None
    statistic = f.stats.ks if f.test == "ks" else f.stats.chi2
    finding = DistributionFinding(
        test=f.test,
        statistic=statistic,
        p_value=f.p_value,
        p_value_adjusted=t.p_value_adjusted,
        alpha=t.alpha,
        effect_name=f.effect.name,
        effect=t.effect,
        threshold=t.threshold,
    )
    if h is None:
        return finding
    if h.kind == "numeric":
        return replace(
            finding,
            baseline_median=binned_median(h.edges, h.baseline_counts),
            median=binned_median(h.edges, h.counts),
        )
    moved = _largest_move(h)
    if moved is None:
        return finding
    category, before, after = moved
    return replace(finding, category=category, baseline_share=before, share=after)


def _largest_move(h: FeatureHistogram) -> tuple[str, float, float] | None:
    base_n, win_n = h.baseline_n, h.n
    if not h.categories or base_n == 0 or win_n == 0:
        return None
    best: tuple[float, int] | None = None
    for i in range(len(h.categories)):
        move = abs(h.counts[i] / win_n - h.baseline_counts[i] / base_n)
        if best is None or move > best[0]:
            best = (move, i)
    assert best is not None
    i = best[1]
    return h.categories[i], h.baseline_counts[i] / base_n, h.counts[i] / win_n


def _null_rate(f: FeatureResult, t: TestOutcome, h: FeatureHistogram | None) -> NullRateFinding:
    st = f.stats
    assert st.null_rate is not None and st.baseline_null_rate is not None
    assert st.null_rate_change is not None
    return NullRateFinding(
        baseline_null_rate=st.baseline_null_rate,
        null_rate=st.null_rate,
        change=st.null_rate_change,
        threshold=t.threshold,
        p_value_adjusted=t.p_value_adjusted,
        alpha=t.alpha,
        nulls=h.nulls if h else 0,
        missing=h.missing if h else 0,
        mismatched=h.mismatched if h else 0,
    )


def _unseen(f: FeatureResult, t: TestOutcome, h: FeatureHistogram | None) -> UnseenFinding:
    n = f.n
    values: tuple[UnseenValue, ...] = h.unseen_values if h else ()
    return UnseenFinding(
        share=t.effect,
        threshold=t.threshold,
        p_value_adjusted=t.p_value_adjusted,
        alpha=t.alpha,
        count=h.unseen if h else 0,
        values=tuple(UnseenShare(v.text, v.count, v.count / n) for v in values),
        values_complete=h.unseen_values_complete if h else False,
    )


def _out_of_range(h: FeatureHistogram) -> OutOfRangeFinding | None:
    n = sum(h.counts)
    below, above = h.counts[0], h.counts[-1]
    if n == 0 or (below + above) / n < OUT_OF_RANGE_SHARE:
        return None
    return OutOfRangeFinding(
        (below + above) / n, below, above, below / n, above / n, h.edges[0], h.edges[-1]
    )


# -- the sentence ------------------------------------------------------------------------


def summarize(name: str, findings: Sequence[Finding]) -> str:
    """``name: <finding>; <finding>...`` (see the module docstring)."""
    parts = [_say(f) for f in findings]
    return f"{name}: " + ("; ".join(parts) if parts else "drifted")


def _say(f: Finding) -> str:
    if isinstance(f, DistributionFinding):
        text = (
            f"distribution shifted, {f.effect_name.upper()} {_effect(f.effect)} "
            f"{'>' if f.effect > f.threshold else '>='} {_effect(f.threshold)}"
        )
        if f.baseline_median is not None and f.median is not None:
            text += f"; median {_where(f.baseline_median)} -> {_where(f.median)}"
        elif f.category is not None and f.baseline_share is not None and f.share is not None:
            text += f"; {f.category} {_pct(f.baseline_share)} -> {_pct(f.share)}"
        return text
    if isinstance(f, NullRateFinding):
        rates = f"null rate {_pct(f.baseline_null_rate)} -> {_pct(f.null_rate)}"
        if f.null_rate >= 1.0:
            return f"no usable value in any event ({rates})"
        cause = _null_cause(f)
        return rates + (f", {cause}" if cause else "")
    if isinstance(f, UnseenFinding):
        named = ", ".join(f"{v.text} {_pct(v.share)}" for v in f.values)
        if named and sum(v.count for v in f.values) < f.count:
            named += ", others"
        return f"{_pct(f.share)} of values are categories never seen in training" + (
            f" ({named})" if named else ""
        )
    sides = [
        f"{_pct(part)} {side}"
        for side, count, part in (
            ("below", f.below, f.below_share),
            ("above", f.above, f.above_share),
        )
        if count
    ]
    return (
        f"{_pct(f.share)} of values outside the training range "
        f"[{_num(f.training_min)}, {_num(f.training_max)}] ({', '.join(sides)})"
    )


def _null_cause(f: NullRateFinding) -> str:
    """The largest of the three ways a value is unusable, when the rate rose."""
    if f.change <= 0:
        return ""
    causes = (("mostly null", f.nulls), ("mostly absent", f.missing))
    cause, top = max((*causes, ("mostly of the wrong type", f.mismatched)), key=lambda c: c[1])
    return cause if top else ""


def _where(q: Quantile) -> str:
    if q.side == "below":
        return f"below {_num(q.value)} (the training min)"
    if q.side == "above":
        return f"above {_num(q.value)} (the training max)"
    return _num(q.value)


def _pct(x: float) -> str:
    p = 100 * x
    if p == 0 or p >= 10:
        return f"{p:.0f}%"
    if p >= 0.1:
        return f"{p:.1f}%"
    return f"{p:.1g}%"


def _effect(x: float) -> str:
    return f"{x:.2f}" if x >= 0.1 else f"{x:.2g}"


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"
