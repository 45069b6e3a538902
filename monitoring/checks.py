"""The analyzer's data-quality checks: current profiles against baseline constraints.

Semantics follow the managed analyzer's documentation (Schema for Constraints / Violations):

- ``data_type_check``: share of present values that fit the baseline type (Integral: whole
  numbers; Fractional: numbers) below ``datatype_check_threshold``.
- ``completeness_check``: current non-null share below the feature's ``completeness``. The
  constraint is the baseline's observed share, so a margin of three binomial standard errors
  of the current sample, ``3 * sqrt(c (1 - c) / m)``, keeps sampling noise from firing it
  (the margin is zero when the baseline was complete: any missing value then counts).
- ``baseline_drift_check``: distance between baseline and current distributions above
  ``comparison_threshold`` (``categorical_comparison_threshold`` for String features). Numeric:
  the L-infinity distance between the two KLL CDFs, evaluated at every retained item of
  either sketch (Deequ's ``numericalDistance``); categorical: the largest difference between
  category frequencies (``LInfinity``) or the chi-squared p-value (``ChiSquared``; drift when it
  falls below the threshold). ``Robust`` subtracts the two-sample Kolmogorov-Smirnov critical
  value ``1.8 * sqrt((n + m) / (n m))`` (alpha = 0.003); ``Simple`` does not.
- ``missing_column_check`` / ``extra_column_check``: a baseline column no record provides / a
  column the baseline does not have.
- ``categorical_values_check``: share of present values inside the feature's
  ``string_constraints.domains`` below ``domain_content_threshold``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monitoring.errors import MonitoringInputError
from monitoring.jsonio import read_json
from monitoring.kll import linf_simple, robust_correction, sample_from_json
from monitoring.profile import ColumnProfile

COMPLETENESS_SIGMAS = 3.0


@dataclass(frozen=True)
class Violation:
    """One entry of constraint_violations.json."""

    feature_name: str
    constraint_check_type: str
    description: str

    def to_json(self) -> dict[str, str]:
        return {
            "feature_name": self.feature_name,
            "constraint_check_type": self.constraint_check_type,
            "description": self.description,
        }


@dataclass(frozen=True)
class FeatureComparison:
    """What was measured for one feature (for metrics and the report)."""

    name: str
    baseline_type: str | None
    current_type: str | None
    completeness: float | None
    drift: float | None
    conforming: float | None
    in_domain: float | None


def _value(value: float, detail: str) -> str:
    return f"Value: {value} does not meet the constraint requirement! {detail}"


def evaluate(
    baseline_statistics: Mapping[str, Any],
    constraints: Mapping[str, Any],
    current: Mapping[str, ColumnProfile],
    provided: set[str],
) -> tuple[list[Violation], list[FeatureComparison]]:
    """All checks for every feature; violations in feature order, then check order."""
    config = constraints.get("monitoring_config") or {}
    evaluate_on = str(config.get("evaluate_constraints", "Enabled")) == "Enabled"
    distribution = config.get("distribution_constraints") or {}
    compare_on = str(distribution.get("perform_comparison", "Enabled")) == "Enabled"
    threshold = float(distribution.get("comparison_threshold", 0.1))
    categorical_threshold = float(distribution.get("categorical_comparison_threshold", threshold))
    robust = str(distribution.get("comparison_method", "Robust")).lower() in (
        "robust",
        "linf_robust",
    )
    categorical_method = str(distribution.get("categorical_drift_method", "LInfinity"))
    datatype_threshold = float(config.get("datatype_check_threshold", 1.0))
    domain_threshold = float(config.get("domain_content_threshold", 1.0))

    baseline_features = {f["name"]: f for f in baseline_statistics.get("features", [])}
    constraint_features = [f for f in constraints.get("features", [])]
    expected = [f["name"] for f in constraint_features] or list(baseline_features)
    violations: list[Violation] = []
    comparisons: list[FeatureComparison] = []
    current_columns = [name for name in current if name in provided]

    for spec in constraint_features or [{"name": n} for n in expected]:
        name = spec["name"]
        stats = baseline_features.get(name, {})
        baseline_type = spec.get("inferred_type") or stats.get("inferred_type")
        profile = current.get(name)
        if profile is None or name not in provided:
            violations.append(
                Violation(
                    name,
                    "missing_column_check",
                    "There are missing columns in current dataset. Number of columns in current "
                    f"dataset: {len(current_columns)}, Number of columns in baseline constraints: "
                    f"{len(expected)}",
                )
            )
            comparisons.append(FeatureComparison(name, baseline_type, None, None, None, None, None))
            continue
        found: list[Violation] = []
        conforming = profile.conforming_fraction(str(baseline_type))
        if baseline_type in ("Integral", "Fractional") and conforming < datatype_threshold:
            found.append(
                Violation(
                    name,
                    "data_type_check",
                    _value(
                        conforming,
                        f"{profile.present - round(conforming * profile.present)} of "
                        f"{profile.present} values are not {baseline_type}.",
                    ),
                )
            )
        completeness = profile.completeness
        required = spec.get("completeness")
        if required is not None:
            required = float(required)
            rows = profile.present + profile.missing
            margin = (
                COMPLETENESS_SIGMAS * math.sqrt(required * (1 - required) / rows) if rows else 0
            )
            if completeness < required - margin:
                found.append(
                    Violation(
                        name,
                        "completeness_check",
                        _value(
                            completeness,
                            f"{profile.missing} of {rows} values are missing; the baseline "
                            f"completeness is {required:.4f}.",
                        ),
                    )
                )
        in_domain = None
        domains = (spec.get("string_constraints") or {}).get("domains")
        if domains and profile.present:
            counts = profile.category_counts()
            allowed = set(map(str, domains))
            unknown = {v: c for v, c in counts.items() if v not in allowed}
            in_domain = 1.0 - sum(unknown.values()) / profile.present
            if in_domain < domain_threshold:
                examples = ", ".join(
                    repr(v) for v in sorted(unknown, key=lambda v: -unknown[v])[:3]
                )
                found.append(
                    Violation(
                        name,
                        "categorical_values_check",
                        _value(in_domain, f"Values outside the baseline domain: {examples}."),
                    )
                )
        drift = None
        if compare_on:
            if "numerical_statistics" in stats and baseline_type in ("Integral", "Fractional"):
                drift = _numeric_drift(stats, profile, robust)
                limit = threshold
            elif "string_statistics" in stats:
                drift = _categorical_drift(stats, profile, robust, categorical_method)
                limit = categorical_threshold
            if drift is not None:
                drifted = (
                    drift < limit
                    if categorical_method == "ChiSquared" and "string_statistics" in stats
                    else drift > limit
                )
                if drifted:
                    found.append(
                        Violation(
                            name,
                            "baseline_drift_check",
                            f"Baseline drift distance: {drift} exceeds threshold: {limit}",
                        )
                    )
        comparisons.append(
            FeatureComparison(
                name,
                baseline_type,
                profile.inferred_type,
                completeness,
                drift,
                conforming,
                in_domain,
            )
        )
        violations.extend(found)

    known = set(expected)
    for name in current_columns:
        if name not in known:
            violations.append(
                Violation(
                    name,
                    "extra_column_check",
                    "There are extra columns in current dataset. Number of columns in current "
                    f"dataset: {len(current_columns)}, Number of columns in baseline constraints: "
                    f"{len(expected)}",
                )
            )
    return (violations if evaluate_on else []), comparisons


def _numeric_drift(stats: Mapping[str, Any], profile: ColumnProfile, robust: bool) -> float | None:
    sketch = stats["numerical_statistics"].get("distribution", {}).get("kll", {}).get("sketch")
    if not sketch or profile.count == 0:
        return None
    baseline = sample_from_json(sketch)
    current = profile.numeric_sample()
    distance = linf_simple(baseline, current)
    return robust_correction(distance, baseline.total, current.total) if robust else distance


def _categorical_drift(
    stats: Mapping[str, Any], profile: ColumnProfile, robust: bool, method: str
) -> float | None:
    buckets = (
        stats["string_statistics"].get("distribution", {}).get("categorical", {}).get("buckets")
    )
    current = profile.category_counts()
    if not buckets or not current:
        return None
    baseline = {str(b["value"]): float(b["count"]) for b in buckets}
    if method == "ChiSquared":
        return _chi_squared_p_value(current, baseline)
    n, m = sum(baseline.values()), float(sum(current.values()))
    keys = set(baseline) | set(current)
    distance = max(abs(baseline.get(k, 0.0) / n - current.get(k, 0) / m) for k in keys)
    return robust_correction(distance, n, m) if robust else distance


def _chi_squared_p_value(current: Mapping[str, int], baseline: Mapping[str, float]) -> float | None:
    """Goodness of fit of the current counts to the baseline frequencies (known categories)."""
    from scipy.special import chdtrc  # lazy: scipy costs import time only when asked for

    observed = np.asarray([float(current.get(k, 0)) for k in baseline])
    if observed.sum() == 0 or len(baseline) < 2:
        return None
    frequencies = np.asarray(list(baseline.values()))
    expected = frequencies / frequencies.sum() * observed.sum()
    statistic = float(np.sum(np.square(observed - expected) / expected))
    return float(chdtrc(len(baseline) - 1, statistic))


def read_violations(path: Path) -> list[Violation]:
    """The entries of a constraint_violations.json (ours or a managed execution's)."""
    document = read_json(path, what="constraint violations")
    entries = document.get("violations")
    if not isinstance(entries, list):
        raise MonitoringInputError(f"{path} has no 'violations' list")
    return [
        Violation(
            str(entry.get("feature_name", "")),
            str(entry.get("constraint_check_type", "")),
            str(entry.get("description", "")),
        )
        for entry in entries
        if isinstance(entry, dict)
    ]
