"""Model Monitor on one traffic window, as a monitoring schedule's execution would run it.

Ground truth is uploaded first, as a labelling process would (the true outcome of each row
the window sent, joined to the captured inferences by eventId); then data quality and model
quality run on the window's captured data, the metrics go to (local) CloudWatch under the
dimensions the stack's alarms watch, and the findings are written as an HTML report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.core.names import feature_drift_metric
from mlops.core.settings import ProjectSettings
from mlops.demo.results import Finding, MonitoringResult, QualityViolation, TrafficResult
from mlops.demo.traffic import TrafficBatch

REPORT_FILE = "report.html"
GROUND_TRUTH_FILE = "ground_truth.jsonl"
_DRIFT_METRIC = feature_drift_metric("")


def monitor_window(
    settings: ProjectSettings,
    batch: TrafficBatch,
    traffic: TrafficResult,
    *,
    baseline_dir: Path,
    evaluation: Path,
    out_dir: Path,
    s3: Any,
    cloudwatch: Any,
) -> MonitoringResult:
    """Analyse the window's capture against the baseline and the model's evaluation."""
    from monitoring.analysis import analyze
    from monitoring.capture import read_capture
    from monitoring.ground_truth import label_by_rows, write_ground_truth
    from monitoring.metrics import publish
    from monitoring.report import write_analysis_report

    captures = read_capture(traffic.capture_uri, s3_client=s3)
    ground_truth = write_ground_truth(
        label_by_rows(captures, batch.labels_by_row(), batch.features),
        out_dir / GROUND_TRUTH_FILE,
    )
    result = analyze(
        baseline_dir,
        out_dir,
        capture=traffic.capture_uri,
        s3_client=s3,
        ground_truth=ground_truth,
        model_quality_baseline=evaluation,
        positive_label=settings.dataset.positive_label or "",
        prediction_threshold=settings.prediction_threshold,
        problem_type=settings.dataset.require_problem_type(),
    )
    published = publish(
        cloudwatch,
        result.metrics,
        endpoint=settings.names.endpoint,
        schedule=settings.names.monitoring_schedule,
    )
    report = write_analysis_report(
        result, out_dir / REPORT_FILE, title=f"Model Monitor: {batch.name} window"
    )
    quality = result.model_quality
    return MonitoringResult(
        records=result.record_count,
        findings=tuple(
            Finding(v.feature_name, v.constraint_check_type, v.description)
            for v in result.violations
        ),
        model_quality=(
            {key: round(float(value), 4) for key, value in quality.metrics.items()}
            if quality is not None
            else None
        ),
        model_quality_violations=tuple(
            QualityViolation(v.metric_name, v.description)
            for v in (quality.violations if quality is not None else [])
        ),
        drift={
            key.removeprefix(_DRIFT_METRIC): round(value, 4)
            for key, value in result.metric_values.items()
            if key.startswith(_DRIFT_METRIC)
        },
        metrics_published=published,
        violations_file=result.violations_file,
        report=report,
    )
