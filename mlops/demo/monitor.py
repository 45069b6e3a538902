"""Model Monitor on one traffic window, as the four monitoring schedules' executions run it.

Ground truth is uploaded first, as a labelling process would (the true outcome of each row
the window sent, joined to the captured inferences by eventId); then data quality, model
quality, bias drift and feature attribution drift run on the window's captured data against
the approved package's own baselines (`mlops.demo.baselines`), each monitor's metrics go to
(local) CloudWatch under its own schedule's dimensions (what the stack's alarms watch), and the
findings are written as one HTML report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlops.core.names import MONITOR_TYPES, feature_drift_metric
from mlops.core.settings import ProjectSettings
from mlops.demo.baselines import PackageBaselines
from mlops.demo.results import (
    BiasFinding,
    Finding,
    MonitoringResult,
    QualityViolation,
    TrafficResult,
)
from mlops.demo.traffic import TrafficBatch

REPORT_FILE = "report.html"
GROUND_TRUTH_FILE = "ground_truth.jsonl"
_DRIFT_METRIC = feature_drift_metric("")


def monitor_window(
    settings: ProjectSettings,
    batch: TrafficBatch,
    traffic: TrafficResult,
    *,
    baselines: PackageBaselines,
    model_archive: Path,
    out_dir: Path,
    s3: Any,
    cloudwatch: Any,
) -> MonitoringResult:
    """Analyse the window's capture against the package's baselines with every monitor."""
    from monitoring.analysis import analyze
    from monitoring.bias import evaluate_bias
    from monitoring.capture import read_capture, read_ground_truth
    from monitoring.explainability import evaluate_explainability
    from monitoring.ground_truth import label_by_rows, write_ground_truth
    from monitoring.jsonio import read_json
    from monitoring.monitors import BIAS_DIR, EXPLAINABILITY_DIR, load_model
    from monitoring.report import write_analysis_report

    schema = settings.dataset
    problem_type = schema.require_problem_type()
    captures = read_capture(traffic.capture_uri, s3_client=s3)
    ground_truth = write_ground_truth(
        label_by_rows(captures, batch.labels_by_row(), batch.features),
        out_dir / GROUND_TRUTH_FILE,
    )
    result = analyze(
        baselines.data_quality,
        out_dir,
        capture=traffic.capture_uri,
        s3_client=s3,
        ground_truth=ground_truth,
        model_quality_baseline=baselines.model_quality,
        positive_label=schema.positive_label or "",
        prediction_threshold=settings.prediction_threshold,
        problem_type=problem_type,
    )
    model = load_model(model_archive)
    metrics = list(result.metrics)
    bias = None
    if baselines.bias is not None:
        spec = model.spec
        bias = evaluate_bias(
            captures,
            read_ground_truth(ground_truth),
            out_dir / BIAS_DIR,
            config=read_json(baselines.bias / "analysis_config.json", what="bias config"),
            constraints=read_json(baselines.bias / "constraints.json", what="bias constraints"),
            problem_type=problem_type,
            positive_label=str(spec.get("positive_label") or ""),
            negative_label=str(spec.get("negative_label") or ""),
            prediction_threshold=settings.prediction_threshold,
            model=model,
        )
        metrics += bias.metrics
    explained = None
    if baselines.explainability is not None:
        explained = evaluate_explainability(
            captures,
            out_dir / EXPLAINABILITY_DIR,
            model=model,
            baseline=read_json(
                baselines.explainability / "analysis.json", what="explainability baseline"
            ),
            method=settings.monitoring.explainability.agg_method,
        )
        metrics += explained.metrics
    published = publish_by_schedule(settings, cloudwatch, metrics)
    report = write_analysis_report(
        result,
        out_dir / REPORT_FILE,
        title=f"Model Monitor: {batch.name} window",
        bias=bias,
        explainability=explained,
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
        bias_violations=tuple(
            BiasFinding(v.facet, v.facet_value, v.metric_name, v.description)
            for v in (bias.violations if bias is not None else [])
        ),
        attribution=(
            {label: round(score, 4) for label, score in explained.ndcg.items()}
            if explained is not None
            else None
        ),
        attribution_violations=tuple(
            v.description for v in (explained.violations if explained is not None else [])
        ),
    )


def publish_by_schedule(settings: ProjectSettings, cloudwatch: Any, metrics: Sequence[Any]) -> int:
    """Publish each monitor's metrics under its own ``MonitoringSchedule`` dimension."""
    from monitoring.metrics import publish_by_monitor

    return publish_by_monitor(
        cloudwatch,
        metrics,
        endpoint=settings.names.endpoint,
        schedules={monitor: settings.names.schedule(monitor) for monitor in MONITOR_TYPES},
    )
