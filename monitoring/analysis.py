"""A monitoring execution, locally: current data against a baseline → violations + metrics.

Current data is a dataset file or endpoint data capture (a directory or an ``s3://`` prefix).
Writes what a managed monitoring execution writes into its output: the current
``statistics.json`` and ``constraint_violations.json`` (and, with ground truth, the model
quality ones under ``model_quality/``), and returns the same plus the CloudWatch metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.core.problem_types import ProblemType
from monitoring.baseline import CONSTRAINTS_FILE, STATISTICS_FILE
from monitoring.capture import (
    CaptureRecord,
    SkippedLine,
    input_rows,
    read_capture,
    read_ground_truth,
    rows_to_columns,
    summarize_skipped,
)
from monitoring.checks import FeatureComparison, Violation, evaluate
from monitoring.dataset import profile_dataset
from monitoring.errors import MonitoringInputError
from monitoring.jsonio import read_json, write_json
from monitoring.metrics import MetricDatum, data_quality_metrics, model_quality_metrics
from monitoring.model_quality import ModelQualityResult, evaluate_model_quality, load_constraints
from monitoring.profile import ColumnProfile, text_array

VIOLATIONS_FILE = "constraint_violations.json"


@dataclass(frozen=True)
class Baseline:
    statistics: dict[str, Any]
    constraints: dict[str, Any]

    @property
    def feature_order(self) -> list[str]:
        return [f["name"] for f in self.statistics.get("features", [])]


def load_baseline(baseline_dir: Path) -> Baseline:
    """statistics.json + constraints.json from a directory (ours or the managed analyzer's)."""
    baseline_dir = Path(baseline_dir)
    if not baseline_dir.is_dir():
        raise MonitoringInputError(f"baseline directory not found: {baseline_dir}")
    statistics = read_json(baseline_dir / STATISTICS_FILE, what="baseline statistics")
    constraints = read_json(baseline_dir / CONSTRAINTS_FILE, what="baseline constraints")
    if not isinstance(statistics.get("features"), list) or not isinstance(
        constraints.get("features"), list
    ):
        raise MonitoringInputError(
            f"{baseline_dir}: statistics.json and constraints.json need a 'features' list"
        )
    return Baseline(statistics=statistics, constraints=constraints)


@dataclass
class AnalysisResult:
    """Everything a monitoring execution produced."""

    violations: list[Violation]
    metrics: list[MetricDatum]
    comparisons: list[FeatureComparison]
    record_count: int
    statistics: Path
    violations_file: Path
    baseline: Baseline
    current_statistics: dict[str, Any]
    # Capture and ground-truth lines left out (not UTF-8, not JSON, no captureData, a
    # payload that does not decode), each naming its file, line and reason.
    skipped: list[SkippedLine] = field(default_factory=list)
    model_quality: ModelQualityResult | None = None
    metric_values: dict[str, float] = field(default_factory=dict)

    @property
    def skipped_records(self) -> int:
        return len(self.skipped)

    @property
    def violation_count(self) -> int:
        extra = len(self.model_quality.violations) if self.model_quality else 0
        return len(self.violations) + extra


def analyze(
    baseline_dir: Path,
    out_dir: Path,
    *,
    data: Path | None = None,
    capture: Path | str | None = None,
    header: bool = True,
    s3_client: Any = None,
    ground_truth: Path | str | None = None,
    model_quality_baseline: Path | None = None,
    positive_label: str = "Yes",
    prediction_threshold: float = 0.5,
    problem_type: ProblemType = "binary",
    exclude_columns: Sequence[str] = (),
) -> AnalysisResult:
    """Check ``data`` (a dataset file) or ``capture`` (capture records) against a baseline.

    Capture CSV rows carry no header: columns take the baseline's feature order. A dataset's
    ``exclude_columns`` (its id and target columns: what the endpoint never receives) are left
    out of the comparison. With ``ground_truth`` the captured predictions are also joined with
    labels for model quality of ``problem_type`` (against ``model_quality_baseline`` when
    given).
    """
    if (data is None) == (capture is None):
        raise MonitoringInputError("give exactly one of a data file or a capture location")
    baseline = load_baseline(baseline_dir)
    out_dir = Path(out_dir)
    records: list[CaptureRecord] = []
    skipped: list[SkippedLine] = []
    if data is not None:
        strings = [
            f["name"] for f in baseline.statistics["features"] if f.get("inferred_type") == "String"
        ]
        profile = profile_dataset(
            Path(data),
            header=header,
            names=None if header else baseline.feature_order,
            text=strings,
        )
        profiles, provided, rows = profile.columns, set(profile.columns), profile.rows
        profiles = {n: p for n, p in profiles.items() if n not in set(exclude_columns)}
        provided -= set(exclude_columns)
    else:
        assert capture is not None
        records = read_capture(capture, s3_client=s3_client, skipped=skipped)
        profiles, provided, rows = _profile_capture(records, baseline.feature_order, skipped)
    if rows == 0:
        source = data if data is not None else capture
        left_out = "; ".join(summarize_skipped(skipped, examples=3))
        raise MonitoringInputError(
            f"no records to analyse in {source}"
            + (f" ({len(skipped)} left out: {left_out})" if skipped else "")
        )

    violations, comparisons = evaluate(
        baseline.statistics, baseline.constraints, profiles, provided
    )
    ordered = [profiles[n] for n in baseline.feature_order if n in profiles and n in provided]
    ordered += [p for n, p in profiles.items() if n in provided and n not in baseline.feature_order]
    current_statistics = {
        "version": 0.0,
        "dataset": {"item_count": rows},
        "features": [p.statistics() for p in ordered],
    }
    metrics = data_quality_metrics(comparisons, profiles)
    result = AnalysisResult(
        violations=violations,
        metrics=metrics,
        comparisons=comparisons,
        record_count=rows,
        statistics=write_json(out_dir / STATISTICS_FILE, current_statistics, compact=True),
        violations_file=write_json(
            out_dir / VIOLATIONS_FILE, {"violations": [v.to_json() for v in violations]}
        ),
        baseline=baseline,
        current_statistics=current_statistics,
        skipped=skipped,
    )
    if ground_truth is not None:
        if not records:
            raise MonitoringInputError(
                "model quality needs captured predictions: give a capture location"
            )
        labels = read_ground_truth(ground_truth, s3_client=s3_client, skipped=result.skipped)
        if not labels:
            raise MonitoringInputError(f"no ground-truth records in {ground_truth}")
        constraints = load_constraints(model_quality_baseline) if model_quality_baseline else None
        result.model_quality = evaluate_model_quality(
            records,
            labels,
            out_dir / "model_quality",
            constraints=constraints,
            positive_label=positive_label,
            threshold=prediction_threshold,
            problem_type=problem_type,
        )
        result.metrics = [*metrics, *model_quality_metrics(_finite(result.model_quality.metrics))]
    result.metric_values = {m.name: float(m.value) for m in result.metrics if m.value is not None}
    return result


def _finite(values: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in values.items() if v == v}


def _profile_capture(
    records: list[CaptureRecord], feature_order: list[str], skipped: list[SkippedLine]
) -> tuple[dict[str, ColumnProfile], set[str], int]:
    rows = []
    for record in records:
        if record.endpoint_input is None:
            skipped.append(SkippedLine(record.source, record.line, "no endpointInput data"))
            continue
        try:
            rows.extend(input_rows(record.endpoint_input))
        except (ValueError, TypeError) as error:
            # one malformed request must not hide the drift in the others
            skipped.append(
                SkippedLine(record.source, record.line, "request not decodable", str(error)[:200])
            )
    columns, provided = rows_to_columns(rows, feature_order)
    profiles: dict[str, ColumnProfile] = {}
    for name, values in columns.items():
        profile = ColumnProfile(name)
        profile.update(text_array(values))
        profiles[name] = profile
    return profiles, provided, len(rows)
