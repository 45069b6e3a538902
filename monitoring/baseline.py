"""Baselines: statistics.json and suggested constraints.json from a dataset.

This is what the pipeline's DataQualityBaseline (QualityCheck) step produces when run
locally, in the managed analyzer's format, so the same two files configure a monitoring
schedule on AWS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitoring.dataset import DatasetProfile, profile_dataset
from monitoring.errors import MonitoringInputError
from monitoring.jsonio import write_json

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
# A String feature gets a value domain (categorical_values_check) only when it looks
# categorical: few distinct values, each seen more than once on average.
DOMAIN_MAX_DISTINCT = 50

# The managed analyzer's suggested monitoring_config (as its baselining jobs write it: the
# fixture in shared/fixtures/model-monitor), plus the two optional categorical settings at
# their documented defaults: categorical distance = L-infinity, same threshold as numeric.
DEFAULT_MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}


@dataclass(frozen=True)
class BaselineResult:
    """Where the two baseline files were written, and how many rows they describe."""

    statistics: Path
    constraints: Path
    item_count: int


def write_baseline(
    data: Path | str, out_dir: Path, *, header: bool = True, exclude_columns: Sequence[str] = ()
) -> BaselineResult:
    """Profile ``data`` (CSV or parquet) and write statistics.json + constraints.json.

    ``exclude_columns`` (a raw table's id and target: never sent to the endpoint) are left out,
    so the baseline describes what the endpoint receives.
    """
    profile = profile_dataset(Path(data), header=header)
    if profile.rows == 0:
        raise MonitoringInputError(f"{data} has no records to baseline")
    statistics = statistics_document(profile, exclude_columns)
    constraints = suggest_constraints(statistics)
    out_dir = Path(out_dir)
    return BaselineResult(
        statistics=write_json(out_dir / STATISTICS_FILE, statistics, compact=True),
        constraints=write_json(out_dir / CONSTRAINTS_FILE, constraints),
        item_count=profile.rows,
    )


def statistics_document(
    profile: DatasetProfile, exclude_columns: Sequence[str] = ()
) -> dict[str, Any]:
    """statistics.json for a profiled dataset (without ``exclude_columns``)."""
    return {
        "version": 0.0,
        "dataset": {"item_count": profile.rows},
        "features": [
            column.statistics()
            for name, column in profile.columns.items()
            if name not in exclude_columns
        ],
    }


def suggest_constraints(statistics: dict[str, Any]) -> dict[str, Any]:
    """constraints.json suggested from statistics, as the analyzer's baselining job does."""
    item_count = float(statistics["dataset"]["item_count"])
    features = []
    for feature in statistics["features"]:
        stats = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
        present = float(stats.get("common", {}).get("num_present", 0))
        entry: dict[str, Any] = {
            "name": feature["name"],
            "inferred_type": feature["inferred_type"],
            "completeness": present / item_count if item_count else 0.0,
        }
        if "numerical_statistics" in feature:
            entry["num_constraints"] = {"is_non_negative": stats["min"] >= 0}
        elif "string_statistics" in feature:
            buckets = stats["distribution"]["categorical"]["buckets"]
            distinct = len(buckets)
            if 0 < distinct <= DOMAIN_MAX_DISTINCT and distinct * 2 <= present:
                entry["string_constraints"] = {"domains": sorted(b["value"] for b in buckets)}
        features.append(entry)
    return {"version": 0.0, "features": features, "monitoring_config": DEFAULT_MONITORING_CONFIG}
