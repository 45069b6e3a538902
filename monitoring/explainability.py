"""Feature attribution drift: SHAP values of captured traffic against the baseline's ranking.

The live counterpart of the pipeline's ModelExplainabilityBaseline: the captured rows are
encoded as the model encodes them and explained with the same exact TreeSHAP
(`training.clarify.shap_values`), aggregated per raw feature into Clarify's ``analysis.json``.
For each explained output (``label0``, or each class) the ranking is compared with the
baseline's by Clarify's NDCG; a score below 0.9 is a violation written as the explainability
monitor writes them (``label``, ``metric_name: shap``, ``constraint_check_type:
feature_attribution_drift_check``, ``description``). Each feature's global SHAP value is the
CloudWatch metric ``feature_<f>`` with the monitor's dimensions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.core.names import EXPLAINABILITY_METRICS_NAMESPACE, feature_attribution_metric
from monitoring.capture import CaptureRecord, SkippedLine, input_rows
from monitoring.errors import MonitoringInputError
from monitoring.jsonio import write_json
from monitoring.metrics import MetricDatum
from training import clarify

VIOLATIONS_FILE = "constraint_violations.json"
ATTRIBUTION_DRIFT_CHECK = "feature_attribution_drift_check"
# Developer Guide, "Monitor Feature Attribution Drift": "if the NDCG value is below 0.90, we
# automatically raise an alert".
NDCG_THRESHOLD = 0.9
# The dimensions the managed monitor publishes with (Developer Guide, "CloudWatch Metrics for
# Feature Drift Analysis"): alarms written for it watch these values. The values here are exact
# TreeSHAP, not Kernel SHAP; the dimension names the metric stream, not the algorithm.
EXPLAINABILITY_METHOD = "KernelShap"
EXPECTED_VALUE_METRIC = "expected_value"


@dataclass(frozen=True)
class AttributionViolation:
    label: str
    description: str
    metric_name: str = "shap"
    constraint_check_type: str = ATTRIBUTION_DRIFT_CHECK

    def to_json(self) -> dict[str, str]:
        return {
            "label": self.label,
            "metric_name": self.metric_name,
            "constraint_check_type": self.constraint_check_type,
            "description": self.description,
        }


@dataclass
class ExplainabilityResult:
    analysis: dict[str, Any]
    ndcg: dict[str, float]  # per explained output (label0, or each class)
    violations: list[AttributionViolation]
    analysis_file: Path
    violations_file: Path
    records: int
    metrics: list[MetricDatum] = field(default_factory=list)
    baseline: dict[str, dict[str, float]] = field(default_factory=dict)  # label → feature → SHAP


def captured_columns(
    captures: Sequence[CaptureRecord], features: Sequence[str], skipped: list[SkippedLine]
) -> dict[str, list[str]]:
    """The captured requests' rows as text columns in the model's feature order."""
    columns: dict[str, list[str]] = {name: [] for name in features}
    for record in captures:
        if record.endpoint_input is None:
            continue
        try:
            rows = input_rows(record.endpoint_input)
        except (ValueError, TypeError) as error:
            skipped.append(
                SkippedLine(record.source, record.line, "request not decodable", str(error)[:200])
            )
            continue
        for row in rows:
            cells = [row.get(name) for name in features] if isinstance(row, dict) else row
            cells = list(cells) + [None] * (len(features) - len(cells))
            for name, cell in zip(features, cells, strict=False):
                columns[name].append("" if cell is None else str(cell).strip())
    return columns


def evaluate_explainability(
    captures: Sequence[CaptureRecord],
    out_dir: Path,
    *,
    model: clarify.EncodedModel,
    baseline: Mapping[str, Any] | None,
    method: str = "mean_abs",
    skipped: list[SkippedLine] | None = None,
) -> ExplainabilityResult:
    """Explain the captured rows; compare each output's ranking with ``baseline`` (an
    explainability ``analysis.json``); write analysis.json and constraint_violations.json."""
    columns = captured_columns(captures, model.features, skipped if skipped is not None else [])
    rows = len(next(iter(columns.values()))) if columns else 0
    if rows == 0:
        raise MonitoringInputError("no captured request to explain")
    values, expected = clarify.shap_values(model, clarify.encode_rows(model, columns))
    analysis = clarify.explanations_document(model, values, expected, method)
    ndcg = attribution_scores(baseline, analysis) if baseline else {}
    violations = [
        AttributionViolation(
            label, f"Feature attribution drift {score} exceeds threshold {NDCG_THRESHOLD}"
        )
        for label, score in ndcg.items()
        if score < NDCG_THRESHOLD
    ]
    out_dir = Path(out_dir)
    return ExplainabilityResult(
        analysis=analysis,
        ndcg=ndcg,
        violations=violations,
        analysis_file=write_json(out_dir / clarify.ANALYSIS_FILE, analysis),
        violations_file=write_json(
            out_dir / VIOLATIONS_FILE,
            {"version": clarify.VERSION, "violations": [v.to_json() for v in violations]},
        ),
        records=rows,
        metrics=attribution_metrics(analysis),
        baseline=global_shap(baseline) if baseline else {},
    )


def global_shap(document: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """``{label: {feature: global SHAP}}`` of an explainability analysis.json."""
    method = (document.get("explanations") or {}).get(clarify.EXPLANATION_METHOD) or {}
    return {
        str(label): {str(k): float(v) for k, v in (body.get("global_shap_values") or {}).items()}
        for label, body in method.items()
    }


def attribution_scores(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, float]:
    """Clarify's NDCG per output present in both documents."""
    before, after = global_shap(baseline), global_shap(current)
    if not before:
        raise MonitoringInputError(
            "the explainability baseline has no explanations.kernel_shap global_shap_values"
        )
    return {
        label: clarify.attribution_ndcg(values, after[label])
        for label, values in before.items()
        if label in after
    }


def attribution_metrics(analysis: Mapping[str, Any]) -> list[MetricDatum]:
    """``feature_<f>`` (ValueType GlobalShapValues) and the expected value, per output."""
    found = []
    method = (analysis.get("explanations") or {}).get(clarify.EXPLANATION_METHOD) or {}
    for label, body in method.items():
        base = (("ExplainabilityMethod", EXPLAINABILITY_METHOD), ("Label", str(label)))
        for feature, value in (body.get("global_shap_values") or {}).items():
            found.append(
                MetricDatum(
                    EXPLAINABILITY_METRICS_NAMESPACE,
                    feature_attribution_metric(feature),
                    float(value),
                    dimensions=(*base, ("ValueType", "GlobalShapValues")),
                )
            )
        if body.get("expected_value") is not None:
            found.append(
                MetricDatum(
                    EXPLAINABILITY_METRICS_NAMESPACE,
                    EXPECTED_VALUE_METRIC,
                    float(body["expected_value"]),
                    dimensions=(*base, ("ValueType", "ExpectedValue")),
                )
            )
    return found
